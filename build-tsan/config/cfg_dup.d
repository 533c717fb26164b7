build-tsan/config/cfg_dup.o: config/cfg_dup.c config/cfg_internal.h \
 config/config.h common/addr.h common/util.h
config/cfg_internal.h:
config/config.h:
common/addr.h:
common/util.h:
