build-tsan/config/cfg_errors.o: config/cfg_errors.c config/cfg_internal.h \
 config/config.h common/addr.h common/util.h
config/cfg_internal.h:
config/config.h:
common/addr.h:
common/util.h:
