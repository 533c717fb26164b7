build-tsan/vip/heartbeat.o: vip/heartbeat.c vip/heartbeat.h \
 vip/peer_msg.h common/addr.h vip/peer_vip.h common/privs.h common/util.h
vip/heartbeat.h:
vip/peer_msg.h:
common/addr.h:
vip/peer_vip.h:
common/privs.h:
common/util.h:
