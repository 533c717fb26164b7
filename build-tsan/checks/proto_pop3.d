build-tsan/checks/proto_pop3.o: checks/proto_pop3.c checks/probe.h \
 checks/check.h common/addr.h config/config.h checks/reply.h common/buf.h
checks/probe.h:
checks/check.h:
common/addr.h:
config/config.h:
checks/reply.h:
common/buf.h:
