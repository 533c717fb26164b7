build-tsan/checks/agent_parse.o: checks/agent_parse.c checks/agent.h \
 lb/backend.h common/addr.h config/config.h common/text.h
checks/agent.h:
lb/backend.h:
common/addr.h:
config/config.h:
common/text.h:
