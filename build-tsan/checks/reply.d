build-tsan/checks/reply.o: checks/reply.c checks/reply.h common/text.h
checks/reply.h:
common/text.h:
