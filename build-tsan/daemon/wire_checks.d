build-tsan/daemon/wire_checks.o: daemon/wire_checks.c \
 daemon/wire_checks.h checks/check.h common/addr.h config/config.h \
 lb/backend.h lb/lb.h lb/persist.h lb/service.h lb/sched.h
daemon/wire_checks.h:
checks/check.h:
common/addr.h:
config/config.h:
lb/backend.h:
lb/lb.h:
lb/persist.h:
lb/service.h:
lb/sched.h:
