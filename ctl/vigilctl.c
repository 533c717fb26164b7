/* vigilctl.c - the control client: send one command to vigild's control
 * socket, print the answer.
 *
 * Exit status: 0 success, 1 the daemon refused the command (reason on
 * stderr), 2 usage error or the daemon cannot be reached.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/util.h"
#include "config/config.h"
#include "ctl/ctl.h"
#include "common/version.h"

#define VIGILCTL_TIMEOUT_MS 10000
#define VIGILCTL_ANSWER_MAX (256u << 20)

enum { EXIT_REFUSED = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
	"usage: vigilctl [-s SOCKET | -c FILE] COMMAND\n"
	"\n"
	"commands:\n"
	"  status [--json]              services, backends and failover state\n"
	"  drain   SERVICE BACKEND      no new connections, existing ones finish\n"
	"  disable SERVICE BACKEND      maintenance: out of rotation, not probed\n"
	"  enable  SERVICE BACKEND      back into rotation (subject to checks)\n"
	"  weight  SERVICE BACKEND N    set the runtime weight (0..256)\n"
	"  standby [GROUP]              hand this node's VIPs to the peer (refused unless\n"
	"                               a peer is alive and able to take them over)\n"
	"  takeover [GROUP]             claim the VIPs now\n"
	"  resume [GROUP]               end standby / takeover: normal election again\n"
	"  reload                       reload the configuration file\n"
	"  sync                         push this node's configuration to the peer now\n"
	"  rollback                     reinstall FILE.prev and reload (and sync it)\n"
	"  events [--follow]            the event log (the last 500), oldest first; with\n"
	"                               --follow, then every new event as it comes (polled\n"
	"                               each second) until interrupted\n"
	"\n"
	"options:\n"
	"  -s, --socket SOCKET   control socket (default: $VIGIL_SOCKET, else "
	CTL_DEFAULT_SOCKET ")\n"
	"  -c, --config FILE     take the socket from FILE's global.control_socket\n"
	"  -h, --help            this text\n"
	"      --version         print the version\n"
	"\n"
	"exit status: 0 success, 1 command refused, 2 usage error or daemon unreachable\n";

struct ctl_opts {
	const char *socket;
	const char *config;
	char **words;
	int nwords;
	bool follow;                  /* events --follow */
};

static void usage_error(const char *msg)
{
	if (msg)
		fprintf(stderr, "vigilctl: %s\n", msg);
	fputs("usage: vigilctl [-s SOCKET | -c FILE] COMMAND (see vigilctl --help)\n", stderr);
	exit(EXIT_USAGE);
}

static void parse_args(int argc, char **argv, struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+s:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("vigilctl %s\n", VIGIL_VERSION);
			exit(0);
		default:
			fprintf(stderr, "vigilctl: %s: %s\n", argv[optind - 1],
				optopt && strchr("sc", optopt) ? "needs an argument" : "unknown option");
			usage_error(NULL);
		}
	}
	o->words = argv + optind;
	o->nwords = argc - optind;
	if (o->nwords == 0)
		usage_error("no command given");
	if (o->nwords == 2 && !strcmp(o->words[0], "events") && !strcmp(o->words[1], "--follow")) {
		o->follow = true;
		o->nwords = 1;
	}
}

/* The request line from the command words, checked by the server's own parser. */
static void build_request(const struct ctl_opts *o, struct buf *line)
{
	struct ctl_cmd cmd;
	char err[256];
	int i;

	for (i = 0; i < o->nwords; i++) {
		const char *w = o->words[i];

		for (const char *p = w; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				usage_error("control character in an argument");
		if (i == 1 && !strcmp(o->words[0], "status") && !strcmp(w, "--json"))
			w = "json";
		if (i)
			buf_puts(line, " ");
		ctl_quote(line, w);
	}
	if (line->len >= CTL_LINE_MAX)
		usage_error("command too long");
	if (ctl_parse(line->data, &cmd, err, sizeof(err)) < 0)
		usage_error(err);
}

/* The socket path: -s, else -c FILE's control_socket, else $VIGIL_SOCKET, else the default. */
static char *socket_path(const struct ctl_opts *o)
{
	struct cfg_errors errs;
	struct config *cfg;
	const char *env = getenv("VIGIL_SOCKET");
	char *path;
	size_t i;

	if (o->socket)
		return xstrdup(o->socket);
	if (!o->config)
		return xstrdup(env && *env ? env : CTL_DEFAULT_SOCKET);
	cfg = cfg_load(o->config, &errs);
	if (!cfg) {
		for (i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		cfg_errors_free(&errs);
		exit(EXIT_USAGE);
	}
	cfg_errors_free(&errs);
	path = xstrdup(cfg->global.control_socket ? cfg->global.control_socket
						   : CTL_DEFAULT_SOCKET);
	cfg_free(cfg);
	return path;
}

/* Bound the next blocking call on fd by what is left of the deadline; -1 when none is. */
static int set_timeout(int fd, uint64_t deadline)
{
	uint64_t now = now_ms(), left;
	struct timeval tv;

	if (now >= deadline)
		return -1;
	left = deadline - now;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000 * 1000);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -1;
	return 0;
}

static int is_timeout(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINPROGRESS || err == ETIMEDOUT;
}

static void unreachable(const char *path, const char *what, int err)
{
	fprintf(stderr, "vigilctl: %s: %s: %s\n", path, what,
		is_timeout(err) ? "timed out after 10 s" : strerror(err));
	exit(EXIT_USAGE);
}

static int ctl_connect(const char *path, uint64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vigilctl: %s: socket path too long\n", path);
		exit(EXIT_USAGE);
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		unreachable(path, "socket", errno);
	while (set_timeout(fd, deadline) == 0) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno != EINTR)
			unreachable(path, "cannot connect", errno);
	}
	unreachable(path, "cannot connect", ETIMEDOUT);
	return -1;
}

/* Send line, read the whole answer into ans. Exits 2 on any failure. */
static void ctl_talk(const char *path, const struct buf *line, struct buf *ans)
{
	uint64_t deadline = now_ms() + VIGILCTL_TIMEOUT_MS;
	int fd = ctl_connect(path, deadline);
	size_t off = 0;
	char chunk[16384];
	ssize_t n;

	while (off < line->len) {
		if (set_timeout(fd, deadline) < 0)
			unreachable(path, "send", ETIMEDOUT);
		n = send(fd, line->data + off, line->len - off, MSG_NOSIGNAL);
		if (n < 0 && errno != EINTR)
			unreachable(path, "send", errno);
		off += n > 0 ? (size_t)n : 0;
	}
	for (;;) {
		if (set_timeout(fd, deadline) < 0)
			unreachable(path, "waiting for the answer", ETIMEDOUT);
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n == 0)
			break;
		if (n < 0 && errno != EINTR)
			unreachable(path, "waiting for the answer", errno);
		if (n > 0)
			buf_append(ans, chunk, (size_t)n);
		if (ans->len > VIGILCTL_ANSWER_MAX)
			unreachable(path, "answer too long", EMSGSIZE);
	}
	close(fd);
}

/* Print the answer where it belongs; the exit status. */
static int show_answer(const char *path, const struct buf *ans)
{
	const char *nl = ans->len ? memchr(ans->data, '\n', ans->len) : NULL;
	size_t first = nl ? (size_t)(nl - ans->data) : ans->len;
	const char *rest = ans->data + first + (nl ? 1 : 0);
	size_t restlen = ans->len - first - (nl ? 1 : 0);

	if (first == 2 && !memcmp(ans->data, "ok", 2)) {
		fwrite(rest, 1, restlen, stdout);
		return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
	}
	if (first >= 7 && !memcmp(ans->data, "error: ", 7)) {
		fprintf(stderr, "vigilctl: %.*s\n", (int)(first - 7), ans->data + 7);
		fwrite(rest, 1, restlen, stderr);
		return EXIT_REFUSED;
	}
	if (ans->len == 0)
		fprintf(stderr, "vigilctl: %s: the daemon closed the connection without an answer\n",
			path);
	else
		fprintf(stderr, "vigilctl: %s: unexpected answer \"%.*s\"\n", path,
			(int)(first > 80 ? 80 : first), ans->data);
	return EXIT_USAGE;
}

/* The sequence number of the last event line in text (0 if none). */
static uint64_t last_seq(const char *text, size_t len)
{
	uint64_t seq = 0;
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		uint64_t v = 0;
		const char *q = p;

		while (q < end && *q >= '0' && *q <= '9' && v < UINT64_MAX / 10 - 1)
			v = v * 10 + (uint64_t)(*q++ - '0');
		if (q > p && v > seq)
			seq = v;
		p = nl ? nl + 1 : end;
	}
	return seq;
}

/* vigilctl events --follow: print the log, then poll for what is new each
 * second; every poll is one bounded request. Ends when the daemon refuses or
 * goes away (exit status as for one command) or on a signal. */
static int follow_events(const char *path)
{
	uint64_t seq = 0;
	struct buf line, ans;
	int rc;

	buf_init(&line);
	buf_init(&ans);
	for (;;) {
		buf_reset(&line);
		buf_reset(&ans);
		buf_printf(&line, "events since %" PRIu64 "\n", seq);
		ctl_talk(path, &line, &ans);
		rc = show_answer(path, &ans);
		if (rc != 0)
			break;
		if (ans.len > 3 && last_seq(ans.data + 3, ans.len - 3) > seq)
			seq = last_seq(ans.data + 3, ans.len - 3);
		sleep(1);
	}
	buf_free(&line);
	buf_free(&ans);
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl_opts o = { 0 };
	struct buf line, ans;
	char *path;
	int rc;

	parse_args(argc, argv, &o);
	buf_init(&line);
	buf_init(&ans);
	build_request(&o, &line);
	buf_puts(&line, "\n");
	path = socket_path(&o);
	if (o.follow) {
		rc = follow_events(path);
		free(path);
		buf_free(&line);
		buf_free(&ans);
		return rc;
	}
	ctl_talk(path, &line, &ans);
	rc = show_answer(path, &ans);
	free(path);
	buf_free(&line);
	buf_free(&ans);
	return rc;
}
