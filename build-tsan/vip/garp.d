build-tsan/vip/garp.o: vip/garp.c vip/garp.h vip/peer_vip.h common/addr.h \
 common/util.h
vip/garp.h:
vip/peer_vip.h:
common/addr.h:
common/util.h:
