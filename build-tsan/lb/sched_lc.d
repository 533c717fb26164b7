build-tsan/lb/sched_lc.o: lb/sched_lc.c lb/sched.h config/config.h \
 common/addr.h common/util.h lb/backend.h
lb/sched.h:
config/config.h:
common/addr.h:
common/util.h:
lb/backend.h:
