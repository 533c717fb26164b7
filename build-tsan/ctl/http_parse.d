build-tsan/ctl/http_parse.o: ctl/http_parse.c ctl/http.h common/addr.h
ctl/http.h:
common/addr.h:
