build-tsan/config/yaml_tree.o: config/yaml_tree.c config/cfg_internal.h \
 config/config.h common/addr.h common/util.h
config/cfg_internal.h:
config/config.h:
common/addr.h:
common/util.h:
