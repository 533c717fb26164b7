build-tsan/config/config_lint.o: config/config_lint.c \
 config/cfg_internal.h config/config.h common/addr.h
config/cfg_internal.h:
config/config.h:
common/addr.h:
