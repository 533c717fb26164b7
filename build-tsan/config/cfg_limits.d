build-tsan/config/cfg_limits.o: config/cfg_limits.c config/config.h \
 common/addr.h
config/config.h:
common/addr.h:
