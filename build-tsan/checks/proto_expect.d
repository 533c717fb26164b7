build-tsan/checks/proto_expect.o: checks/proto_expect.c checks/probe.h \
 checks/check.h common/addr.h config/config.h checks/reply.h common/buf.h \
 common/util.h
checks/probe.h:
checks/check.h:
common/addr.h:
config/config.h:
checks/reply.h:
common/buf.h:
common/util.h:
