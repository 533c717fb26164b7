build-tsan/ctl/dashboard.o: ctl/dashboard.c ctl/http.h common/addr.h
ctl/http.h:
common/addr.h:
