build-tsan/lb/sched_fixed.o: lb/sched_fixed.c lb/sched.h config/config.h \
 common/addr.h common/util.h lb/backend.h
lb/sched.h:
config/config.h:
common/addr.h:
common/util.h:
lb/backend.h:
