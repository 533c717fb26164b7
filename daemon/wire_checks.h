/* wire_checks.h - the daemon's wiring between checks/ and lb/: the iterator
 * over the live backends that checker_sync() takes, and the hooks through
 * which verdicts reach backend_set_check_status() and lb's events reach the
 * checks. Neither module includes the other. */
#ifndef VIGIL_WIRE_CHECKS_H
#define VIGIL_WIRE_CHECKS_H

#include <ev.h>

struct checker;
struct lb;

/* A checker on loop whose verdicts go to the backends' states. */
struct checker *wire_checker_new(struct ev_loop *loop);
/* Make c's checks match lb's live services (after every lb_apply()), and
 * wire each backend's hooks to its checks. */
void wire_checks_sync(struct checker *c, struct lb *lb);

#endif
