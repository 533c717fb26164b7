build-tsan/lb/sched_rr.o: lb/sched_rr.c lb/sched.h config/config.h \
 common/addr.h common/util.h lb/backend.h
lb/sched.h:
config/config.h:
common/addr.h:
common/util.h:
lb/backend.h:
