build-tsan/notify/notify.o: notify/notify.c notify/notify.h common/addr.h \
 common/buf.h config/config.h checks/probe.h checks/check.h \
 checks/reply.h common/log.h common/util.h notify/mail.h
notify/notify.h:
common/addr.h:
common/buf.h:
config/config.h:
checks/probe.h:
checks/check.h:
checks/reply.h:
common/log.h:
common/util.h:
notify/mail.h:
