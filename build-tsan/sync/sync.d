build-tsan/sync/sync.o: sync/sync.c sync/sync_internal.h sync/sync.h \
 common/addr.h common/buf.h sync/sync_msg.h common/log.h common/text.h \
 common/util.h config/config.h
sync/sync_internal.h:
sync/sync.h:
common/addr.h:
common/buf.h:
sync/sync_msg.h:
common/log.h:
common/text.h:
common/util.h:
config/config.h:
