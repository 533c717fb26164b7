build-tsan/checks/proto_smtp.o: checks/proto_smtp.c checks/probe.h \
 checks/check.h common/addr.h config/config.h checks/reply.h common/buf.h
checks/probe.h:
checks/check.h:
common/addr.h:
config/config.h:
checks/reply.h:
common/buf.h:
