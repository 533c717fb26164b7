build-tsan/lb/service.o: lb/service.c lb/service.h config/config.h \
 common/addr.h lb/backend.h lb/sched.h lb/persist.h common/log.h \
 common/util.h
lb/service.h:
config/config.h:
common/addr.h:
lb/backend.h:
lb/sched.h:
lb/persist.h:
common/log.h:
common/util.h:
