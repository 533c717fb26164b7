build-tsan/lb/persist.o: lb/persist.c lb/persist.h common/addr.h \
 common/util.h
lb/persist.h:
common/addr.h:
common/util.h:
