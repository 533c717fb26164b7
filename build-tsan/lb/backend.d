build-tsan/lb/backend.o: lb/backend.c lb/backend.h common/addr.h \
 config/config.h lb/service.h lb/sched.h common/log.h common/util.h
lb/backend.h:
common/addr.h:
config/config.h:
lb/service.h:
lb/sched.h:
common/log.h:
common/util.h:
