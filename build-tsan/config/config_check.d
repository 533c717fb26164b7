build-tsan/config/config_check.o: config/config_check.c \
 config/cfg_internal.h config/config.h common/addr.h common/util.h
config/cfg_internal.h:
config/config.h:
common/addr.h:
common/util.h:
