build-tsan/checks/agent.o: checks/agent.c checks/agent.h lb/backend.h \
 common/addr.h config/config.h checks/probe.h checks/check.h \
 checks/reply.h common/buf.h common/log.h common/text.h common/util.h \
 lb/lb.h lb/persist.h lb/service.h lb/sched.h
checks/agent.h:
lb/backend.h:
common/addr.h:
config/config.h:
checks/probe.h:
checks/check.h:
checks/reply.h:
common/buf.h:
common/log.h:
common/text.h:
common/util.h:
lb/lb.h:
lb/persist.h:
lb/service.h:
lb/sched.h:
