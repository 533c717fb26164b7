build-tsan/common/privs.o: common/privs.c common/privs.h
common/privs.h:
