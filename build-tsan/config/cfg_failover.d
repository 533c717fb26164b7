build-tsan/config/cfg_failover.o: config/cfg_failover.c \
 config/cfg_internal.h config/config.h common/addr.h common/util.h
config/cfg_internal.h:
config/config.h:
common/addr.h:
common/util.h:
