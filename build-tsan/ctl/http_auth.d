build-tsan/ctl/http_auth.o: ctl/http_auth.c ctl/http.h common/addr.h
ctl/http.h:
common/addr.h:
