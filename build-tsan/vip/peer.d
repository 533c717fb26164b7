build-tsan/vip/peer.o: vip/peer.c vip/peer.h config/config.h \
 common/addr.h vip/addr_nl.h vip/peer_vip.h vip/failover.h common/buf.h \
 vip/garp.h vip/heartbeat.h vip/peer_msg.h vip/peer_table.h vip/watcher.h \
 common/log.h common/util.h
vip/peer.h:
config/config.h:
common/addr.h:
vip/addr_nl.h:
vip/peer_vip.h:
vip/failover.h:
common/buf.h:
vip/garp.h:
vip/heartbeat.h:
vip/peer_msg.h:
vip/peer_table.h:
vip/watcher.h:
common/log.h:
common/util.h:
