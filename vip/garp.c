/* garp.c - gratuitous ARP / unsolicited NA, and ARP / NS duplicate probes. */
#include "vip/garp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"

#define ARP_LEN 28
#define ND_LEN  (40 + 32)            /* IPv6 header + ICMPv6 ND with one option */

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

int garp_open(struct garp *g, const char *ifname, char *err, size_t errlen)
{
	struct ifreq ifr;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	snprintf(g->ifname, sizeof(g->ifname), "%s", ifname);
	g->ifindex = (int)if_nametoindex(ifname);
	if (!g->ifindex) {
		snprintf(err, errlen, "interface %s: %s", ifname, strerror(errno));
		return -1;
	}
	g->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (g->fd < 0) {
		snprintf(err, errlen, "packet socket: %s", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(g->fd, SIOCGIFHWADDR, &ifr) < 0) {
		snprintf(err, errlen, "MAC of %s: %s", ifname, strerror(errno));
		close(g->fd);
		g->fd = -1;
		return -1;
	}
	memcpy(g->mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

void garp_close(struct garp *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}

size_t garp_build_arp(uint8_t *out, const uint8_t mac[6], const uint8_t sip[4],
		      const uint8_t tip[4])
{
	out[0] = 0; out[1] = ARPHRD_ETHER;              /* hardware: ethernet */
	out[2] = 0x08; out[3] = 0x00;                   /* protocol: IPv4 */
	out[4] = 6; out[5] = 4;
	out[6] = 0; out[7] = ARPOP_REQUEST;
	memcpy(out + 8, mac, 6);
	memcpy(out + 14, sip, 4);
	memset(out + 18, 0, 6);
	memcpy(out + 24, tip, 4);
	return ARP_LEN;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	return sum;
}

size_t garp_build_nd(uint8_t *out, int type, const uint8_t mac[6], const uint8_t src[16],
		     const uint8_t dst[16], const uint8_t target[16])
{
	uint8_t *icmp = out + 40;
	size_t ilen = type == 136 ? 32 : 24;           /* NS from :: carries no option */
	uint32_t sum = 0;
	uint16_t c;

	memset(out, 0, 40 + ilen);
	out[0] = 0x60;                                  /* version 6 */
	out[4] = (uint8_t)(ilen >> 8);
	out[5] = (uint8_t)ilen;
	out[6] = 58;                                    /* next header: ICMPv6 */
	out[7] = 255;                                   /* hop limit */
	memcpy(out + 8, src, 16);
	memcpy(out + 24, dst, 16);
	icmp[0] = (uint8_t)type;
	if (type == 136)
		icmp[4] = 0x20;                         /* override */
	memcpy(icmp + 8, target, 16);
	if (type == 136) {
		icmp[24] = 2;                           /* target link-layer address */
		icmp[25] = 1;
		memcpy(icmp + 26, mac, 6);
	}
	sum = csum_add(sum, src, 16);
	sum = csum_add(sum, dst, 16);
	sum += (uint32_t)ilen;
	sum += 58;
	sum = csum_add(sum, icmp, ilen);
	c = csum_fold(sum);
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	return 40 + ilen;
}

static int send_frame(int fd, int ifindex, uint16_t proto, const uint8_t dst[6],
		      const uint8_t *frame, size_t len)
{
	struct sockaddr_ll sll;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(proto);
	sll.sll_ifindex = ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, dst, 6);
	return sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0 ? -1 : 0;
}

/* The solicited-node multicast address of target and its MAC. */
static void solicited(const uint8_t target[16], uint8_t ip[16], uint8_t mac[6])
{
	static const uint8_t pfx[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff };

	memcpy(ip, pfx, 13);
	memcpy(ip + 13, target + 13, 3);
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, ip + 12, 4);
}

int garp_announce(struct garp *g, const struct addr *ip, char *err, size_t errlen)
{
	uint8_t frame[ND_LEN];
	size_t n, len;
	const uint8_t *b = addr_bytes(ip, &n);
	int rc;

	if (n == 4) {
		len = garp_build_arp(frame, g->mac, b, b);
		rc = send_frame(g->fd, g->ifindex, ETH_P_ARP, bcast, frame, len);
	} else {
		static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
		static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };

		len = garp_build_nd(frame, 136, g->mac, b, all_nodes, b);
		rc = send_frame(g->fd, g->ifindex, ETH_P_IPV6, all_nodes_mac, frame, len);
	}
	if (rc < 0)
		snprintf(err, errlen, "%s on %s: %s", n == 4 ? "gratuitous ARP" : "unsolicited NA",
			 g->ifname, strerror(errno));
	return rc;
}

static int listen_sock(int ifindex, uint16_t proto)
{
	struct sockaddr_ll sll;
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(proto));

	if (fd < 0)
		return -1;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(proto);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_probes(struct garp *g, const struct peer_vip *vips, size_t n)
{
	static const uint8_t zero[16];
	uint8_t frame[ND_LEN], sol[16], sol_mac[6];
	size_t alen, len;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = addr_bytes(&vips[i].ip, &alen);

		if (alen == 4) {
			len = garp_build_arp(frame, g->mac, zero, b);
			send_frame(g->fd, g->ifindex, ETH_P_ARP, bcast, frame, len);
		} else {
			solicited(b, sol, sol_mac);
			len = garp_build_nd(frame, 135, g->mac, zero, sol, b);
			send_frame(g->fd, g->ifindex, ETH_P_IPV6, sol_mac, frame, len);
		}
	}
}

static void fmt_who(char *who, size_t wholen, const struct peer_vip *v, const uint8_t *mac)
{
	char ip[ADDR_STRLEN];

	snprintf(who, wholen, "%s is answered by %02x:%02x:%02x:%02x:%02x:%02x",
		 addr_ip_str(&v->ip, ip, sizeof(ip)), mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

const struct peer_vip *garp_arp_conflict(const uint8_t own_mac[6], const uint8_t *p, size_t len,
					 const struct peer_vip *vips, size_t n)
{
	size_t alen;

	if (len < ARP_LEN || p[4] != 6 || p[5] != 4 || memcmp(p + 8, own_mac, 6) == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = addr_bytes(&vips[i].ip, &alen);

		if (alen == 4 && memcmp(p + 14, b, 4) == 0)
			return &vips[i];
	}
	return NULL;
}

const struct peer_vip *garp_na_conflict(const uint8_t *p, size_t len, const struct peer_vip *vips,
					size_t n)
{
	size_t alen;

	if (len < 40 + 24 || p[6] != 58 || p[40] != 136)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = addr_bytes(&vips[i].ip, &alen);

		if (alen == 16 && memcmp(p + 48, b, 16) == 0)
			return &vips[i];
	}
	return NULL;
}

/* Read what arrived on fd; 1 and who filled when it shows a conflict. */
static int drain_answers(struct garp *g, int fd, bool arp, const struct peer_vip *vips, size_t n,
			 char *who, size_t wholen)
{
	uint8_t p[2048];
	struct sockaddr_ll from;
	socklen_t fl;
	const struct peer_vip *hit;

	for (int i = 0; i < 256; i++) {
		ssize_t len;

		fl = sizeof(from);
		len = recvfrom(fd, p, sizeof(p), 0, (struct sockaddr *)&from, &fl);
		if (len < 0)
			return 0;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue;
		hit = arp ? garp_arp_conflict(g->mac, p, (size_t)len, vips, n) :
			    garp_na_conflict(p, (size_t)len, vips, n);
		if (hit) {
			fmt_who(who, wholen, hit, arp ? p + 8 : from.sll_addr);
			return 1;
		}
	}
	return 0;
}

int garp_probe(struct garp *g, const struct peer_vip *vips, size_t n, int tries,
	       int interval_ms, char *who, size_t wholen, char *err, size_t errlen)
{
	struct pollfd pfd[2];
	int rc = 0;

	pfd[0].fd = listen_sock(g->ifindex, ETH_P_ARP);
	pfd[1].fd = listen_sock(g->ifindex, ETH_P_IPV6);
	if (pfd[0].fd < 0 || pfd[1].fd < 0) {
		snprintf(err, errlen, "packet socket on %s: %s", g->ifname, strerror(errno));
		rc = -1;
	}
	for (int t = 0; t < tries && rc == 0; t++) {
		uint64_t end = now_ms() + (uint64_t)interval_ms;

		send_probes(g, vips, n);
		while (rc == 0) {
			uint64_t now = now_ms();

			if (now >= end)
				break;
			pfd[0].events = pfd[1].events = POLLIN;
			if (poll(pfd, 2, (int)(end - now)) <= 0)
				continue;
			if (pfd[0].revents & POLLIN)
				rc = drain_answers(g, pfd[0].fd, true, vips, n, who, wholen);
			if (rc == 0 && (pfd[1].revents & POLLIN))
				rc = drain_answers(g, pfd[1].fd, false, vips, n, who, wholen);
		}
	}
	for (int i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	return rc;
}
