build-tsan/checks/probe.o: checks/probe.c checks/probe.h checks/check.h \
 common/addr.h config/config.h checks/reply.h common/buf.h \
 common/proxy_hdr.h common/util.h
checks/probe.h:
checks/check.h:
common/addr.h:
config/config.h:
checks/reply.h:
common/buf.h:
common/proxy_hdr.h:
common/util.h:
