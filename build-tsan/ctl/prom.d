build-tsan/ctl/prom.o: ctl/prom.c ctl/prom.h common/buf.h
ctl/prom.h:
common/buf.h:
