build-tsan/checks/reply_expect.o: checks/reply_expect.c checks/reply.h \
 common/text.h common/util.h config/config.h common/addr.h
checks/reply.h:
common/text.h:
common/util.h:
config/config.h:
common/addr.h:
