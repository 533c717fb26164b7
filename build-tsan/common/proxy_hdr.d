build-tsan/common/proxy_hdr.o: common/proxy_hdr.c common/proxy_hdr.h \
 common/addr.h
common/proxy_hdr.h:
common/addr.h:
