build-tsan/lb/sched.o: lb/sched.c lb/sched.h config/config.h \
 common/addr.h lb/backend.h
lb/sched.h:
config/config.h:
common/addr.h:
lb/backend.h:
