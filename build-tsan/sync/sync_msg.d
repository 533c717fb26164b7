build-tsan/sync/sync_msg.o: sync/sync_msg.c sync/sync_msg.h common/buf.h
sync/sync_msg.h:
common/buf.h:
