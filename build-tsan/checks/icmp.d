build-tsan/checks/icmp.o: checks/icmp.c checks/probe.h checks/check.h \
 common/addr.h config/config.h checks/reply.h common/buf.h \
 checks/icmp_reply.h common/log.h common/util.h
checks/probe.h:
checks/check.h:
common/addr.h:
config/config.h:
checks/reply.h:
common/buf.h:
checks/icmp_reply.h:
common/log.h:
common/util.h:
