/* cfg_limits.c - what the process limits allow of the configuration. */
#include "config/config.h"

#include <inttypes.h>
#include <stdio.h>

size_t cfg_probe_count(const struct config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->nservices; i++)
		n += cfg->services[i].nbackends *
		     (cfg->services[i].nchecks ? cfg->services[i].nchecks : 1);
	return n;
}

uint32_t cfg_maxconn_fit(uint32_t maxconn, uint64_t nofile, size_t nprobes, char *msg,
			 size_t msglen)
{
	uint64_t need = 2 * (uint64_t)maxconn + nprobes + CFG_FD_RESERVE;
	uint64_t fit;

	msg[0] = '\0';
	if (need <= nofile)
		return maxconn;
	fit = nofile > nprobes + CFG_FD_RESERVE + 2 ? (nofile - nprobes - CFG_FD_RESERVE) / 2 : 1;
	snprintf(msg, msglen, "maxconn %" PRIu32 " needs %" PRIu64 " file descriptors (2 a "
		 "connection + %zu probes + %d reserved), the open file limit is %" PRIu64
		 ": using maxconn %" PRIu64, maxconn, need, nprobes, CFG_FD_RESERVE, nofile, fit);
	return (uint32_t)fit;
}
