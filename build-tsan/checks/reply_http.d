build-tsan/checks/reply_http.o: checks/reply_http.c checks/reply.h \
 common/util.h
checks/reply.h:
common/util.h:
