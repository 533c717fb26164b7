build-tsan/lb/sched_wrr.o: lb/sched_wrr.c lb/sched.h config/config.h \
 common/addr.h common/util.h lb/backend.h
lb/sched.h:
config/config.h:
common/addr.h:
common/util.h:
lb/backend.h:
