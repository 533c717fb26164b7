build-tsan/ctl/ctl_parse.o: ctl/ctl_parse.c ctl/ctl.h common/buf.h
ctl/ctl.h:
common/buf.h:
