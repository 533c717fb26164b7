build-tsan/checks/check.o: checks/check.c checks/check.h common/addr.h \
 config/config.h checks/check_state.h checks/probe.h checks/reply.h \
 common/buf.h common/log.h common/util.h
checks/check.h:
common/addr.h:
config/config.h:
checks/check_state.h:
checks/probe.h:
checks/reply.h:
common/buf.h:
common/log.h:
common/util.h:
