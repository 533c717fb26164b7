build-tsan/ctl/status.o: ctl/status.c ctl/status.h common/buf.h \
 checks/check.h common/addr.h config/config.h common/events.h \
 common/util.h common/version.h ctl/ctl.h ctl/http.h ctl/oneshot.h \
 ctl/prom.h lb/lb.h lb/persist.h lb/service.h lb/backend.h lb/sched.h \
 sync/sync.h sync/sync_msg.h vip/failover.h
ctl/status.h:
common/buf.h:
checks/check.h:
common/addr.h:
config/config.h:
common/events.h:
common/util.h:
common/version.h:
ctl/ctl.h:
ctl/http.h:
ctl/oneshot.h:
ctl/prom.h:
lb/lb.h:
lb/persist.h:
lb/service.h:
lb/backend.h:
lb/sched.h:
sync/sync.h:
sync/sync_msg.h:
vip/failover.h:
