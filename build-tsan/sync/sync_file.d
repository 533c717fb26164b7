build-tsan/sync/sync_file.o: sync/sync_file.c sync/sync.h common/addr.h \
 common/buf.h sync/sync_msg.h common/util.h
sync/sync.h:
common/addr.h:
common/buf.h:
sync/sync_msg.h:
common/util.h:
