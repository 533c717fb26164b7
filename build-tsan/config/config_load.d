build-tsan/config/config_load.o: config/config_load.c \
 config/cfg_internal.h config/config.h common/addr.h common/log.h \
 common/util.h
config/cfg_internal.h:
config/config.h:
common/addr.h:
common/log.h:
common/util.h:
