build-tsan/vip/peer_msg.o: vip/peer_msg.c vip/peer_msg.h common/addr.h \
 vip/peer_vip.h common/text.h
vip/peer_msg.h:
common/addr.h:
vip/peer_vip.h:
common/text.h:
