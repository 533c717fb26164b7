build-tsan/checks/icmp_reply.o: checks/icmp_reply.c checks/icmp_reply.h
checks/icmp_reply.h:
