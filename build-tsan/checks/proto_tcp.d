build-tsan/checks/proto_tcp.o: checks/proto_tcp.c checks/probe.h \
 checks/check.h common/addr.h config/config.h checks/reply.h common/buf.h
checks/probe.h:
checks/check.h:
common/addr.h:
config/config.h:
checks/reply.h:
common/buf.h:
