build-tsan/ctl/status_svc.o: ctl/status_svc.c ctl/status.h common/buf.h \
 common/addr.h common/text.h common/util.h ctl/prom.h config/config.h \
 checks/check.h lb/persist.h lb/backend.h lb/service.h lb/sched.h
ctl/status.h:
common/buf.h:
common/addr.h:
common/text.h:
common/util.h:
ctl/prom.h:
config/config.h:
checks/check.h:
lb/persist.h:
lb/backend.h:
lb/service.h:
lb/sched.h:
