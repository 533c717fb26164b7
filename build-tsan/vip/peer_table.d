build-tsan/vip/peer_table.o: vip/peer_table.c vip/peer_table.h \
 common/addr.h vip/peer_msg.h vip/peer_vip.h
vip/peer_table.h:
common/addr.h:
vip/peer_msg.h:
vip/peer_vip.h:
