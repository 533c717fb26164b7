/* util.h - small helpers every module uses. */
#ifndef VIGIL_UTIL_H
#define VIGIL_UTIL_H

#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that cannot fail: abort with a message on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Monotonic clock in milliseconds. */
uint64_t now_ms(void);
/* Monotonic clock in microseconds. */
uint64_t now_us(void);
/* Wall clock in seconds since the epoch (for status: "since", "last_change"). */
double wall_now(void);

/* Set O_NONBLOCK and FD_CLOEXEC; 0 or -1 with errno. */
int fd_set_nonblock(int fd);

/* True when err from connect() is this node's, not the peer's: no fd,
 * memory, buffer or source port here, or a local policy refusing it. */
bool connect_errno_is_local(int err);

#endif
