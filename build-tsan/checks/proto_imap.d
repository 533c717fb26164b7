build-tsan/checks/proto_imap.o: checks/proto_imap.c checks/probe.h \
 checks/check.h common/addr.h config/config.h checks/reply.h common/buf.h
checks/probe.h:
checks/check.h:
common/addr.h:
config/config.h:
checks/reply.h:
common/buf.h:
