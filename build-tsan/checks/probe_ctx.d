build-tsan/checks/probe_ctx.o: checks/probe_ctx.c checks/probe.h \
 checks/check.h common/addr.h config/config.h checks/reply.h common/buf.h \
 common/util.h
checks/probe.h:
checks/check.h:
common/addr.h:
config/config.h:
checks/reply.h:
common/buf.h:
common/util.h:
