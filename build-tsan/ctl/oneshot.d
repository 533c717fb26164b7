build-tsan/ctl/oneshot.o: ctl/oneshot.c ctl/oneshot.h common/buf.h \
 common/log.h common/util.h
ctl/oneshot.h:
common/buf.h:
common/log.h:
common/util.h:
