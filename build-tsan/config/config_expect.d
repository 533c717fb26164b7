build-tsan/config/config_expect.o: config/config_expect.c \
 config/cfg_internal.h config/config.h common/addr.h common/util.h
config/cfg_internal.h:
config/config.h:
common/addr.h:
common/util.h:
