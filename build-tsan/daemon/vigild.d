build-tsan/daemon/vigild.o: daemon/vigild.c daemon/vigild.h common/buf.h \
 config/config.h common/addr.h ctl/ctl.h common/version.h \
 daemon/transparent.h daemon/vigild_sync.h common/privs.h checks/check.h \
 checks/agent.h lb/backend.h common/events.h common/log.h common/util.h \
 ctl/http.h daemon/wire_checks.h daemon/sdnotify.h lb/lb.h lb/persist.h \
 lb/service.h lb/sched.h notify/notify.h sync/sync.h sync/sync_msg.h \
 vip/failover.h
daemon/vigild.h:
common/buf.h:
config/config.h:
common/addr.h:
ctl/ctl.h:
common/version.h:
daemon/transparent.h:
daemon/vigild_sync.h:
common/privs.h:
checks/check.h:
checks/agent.h:
lb/backend.h:
common/events.h:
common/log.h:
common/util.h:
ctl/http.h:
daemon/wire_checks.h:
daemon/sdnotify.h:
lb/lb.h:
lb/persist.h:
lb/service.h:
lb/sched.h:
notify/notify.h:
sync/sync.h:
sync/sync_msg.h:
vip/failover.h:
