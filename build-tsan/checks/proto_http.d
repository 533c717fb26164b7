build-tsan/checks/proto_http.o: checks/proto_http.c checks/probe.h \
 checks/check.h common/addr.h config/config.h checks/reply.h common/buf.h
checks/probe.h:
checks/check.h:
common/addr.h:
config/config.h:
checks/reply.h:
common/buf.h:
