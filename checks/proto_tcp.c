/* proto_tcp.c - the tcp check: the connect succeeds. */
#include "checks/probe.h"

static void tcp_start(struct probe *p)
{
	probe_finish(p, CHECK_OK, PROBE_CLOSE_FIN, "connected");
}

static void tcp_input(struct probe *p)
{
}

const struct probe_proto probe_proto_tcp = {
	.name = "tcp",
	.start = tcp_start,
	.input = tcp_input,
};
