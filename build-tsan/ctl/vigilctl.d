build-tsan/ctl/vigilctl.o: ctl/vigilctl.c common/buf.h common/util.h \
 config/config.h common/addr.h ctl/ctl.h common/version.h
common/buf.h:
common/util.h:
config/config.h:
common/addr.h:
ctl/ctl.h:
common/version.h:
