build-tsan/daemon/main.o: daemon/main.c daemon/vigild.h common/buf.h \
 config/config.h common/addr.h ctl/ctl.h common/version.h common/log.h
daemon/vigild.h:
common/buf.h:
config/config.h:
common/addr.h:
ctl/ctl.h:
common/version.h:
common/log.h:
