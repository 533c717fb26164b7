build-tsan/vip/watcher.o: vip/watcher.c vip/watcher.h common/log.h \
 common/privs.h vip/addr_nl.h vip/peer_vip.h common/addr.h
vip/watcher.h:
common/log.h:
common/privs.h:
vip/addr_nl.h:
vip/peer_vip.h:
common/addr.h:
