build-tsan/config/cfg_regex.o: config/cfg_regex.c config/config.h \
 common/addr.h common/util.h
config/config.h:
common/addr.h:
common/util.h:
