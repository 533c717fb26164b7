build-tsan/ctl/status_checks.o: ctl/status_checks.c ctl/status.h \
 common/buf.h checks/check.h common/addr.h config/config.h common/text.h \
 common/util.h lb/backend.h lb/service.h lb/sched.h
ctl/status.h:
common/buf.h:
checks/check.h:
common/addr.h:
config/config.h:
common/text.h:
common/util.h:
lb/backend.h:
lb/service.h:
lb/sched.h:
