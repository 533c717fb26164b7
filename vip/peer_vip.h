/* peer_vip.h - one floating address as failover adds it to an interface (a
 * service VIP or one of failover.addresses). Not part of the wire format. */
#ifndef VIGIL_PEER_VIP_H
#define VIGIL_PEER_VIP_H

#include "common/addr.h"

/* One VIP as failover adds it: address and prefix length. */
struct peer_vip {
	struct addr ip;
	int prefix;
	unsigned link;                /* 0: failover.interface; n: the node's extra
					 interface n (failover.addresses[].interface) */
};

#endif
