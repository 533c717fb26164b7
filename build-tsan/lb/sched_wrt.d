build-tsan/lb/sched_wrt.o: lb/sched_wrt.c lb/sched.h config/config.h \
 common/addr.h common/util.h lb/backend.h
lb/sched.h:
config/config.h:
common/addr.h:
common/util.h:
lb/backend.h:
