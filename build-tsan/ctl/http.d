build-tsan/ctl/http.o: ctl/http.c ctl/http.h common/addr.h common/util.h \
 common/version.h ctl/ctl.h common/buf.h ctl/oneshot.h ctl/status.h
ctl/http.h:
common/addr.h:
common/util.h:
common/version.h:
ctl/ctl.h:
common/buf.h:
ctl/oneshot.h:
ctl/status.h:
