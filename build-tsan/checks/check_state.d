build-tsan/checks/check_state.o: checks/check_state.c \
 checks/check_state.h config/config.h common/addr.h
checks/check_state.h:
config/config.h:
common/addr.h:
