build-tsan/lb/pipes.o: lb/pipes.c lb/lb_internal.h common/addr.h lb/lb.h \
 config/config.h lb/persist.h lb/service.h lb/backend.h lb/sched.h \
 common/util.h
lb/lb_internal.h:
common/addr.h:
lb/lb.h:
config/config.h:
lb/persist.h:
lb/service.h:
lb/backend.h:
lb/sched.h:
common/util.h:
