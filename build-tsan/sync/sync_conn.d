build-tsan/sync/sync_conn.o: sync/sync_conn.c sync/sync_internal.h \
 sync/sync.h common/addr.h common/buf.h sync/sync_msg.h common/log.h \
 common/util.h
sync/sync_internal.h:
sync/sync.h:
common/addr.h:
common/buf.h:
sync/sync_msg.h:
common/log.h:
common/util.h:
