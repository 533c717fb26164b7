/* sync_conn.c - the sync channel: listener, connections to the peers, frames. */
#include "sync/sync_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/log.h"
#include "common/util.h"

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents);

static void conn_close(struct sync_conn *c, const char *why)
{
	struct sync *s = c->s;
	struct sync_peer *p = &s->peers[c->peer];

	ev_io_stop(s->loop, &c->rio);
	ev_io_stop(s->loop, &c->wio);
	close(c->fd);
	TAILQ_REMOVE(&s->conns, c, link);
	if (p->conn == c) {
		p->conn = NULL;
		p->next_connect = ev_now(s->loop) + SYNC_RECONNECT_S;
		log_warning("sync: peer %s (%s) disconnected: %s", p->node, p->ip, why);
	} else {
		log_debug("sync: connection %s %s closed: %s", c->outbound ? "to" : "from",
			  p->ip, why);
	}
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

void sync_conn_send(struct sync_conn *c, enum sync_type type, const struct buf *payload)
{
	const uint8_t *nonce = type == SYNC_HELLO ? NULL : c->peer_nonce;

	if (c->closing)
		return;
	sync_frame_encode(&c->out, type, c->tx_seq++, payload ? payload->data : NULL,
			  payload ? payload->len : 0, c->s->key, c->s->keylen, nonce);
	c->last_tx = ev_now(c->s->loop);
	if (c->out.len - c->out_off > SYNC_OUT_MAX)
		c->closing = true;
	if (!c->connecting)
		ev_io_start(c->s->loop, &c->wio);
}

static void send_hello(struct sync_conn *c)
{
	struct sync_hello h;
	struct buf b;

	memcpy(h.nonce, c->my_nonce, sizeof(h.nonce));
	snprintf(h.node, sizeof(h.node), "%s", c->s->node);
	snprintf(h.version, sizeof(h.version), "%s", c->s->version);
	buf_init(&b);
	sync_hello_encode(&b, &h);
	sync_conn_send(c, SYNC_HELLO, &b);
	buf_free(&b);
}

static struct sync_conn *conn_new(struct sync *s, int fd, int peer, bool outbound)
{
	struct sync_conn *c = xcalloc(1, sizeof(*c));

	c->s = s;
	c->fd = fd;
	c->peer = peer;
	c->outbound = outbound;
	c->opened = c->last_rx = ev_now(s->loop);
	buf_init(&c->in);
	buf_init(&c->out);
	if (RAND_bytes(c->my_nonce, sizeof(c->my_nonce)) != 1)
		fatal("sync: no random bytes for a challenge");
	ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	return c;
}

static void sock_opts(int fd)
{
	int one = 1, idle = 5, intvl = 2, cnt = 3;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* ---- strangers and rejections ---- */

static int peer_of(const struct sync *s, const struct addr *a)
{
	for (size_t i = 0; i < s->npeers; i++)
		if (!s->peers[i].self && addr_equal_ip(&s->peers[i].addr, a))
			return (int)i;
	return -1;
}

/* A connection from an address that is no peer: counted, logged once a
 * minute per address. */
static void stranger(struct sync *s, const struct addr *a)
{
	struct sync_stranger *slot = &s->strangers[0];
	char ip[ADDR_STRLEN];
	ev_tstamp now = ev_now(s->loop);

	s->rejected[SYNC_REJ_STRANGER]++;
	for (size_t i = 0; i < SYNC_STRANGER_SLOTS; i++) {
		struct sync_stranger *t = &s->strangers[i];

		if (t->ip.len && addr_equal_ip(&t->ip, a)) {
			slot = t;
			break;
		}
		if (t->logged < slot->logged)
			slot = t;
	}
	if (slot->ip.len && addr_equal_ip(&slot->ip, a) && now - slot->logged < SYNC_LOG_EVERY_S)
		return;
	slot->ip = *a;
	slot->logged = now;
	log_warning("sync: connection from %s refused: not a configured peer (%" PRIu64
		    " refused so far)", addr_ip_str(a, ip, sizeof(ip)),
		    s->rejected[SYNC_REJ_STRANGER]);
}

static size_t pending_from(const struct sync *s, int peer)
{
	size_t n = 0;
	const struct sync_conn *c;

	TAILQ_FOREACH(c, &s->conns, link)
		if (c->peer == peer && !c->authed)
			n++;
	return n;
}

static void listen_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sync *s = container_of(w, struct sync, lio);

	for (int i = 0; i < 16; i++) {
		struct addr a = { .len = sizeof(a.ss) };
		int fd = accept4(s->lfd, (struct sockaddr *)&a.ss, &a.len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		int peer;
		struct sync_conn *c;

		if (fd < 0)
			return;
		peer = peer_of(s, &a);
		if (peer < 0) {
			close(fd);
			stranger(s, &a);
			continue;
		}
		if (pending_from(s, peer) >= SYNC_PENDING_MAX) {
			close(fd);
			continue;
		}
		sock_opts(fd);
		c = conn_new(s, fd, peer, false);
		ev_io_start(loop, &c->rio);
		send_hello(c);
	}
}

int sync_listen_start(struct sync *s, const struct addr *where, char *err, size_t errlen)
{
	struct addr a;
	int one = 1, fd;
	char ip[ADDR_STRLEN];

	if (where) {
		a = *where;
	} else {
		/* every address, of the peers' family */
		int fam = s->npeers ? s->peers[0].addr.ss.ss_family : AF_INET;

		memset(&a, 0, sizeof(a));
		a.ss.ss_family = (sa_family_t)fam;
		a.len = fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	}
	addr_set_port(&a, s->port);
	fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a.ss, a.len) < 0 || listen(fd, 16) < 0) {
		snprintf(err, errlen, "sync port %s:%u: %s", addr_ip_str(&a, ip, sizeof(ip)),
			 s->port, strerror(errno));
		close(fd);
		return -1;
	}
	s->lfd = fd;
	ev_io_init(&s->lio, listen_cb, fd, EV_READ);
	ev_io_start(s->loop, &s->lio);
	return 0;
}

/* ---- connecting out ---- */

static void connect_peer(struct sync *s, int peer, const struct addr *source)
{
	struct sync_peer *p = &s->peers[peer];
	int fd = socket(p->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sync_conn *c;

	p->next_connect = ev_now(s->loop) + SYNC_RECONNECT_S;
	if (fd < 0)
		return;
	if (source && source->ss.ss_family == p->addr.ss.ss_family) {
		struct addr src = *source;

		addr_set_port(&src, 0);
		if (bind(fd, (struct sockaddr *)&src.ss, src.len) < 0) {
			close(fd);
			return;
		}
	}
	sock_opts(fd);
	if (connect(fd, (struct sockaddr *)&p->addr.ss, p->addr.len) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return;
	}
	c = conn_new(s, fd, peer, true);
	c->connecting = true;
	ev_io_start(s->loop, &c->wio);
	send_hello(c);
}

/* The address connections go out from: the listener's, when it has one. */
static const struct addr *listen_source(const struct sync *s, struct addr *out)
{
	out->len = sizeof(out->ss);
	if (getsockname(s->lfd, (struct sockaddr *)&out->ss, &out->len) < 0)
		return NULL;
	if (out->ss.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&out->ss)->sin_addr.s_addr == htonl(INADDR_ANY))
		return NULL;
	if (out->ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&out->ss)->sin6_addr))
		return NULL;
	return out;
}

static bool has_outbound(const struct sync *s, int peer)
{
	const struct sync_conn *c;

	TAILQ_FOREACH(c, &s->conns, link)
		if (c->peer == peer && c->outbound)
			return true;
	return false;
}

void sync_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sync *s = container_of(w, struct sync, tick);
	struct sync_conn *c, *next;
	ev_tstamp now = ev_now(loop);
	struct addr src;
	const struct addr *source = listen_source(s, &src);

	sync_persist_flush(s);

	for (c = TAILQ_FIRST(&s->conns); c; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->closing)
			conn_close(c, "send queue full");
		else if (!c->authed && now - c->opened > SYNC_HANDSHAKE_S)
			conn_close(c, "no authenticated handshake in time");
		else if (c->authed && now - c->last_rx > SYNC_SILENT_S)
			conn_close(c, "peer silent");
		else if (c->authed && now - c->last_tx >= SYNC_PING_S)
			sync_conn_send(c, SYNC_PING, NULL);
	}
	for (size_t i = 0; i < s->npeers; i++) {
		struct sync_peer *p = &s->peers[i];

		if (!p->self && !p->conn && now >= p->next_connect && !has_outbound(s, (int)i))
			connect_peer(s, (int)i, source);
	}
}

/* ---- reading frames ---- */

/* Of two authenticated connections to one peer, keep the one opened by the
 * node with the smaller name (both nodes decide alike). true: keep c. */
static bool keep_new(const struct sync *s, const struct sync_conn *c,
		     const struct sync_conn *old)
{
	const char *opener_c = c->outbound ? s->node : c->peer_node;
	const char *opener_old = old->outbound ? s->node : old->peer_node;

	if (c->outbound == old->outbound)
		return true;
	return strcmp(opener_c, opener_old) < 0;
}

/* c's first authenticated frame arrived. -1: close c. */
static int conn_authed(struct sync *s, struct sync_conn *c)
{
	struct sync_peer *p = &s->peers[c->peer];

	c->authed = true;
	if (strcmp(c->peer_node, s->node) == 0) {
		log_error("sync: peer %s calls itself %s like this node: names must differ",
			  p->ip, c->peer_node);
		c->why = "same node name";
		return -1;
	}
	if (p->conn) {
		if (!keep_new(s, c, p->conn)) {
			c->why = "the pair keeps the other connection";
			return -1;
		}
		struct sync_conn *old = p->conn;

		p->conn = NULL;
		conn_close(old, "the pair keeps the other connection");
		p->conn = c;
	} else {
		p->conn = c;
		memcpy(p->node, c->peer_node, sizeof(p->node));
		memcpy(p->version, c->peer_version, sizeof(p->version));
		log_notice("sync: peer %s (%s) connected, vigil %s", p->node, p->ip, p->version);
	}
	memcpy(p->node, c->peer_node, sizeof(p->node));
	memcpy(p->version, c->peer_version, sizeof(p->version));
	sync_on_authed(s, c);
	return 0;
}

static int conn_hello(struct sync *s, struct sync_conn *c, const struct sync_frame *f)
{
	struct sync_hello h;
	char err[160];
	struct buf b;

	if (sync_hello_decode(f->payload, f->len, &h, err, sizeof(err)) < 0) {
		s->rejected[SYNC_REJ_MALFORMED]++;
		sync_log_reject(s, &s->peers[c->peer], SYNC_REJ_MALFORMED, err);
		return -1;
	}
	memcpy(c->peer_nonce, h.nonce, sizeof(c->peer_nonce));
	memcpy(c->peer_node, h.node, sizeof(c->peer_node));
	memcpy(c->peer_version, h.version, sizeof(c->peer_version));
	c->got_hello = true;
	/* our first authenticated frame answers the peer's challenge */
	buf_init(&b);
	sync_state_payload(s, &b);
	sync_conn_send(c, SYNC_STATE, &b);
	buf_free(&b);
	return 0;
}

/* Handle every whole frame in c->in. -1: close c. */
static int conn_frames(struct sync *s, struct sync_conn *c, size_t *need)
{
	struct sync_frame f;
	size_t used = 0;
	enum sync_reject why;
	enum sync_frame_result r;

	r = sync_frame_decode((const uint8_t *)c->in.data, c->in.len, s->key, s->keylen,
			      c->got_hello ? c->my_nonce : NULL, c->rx_seq, &f, &used, &why);
	if (r == SYNC_FRAME_MORE) {
		*need = c->in.len < SYNC_HDR_LEN ? SYNC_HDR_LEN - c->in.len :
			SYNC_HDR_LEN + (size_t)((uint8_t)c->in.data[4] << 24 |
					(uint8_t)c->in.data[5] << 16 | (uint8_t)c->in.data[6] << 8 |
					(uint8_t)c->in.data[7]) + SYNC_MAC_LEN - c->in.len;
		return 0;
	}
	if (r == SYNC_FRAME_BAD) {
		s->rejected[why]++;
		sync_log_reject(s, &s->peers[c->peer], why, c->got_hello ? NULL : "first frame");
		return -1;
	}
	c->rx_seq++;
	c->last_rx = ev_now(s->loop);
	if (f.type == SYNC_HELLO) {
		if (conn_hello(s, c, &f) < 0)
			return -1;
	} else {
		if (!c->authed && conn_authed(s, c) < 0)
			return -1;
		if (sync_on_frame(s, c, &f) < 0)
			return -1;
	}
	buf_reset(&c->in);
	*need = SYNC_HDR_LEN;
	return 0;
}

static void conn_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sync_conn *c = container_of(w, struct sync_conn, rio);
	struct sync *s = c->s;
	size_t need = c->in.len < SYNC_HDR_LEN ? SYNC_HDR_LEN - c->in.len : 0;

	if (need == 0 && conn_frames(s, c, &need) < 0) {
		conn_close(c, c->why ? c->why : "bad frame");
		return;
	}
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n;

		if (c->in.cap < c->in.len + need + 1) {
			c->in.data = xrealloc(c->in.data, c->in.len + need + 1);
			c->in.cap = c->in.len + need + 1;
		}
		n = read(c->fd, c->in.data + c->in.len, need);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			if (c->in.len) {
				s->rejected[SYNC_REJ_TRUNCATED]++;
				sync_log_reject(s, &s->peers[c->peer], SYNC_REJ_TRUNCATED, NULL);
			}
			conn_close(c, n < 0 ? strerror(errno) : "closed by the peer");
			return;
		}
		c->in.len += (size_t)n;
		need -= (size_t)n;
		if (need == 0 && conn_frames(s, c, &need) < 0) {
			conn_close(c, c->why ? c->why : "bad frame");
			return;
		}
	}
}

static void conn_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sync_conn *c = container_of(w, struct sync_conn, wio);

	if (c->connecting) {
		int e = 0;
		socklen_t l = sizeof(e);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e) {
			conn_close(c, strerror(e));
			return;
		}
		c->connecting = false;
		ev_io_start(loop, &c->rio);
	}
	while (c->out_off < c->out.len) {
		ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.len - c->out_off);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			conn_close(c, strerror(errno));
			return;
		}
		c->out_off += (size_t)n;
	}
	buf_reset(&c->out);
	c->out_off = 0;
	ev_io_stop(loop, w);
}

void sync_conns_free(struct sync *s)
{
	struct sync_conn *c;

	while ((c = TAILQ_FIRST(&s->conns))) {
		s->peers[c->peer].conn = NULL;
		conn_close(c, "stopping");
	}
	if (s->lfd >= 0) {
		ev_io_stop(s->loop, &s->lio);
		close(s->lfd);
		s->lfd = -1;
	}
}
