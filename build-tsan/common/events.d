build-tsan/common/events.o: common/events.c common/events.h common/text.h \
 common/util.h
common/events.h:
common/text.h:
common/util.h:
