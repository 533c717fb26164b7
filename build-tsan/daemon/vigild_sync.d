build-tsan/daemon/vigild_sync.o: daemon/vigild_sync.c \
 daemon/vigild_sync.h daemon/vigild.h common/buf.h config/config.h \
 common/addr.h ctl/ctl.h common/version.h common/events.h common/log.h \
 common/util.h lb/lb.h lb/persist.h lb/service.h lb/backend.h lb/sched.h \
 sync/sync.h sync/sync_msg.h vip/peer_msg.h vip/peer_vip.h
daemon/vigild_sync.h:
daemon/vigild.h:
common/buf.h:
config/config.h:
common/addr.h:
ctl/ctl.h:
common/version.h:
common/events.h:
common/log.h:
common/util.h:
lb/lb.h:
lb/persist.h:
lb/service.h:
lb/backend.h:
lb/sched.h:
sync/sync.h:
sync/sync_msg.h:
vip/peer_msg.h:
vip/peer_vip.h:
