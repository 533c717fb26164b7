build-tsan/ctl/ctl.o: ctl/ctl.c ctl/ctl.h common/buf.h common/util.h \
 ctl/oneshot.h ctl/status.h common/events.h common/log.h lb/lb.h \
 config/config.h common/addr.h lb/persist.h lb/service.h lb/backend.h \
 lb/sched.h
ctl/ctl.h:
common/buf.h:
common/util.h:
ctl/oneshot.h:
ctl/status.h:
common/events.h:
common/log.h:
lb/lb.h:
config/config.h:
common/addr.h:
lb/persist.h:
lb/service.h:
lb/backend.h:
lb/sched.h:
