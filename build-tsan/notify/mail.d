build-tsan/notify/mail.o: notify/mail.c notify/mail.h common/addr.h \
 checks/probe.h checks/check.h config/config.h checks/reply.h \
 common/buf.h common/util.h
notify/mail.h:
common/addr.h:
checks/probe.h:
checks/check.h:
config/config.h:
checks/reply.h:
common/buf.h:
common/util.h:
