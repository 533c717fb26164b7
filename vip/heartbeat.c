/* heartbeat.c - the advert thread (see heartbeat.h). */
#include "vip/heartbeat.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/privs.h"
#include "common/util.h"

struct heartbeat {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;            /* wakes the thread early: stop, new interval */
	bool stop;
	/* under mu */
	struct heartbeat_conf conf;
	struct addr dest[HEARTBEAT_MAX_DEST];
	uint8_t key[PEER_KEY_MAX];
	struct peer_msg tmpl[HEARTBEAT_MAX_MSGS];
	size_t ntmpl;                 /* 0: inactive */
	/* shared */
	_Atomic uint64_t *seq;
	_Atomic uint64_t sent;
};

static void ts_add_ms(struct timespec *ts, uint32_t ms)
{
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* One advert to every destination; called with mu held. */
static size_t send_msg(struct heartbeat *hb, const struct peer_msg *tmpl)
{
	uint8_t buf[PEER_MSG_LEN];
	struct peer_msg m = *tmpl;
	size_t n = 0;

	m.seq = atomic_fetch_add(hb->seq, 1) + 1;
	peer_msg_encode(&m, hb->key, hb->conf.keylen, buf);
	for (size_t i = 0; i < hb->conf.ndest; i++)
		if (sendto(hb->conf.sock, buf, sizeof(buf), MSG_DONTWAIT,
			   (const struct sockaddr *)&hb->dest[i].ss, hb->dest[i].len) >= 0)
			n++;
	return n;
}

static void send_all(struct heartbeat *hb)
{
	for (size_t i = 0; i < hb->ntmpl; i++)
		atomic_fetch_add(&hb->sent, send_msg(hb, &hb->tmpl[i]));
}

size_t heartbeat_send(struct heartbeat *hb, const struct peer_msg *m)
{
	size_t n;

	pthread_mutex_lock(&hb->mu);
	n = send_msg(hb, m);
	pthread_mutex_unlock(&hb->mu);
	return n;
}

static void *heartbeat_main(void *arg)
{
	struct heartbeat *hb = arg;
	struct timespec next;
	char err[128];

	/* started before the privilege drop, whose bounding-set limit applies
	 * per thread: limit ours the same way (it fails harmlessly when vigild
	 * runs without the right to, and then has nothing to limit) */
	privs_drop_bounding(err, sizeof(err));

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&hb->mu);
	while (!hb->stop) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec ||
		    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
			send_all(hb);
			ts_add_ms(&next, hb->conf.interval_ms);
			/* asleep far too long (suspend): start afresh rather than burst */
			if (now.tv_sec > next.tv_sec + 1)
				next = now;
			continue;
		}
		pthread_cond_timedwait(&hb->cv, &hb->mu, &next);
	}
	pthread_mutex_unlock(&hb->mu);
	return NULL;
}

static void copy_conf(struct heartbeat *hb, const struct heartbeat_conf *c)
{
	hb->conf = *c;
	hb->conf.ndest = c->ndest < HEARTBEAT_MAX_DEST ? c->ndest : HEARTBEAT_MAX_DEST;
	memcpy(hb->dest, c->dest, hb->conf.ndest * sizeof(hb->dest[0]));
	hb->conf.keylen = c->keylen < sizeof(hb->key) ? c->keylen : sizeof(hb->key);
	memcpy(hb->key, c->key, hb->conf.keylen);
	hb->conf.dest = NULL;
	hb->conf.key = NULL;
	if (hb->conf.interval_ms == 0)
		hb->conf.interval_ms = 100;
}

/* Create the thread, real-time if the system lets us. 0 or an errno. */
static int spawn(struct heartbeat *hb, bool *rt)
{
	pthread_attr_t attr;
	struct sched_param sp = { .sched_priority = HEARTBEAT_RT_PRIO };
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);   /* signals stay with the loop */
	pthread_attr_init(&attr);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &sp);
	rc = pthread_create(&hb->thread, &attr, heartbeat_main, hb);
	*rt = rc == 0;
	if (rc == EPERM || rc == EINVAL)
		rc = pthread_create(&hb->thread, NULL, heartbeat_main, hb);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

struct heartbeat *heartbeat_start(const struct heartbeat_conf *c, _Atomic uint64_t *seq,
				  bool *rt, char *err, size_t errlen)
{
	struct heartbeat *hb = xcalloc(1, sizeof(*hb));
	pthread_condattr_t ca;
	int rc;

	pthread_mutex_init(&hb->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hb->cv, &ca);
	pthread_condattr_destroy(&ca);
	hb->seq = seq;
	copy_conf(hb, c);
	rc = spawn(hb, rt);
	if (rc != 0) {
		snprintf(err, errlen, "advert thread: %s", strerror(rc));
		pthread_cond_destroy(&hb->cv);
		pthread_mutex_destroy(&hb->mu);
		free(hb);
		return NULL;
	}
	return hb;
}

void heartbeat_configure(struct heartbeat *hb, const struct heartbeat_conf *c)
{
	pthread_mutex_lock(&hb->mu);
	copy_conf(hb, c);
	pthread_cond_signal(&hb->cv);
	pthread_mutex_unlock(&hb->mu);
}

void heartbeat_set(struct heartbeat *hb, const struct peer_msg *tmpls, size_t n)
{
	pthread_mutex_lock(&hb->mu);
	hb->ntmpl = n < HEARTBEAT_MAX_MSGS ? n : HEARTBEAT_MAX_MSGS;
	memcpy(hb->tmpl, tmpls, hb->ntmpl * sizeof(hb->tmpl[0]));
	pthread_mutex_unlock(&hb->mu);
}

uint64_t heartbeat_sent(const struct heartbeat *hb)
{
	return atomic_load(&((struct heartbeat *)hb)->sent);
}

void heartbeat_stop(struct heartbeat *hb)
{
	if (!hb)
		return;
	pthread_mutex_lock(&hb->mu);
	hb->stop = true;
	pthread_cond_signal(&hb->cv);
	pthread_mutex_unlock(&hb->mu);
	pthread_join(hb->thread, NULL);
	pthread_cond_destroy(&hb->cv);
	pthread_mutex_destroy(&hb->mu);
	free(hb);
}
