build-tsan/lb/sched_maglev.o: lb/sched_maglev.c lb/sched.h \
 config/config.h common/addr.h common/util.h lb/backend.h
lb/sched.h:
config/config.h:
common/addr.h:
common/util.h:
lb/backend.h:
