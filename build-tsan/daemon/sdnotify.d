build-tsan/daemon/sdnotify.o: daemon/sdnotify.c daemon/sdnotify.h \
 daemon/vigild.h common/buf.h config/config.h common/addr.h ctl/ctl.h \
 common/version.h common/log.h common/util.h lb/lb.h lb/persist.h \
 lb/service.h lb/backend.h lb/sched.h
daemon/sdnotify.h:
daemon/vigild.h:
common/buf.h:
config/config.h:
common/addr.h:
ctl/ctl.h:
common/version.h:
common/log.h:
common/util.h:
lb/lb.h:
lb/persist.h:
lb/service.h:
lb/backend.h:
lb/sched.h:
