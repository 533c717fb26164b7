build-tsan/config/cfg_walk.o: config/cfg_walk.c config/cfg_internal.h \
 config/config.h common/addr.h common/util.h
config/cfg_internal.h:
config/config.h:
common/addr.h:
common/util.h:
