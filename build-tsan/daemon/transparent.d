build-tsan/daemon/transparent.o: daemon/transparent.c \
 daemon/transparent.h config/config.h common/addr.h daemon/vigild.h \
 common/buf.h ctl/ctl.h common/version.h common/log.h common/util.h \
 lb/lb.h lb/persist.h lb/service.h lb/backend.h lb/sched.h vip/rules_nl.h
daemon/transparent.h:
config/config.h:
common/addr.h:
daemon/vigild.h:
common/buf.h:
ctl/ctl.h:
common/version.h:
common/log.h:
common/util.h:
lb/lb.h:
lb/persist.h:
lb/service.h:
lb/backend.h:
lb/sched.h:
vip/rules_nl.h:
