/* test_config.c - config/: every bad file gives exactly its messages, good
 * files load with the right values, durations parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "config/config.h"

#define MAX_MSGS 16

/* The source tree's root: $VIGIL_SRCDIR, the current directory, or two
 * levels above the test binary (build/tests/test_config). */
static const char *src_root(void)
{
	static char root[PATH_MAX];
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	const char *env = getenv("VIGIL_SRCDIR");
	struct stat st;
	ssize_t n;

	if (root[0])
		return root;
	if (env) {
		snprintf(root, sizeof(root), "%s", env);
		return root;
	}
	if (stat("tests/config/bad", &st) == 0) {
		snprintf(root, sizeof(root), ".");
		return root;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(probe, sizeof(probe), "%s/../..", dirname(exe));
	assert_non_null(realpath(probe, root));
	return root;
}

static void src_path(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", src_root(), rel);
}

struct bad_case {
	const char *file;
	const char *msgs[MAX_MSGS];   /* after "PATH/FILE:", in order */
};

static const struct bad_case bad_cases[] = {
	{ "alias.yaml", {
		"9:12: alias *c is not supported (expected the value written out)",
	} },
	{ "backend_address_port.yaml", {
		"6:30: services[0].backends[0].address: \"198.51.100.11:25\" is not an IP address (expected an IP address, e.g. 198.51.100.11)",
	} },
	{ "backend_send_proxy_bad.yaml", {
		"7:57: services[0].backends[0].send_proxy: unknown PROXY protocol version \"true\" (expected none, v1, v2)",
		"8:57: services[0].backends[1].send_proxy: wrong type: a list (expected one of none, v1, v2)",
	} },
	{ "backend_dup_name.yaml", {
		"7:16: services[0].backends[1].name: duplicate backend name \"mx1\" (already used by backends[0])",
	} },
	{ "backend_loop.yaml", {
		"7:31: services[0].backends[0].address: 192.0.2.10 is the service's own VIP, and without port: the backend's port is the client's: a proxy loop on ports 80, 81 (expected another address, or a port: the service does not serve)",
		"13:31: services[1].backends[0].address: 192.0.2.20 port 25 is the service's own VIP:port, a proxy loop (expected another address, or another port:)",
		"19:33: services[2].backends[0].address: ::ffff:192.0.2.30 is the service's own VIP, and without port: the backend's port is the client's: a proxy loop on port 143 (expected another address, or a port: the service does not serve)",
		"24:31: services[3].backends[0].address: 2001:db8::10 is the service's own VIP, and without port: the backend's port is the client's: a proxy loop on port 443 (expected another address, or a port: the service does not serve)",
	} },
	{ "backend_missing_address.yaml", {
		"6:9: services[0].backends[0]: missing required key \"address\" (expected an IP address, e.g. 198.51.100.11)",
	} },
	{ "backend_port_multi.yaml", {
		"6:45: services[0].backends[0].port: not allowed when the service has 2 ports (expected port: only with exactly one service port)",
	} },
	{ "backends_empty.yaml", {
		"5:15: services[0].backends: empty list (expected a list of backends, e.g. [{name: a, address: 198.51.100.11}])",
	} },
	{ "backends_missing.yaml", {
		"2:5: services[0]: missing required key \"backends\" (expected a list of backends, e.g. [{name: a, address: 198.51.100.11}])",
	} },
	{ "backup_not_bool.yaml", {
		"6:53: services[0].backends[0].backup: \"maybe\" is not a boolean (expected true or false)",
	} },
	{ "check_interval_inherited.yaml", {
		"9:23: services[0].check.interval: 2s is shorter than the timeout 3s (expected at least the timeout)",
	} },
	{ "check_rise_zero.yaml", {
		"7:19: services[0].check.rise: 0 is out of range (expected an integer 1..1000)",
		"7:28: services[0].check.fall: 1001 is out of range (expected an integer 1..1000)",
	} },
	{ "check_timeout_gt_interval.yaml", {
		"7:36: services[0].check.timeout: 1500ms is longer than the interval 1s (expected at most the interval)",
	} },
	{ "check_type_unknown.yaml", {
		"8:13: services[0].check.type: unknown check type \"ldap\" (expected tcp, http, https, smtp, imap, imaps, pop3, pop3s, expect, icmp)",
	} },
	{ "check_wrong_type.yaml", {
		"7:13: services[0].check[0]: wrong type: a single value (expected a map)",
	} },
	{ "check_list_entries.yaml", {
		"9:34: services[0].check[1].ports[1]: 5061 is not one of the service's ports "
		"(expected one of its first 64 ports)",
		"10:21: services[0].check[2].on_down: not valid in a list of checks (expected "
		"on_down beside check:, for the whole service)",
		"11:34: services[0].check[3].ports[1]: duplicate port 444 (expected each port once)",
		"12:9: services[0].check[4]: wrong type: a single value (expected a map)",
	} },
	{ "check_list_empty.yaml", {
		"2:11: defaults.check.ports: not valid in defaults (expected in a service's check, "
		"naming its ports)",
		"9:12: services[0].check: empty list (expected a map of check settings, or a list "
		"of them)",
	} },
	{ "defaults_http_key_on_tcp.yaml", {
		"2:22: defaults.check.expect_body: not valid for check type tcp (expected type http or https)",
	} },
	{ "dup_key_root.yaml", {
		"9:1: global: duplicate key (already given at line 1)",
	} },
	{ "dup_key_service.yaml", {
		"4:5: services[0].name: duplicate key (already given at line 2)",
	} },
	{ "duration_garbage.yaml", {
		"7:29: services[0].timeouts.client_idle: invalid duration \"5sec\" (expected a duration above 0, e.g. 30m)",
	} },
	{ "duration_negative.yaml", {
		"7:25: services[0].timeouts.connect: duration \"-5s\" is negative (expected a duration above 0, e.g. 5s)",
	} },
	{ "duration_no_unit.yaml", {
		"7:23: services[0].check.interval: duration \"5\" has no unit (expected a duration of at least 10ms, e.g. 2s)",
	} },
	{ "duration_overflow.yaml", {
		"7:23: services[0].timeouts.drain: duration \"5000000000ms\" is too long (expected at most 1193h)",
	} },
	{ "duration_too_long.yaml", {
		"7:23: services[0].timeouts.drain: duration \"1200h\" is too long (expected at most 1193h)",
	} },
	{ "duration_unit_unknown.yaml", {
		"7:23: services[0].timeouts.drain: invalid duration \"50d\" (expected a duration, e.g. 60s)",
	} },
	{ "ehlo_on_imap.yaml", {
		"7:25: services[0].check.ehlo: not valid for check type imap (expected type smtp)",
	} },
	{ "alerts_email.yaml", {
		"8:10: alerts.batch: 50ms is out of range (expected a duration of 100ms..1h, e.g. 10s)",
		"9:17: alerts.max_per_hour: 0 is out of range (expected an integer 1..3600)",
		"12:11: alerts.email.from: \"vigil at example.com\" is not an e-mail address (expected an e-mail address, e.g. vigil@example.com)",
		"13:27: alerts.email.to[1]: \"a@b\\x0d\\x0aDATA\" is not an e-mail address (expected an e-mail address, e.g. ops@example.com)",
		"13:42: alerts.email.to[2]: \"ops\" is not an e-mail address (expected an e-mail address, e.g. ops@example.com)",
		"14:5: alerts.email.username: needs password_file (expected the password in a file of its own, never in this file)",
		"15:5: alerts.email.password: unknown key (expected one of: smtp, from, to, username, password_file, tls, verify, ca_file, host)",
		"15:5: alerts.email.password: a password is never written in the configuration (expected password_file: a file holding it)",
		"16:10: alerts.email.tls: unknown TLS mode \"ssl\" (expected starttls, implicit)",
	} },
	{ "alerts_empty.yaml", {
		"8:3: alerts: nothing to deliver to (expected exec, email or both)",
		"9:3: alerts.wait: unknown key (expected one of: exec, email, batch, max_per_hour)",
	} },
	{ "alerts_password_alone.yaml", {
		"10:11: alerts.email.password_file: needs username (expected the SMTP AUTH user name beside it)",
		"10:48: alerts.email.ca_file: only with verify: true (expected verify: true to check the relay's certificate)",
	} },
	{ "email_incomplete.yaml", {
		"12:12: failover.notify.email: missing required key \"from\" (expected an e-mail address, e.g. vigil@example.com)",
		"12:19: failover.notify.email.smtp: \"198.51.100.25\" is not IP:PORT (expected IP:PORT of the mail relay, e.g. 198.51.100.25:25)",
		"12:38: failover.notify.email.to: empty list (expected a list of e-mail addresses, e.g. [ops@example.com])",
	} },
	{ "empty.yaml", {
		"1:1: empty configuration (expected a map with global, defaults, services, failover, alerts)",
	} },
	{ "expect_status_range.yaml", {
		"7:40: services[0].check.expect_status: 600 is out of range (expected an HTTP status 100..599)",
	} },
	{ "failover_interface_long.yaml", {
		"9:14: failover.interface: \"a-very-long-interface-name\" is too long (expected at most 15 characters)",
		"11:25: failover.peers[1]: duplicate peer 198.51.100.2 (expected each peer once)",
		"11:39: failover.peers[2]: \"peer2\" is not an IP address (expected an IP address)",
	} },
	{ "admin_token_file_bad.yaml", {
		"3:21: global.admin_token_file: wrong type: a list (expected a file path)",
	} },
	{ "failover_missing.yaml", {
		"8:3: failover: missing required key \"interface\" (expected an interface name)",
		"8:3: failover: missing required key \"auth_key_file\" (expected a file path)",
	} },
	{ "failover_ranges.yaml", {
		"8:10: failover.group: 256 is out of range (expected an integer 1..255)",
		"9:13: failover.priority: 255 is out of range (expected an integer 1..254)",
		"12:20: failover.advert_interval: 5ms is out of range (expected a duration of at least 10ms, e.g. 100ms)",
		"13:35: failover.track.weight: 300 is out of range (expected an integer 0..254)",
	} },
	{ "failover_sync_no_peers.yaml", {
		"11:9: failover.sync: needs the peers' addresses (failover.peers or failover.nodes)",
		"12:14: failover.sync_port: 0 is out of range (expected a port 1..65535)",
	} },
	{ "global_maxconn_zero.yaml", {
		"2:12: global.maxconn: 0 is out of range (expected an integer 1..4294967295)",
	} },
	{ "http_key_on_tcp.yaml", {
		"7:13: services[0].check.path: not valid for check type tcp (expected type http or https)",
		"7:28: services[0].check.host: not valid for check type tcp (expected type http, https, imaps, pop3s, starttls: true, or tls: true)",
	} },
	{ "http_path_relative.yaml", {
		"7:31: services[0].check.path: \"health\" does not start with / (expected an HTTP path starting with /)",
	} },
	{ "keepalive_bad.yaml", {
		"2:25: defaults.timeouts.keepalive: 10h is out of range (expected 0 for off, or whole seconds from 1s to 9h, e.g. 60s)",
		"7:27: services[0].timeouts.keepalive: 1500ms is not a whole number of seconds (expected 0 for off, or whole seconds from 1s to 9h, e.g. 60s)",
		"13:27: services[1].timeouts.keepalive: invalid duration \"often\" (expected 0 for off, or whole seconds from 1s to 9h, e.g. 60s)",
		"19:27: services[2].timeouts.keepalive: duration \"-5s\" is negative (expected 0 for off, or whole seconds from 1s to 9h, e.g. 60s)",
	} },
	{ "log_level_bad.yaml", {
		"2:14: global.log_level: unknown log level \"verbose\" (expected debug, info, notice, warning, error)",
	} },
	{ "many_errors.yaml", {
		"2:14: global.log_level: unknown log level \"chatty\" (expected debug, info, notice, warning, error)",
		"3:12: global.maxconn: -1 is out of range (expected an integer 1..4294967295)",
		"5:14: defaults.scheduler: unknown scheduler \"random\" (expected roundrobin, weighted-roundrobin, leastconn, weighted-leastconn, source-hash, fixed-weight, weighted-response-time)",
		"11:53: services[0].backends[0].weight: 1000 is out of range (expected an integer 0..256)",
		"12:16: services[0].backends[1].name: duplicate backend name \"mx1\" (already used by backends[0])",
		"12:30: services[0].backends[1].address: \"198.51.100.400\" is not an IP address (expected an IP address, e.g. 198.51.100.11)",
		"13:48: services[0].check.timeout: 2s is longer than the interval 1s (expected at most the interval)",
		"13:52: services[0].check.path: not valid for check type smtp (expected type http or https)",
		"14:11: services[1].name: duplicate service name \"smtp\" (already used by services[0])",
		"15:10: services[1].vip: prefix /40 is out of range (expected 1..32 for an IPv4 address)",
		"16:13: services[1].ports[0]: 192.0.2.10:25 is already used by service \"smtp\" (expected each VIP:port in one service only)",
		"17:15: services[1].backends: empty list (expected a list of backends, e.g. [{name: a, address: 198.51.100.11}])",
		"19:3: failover: missing required key \"auth_key_file\" (expected a file path)",
		"21:12: failover.preempt: \"perhaps\" is not a boolean (expected true or false)",
	} },
	{ "maxconn_wrong_type.yaml", {
		"7:14: services[0].maxconn: wrong type: a map (expected an integer 0..4294967295, 0 for unlimited)",
	} },
	{ "null_value.yaml", {
		"2:10: services[0].name: missing value (expected a service name)",
	} },
	{ "on_down_bad.yaml", {
		"7:14: services[0].on_down: unknown on_down action \"reset\" (expected keep, close)",
	} },
	{ "on_down_both.yaml", {
		"7:5: services[0].on_down: also given as check.on_down at line 8 (expected only one of them)",
	} },
	{ "port_quoted.yaml", {
		"4:13: services[0].ports[0]: \"25\" is a quoted string (expected a port 1..65535)",
	} },
	{ "port_range.yaml", {
		"4:17: services[0].ports[1]: 70000 is out of range (expected a port 1..65535)",
	} },
	{ "port_zero.yaml", {
		"4:13: services[0].ports[0]: 0 is out of range (expected a port 1..65535)",
	} },
	{ "ports_dup.yaml", {
		"4:22: services[0].ports[2]: duplicate port 25 (expected each port once)",
	} },
	{ "ports_empty.yaml", {
		"4:12: services[0].ports: empty list (expected a list of ports, e.g. [25, 587])",
	} },
	{ "ports_not_list.yaml", {
		"4:12: services[0].ports: wrong type: a single value (expected a list of ports, e.g. [25, 587])",
	} },
	{ "pair_groups.yaml", {
		"8:42: failover.nodes.lb1.priority: 300 is out of range (expected an integer 1..254)",
		"9:5: failover.nodes.bad name: invalid node name \"bad name\" (expected 1..32 letters, digits, '.', '_' or '-')",
		"11:5: failover.groups: service \"a\" is in no group (expected every service in one group)",
		"11:12: failover.groups[0].id: 0 is out of range (expected an integer 1..255)",
		"11:25: failover.groups[0].services: empty list (expected a list of service names)",
		"11:45: failover.groups[0].priority.lb1: 255 is out of range (expected an integer 1..254)",
		"11:67: failover.groups[0].track.weight: 999 is out of range (expected an integer 0..254)",
		"13:17: failover.addresses[0].address: prefix /40 is out of range (expected 1..32 for an IPv4 address)",
		"13:41: failover.addresses[0].group: 0 is out of range (expected an integer 1..255)",
	} },
	{ "pair_mixed.yaml", {
		"9:3: failover.group: not with failover.groups (expected either groups, or group)",
		"10:3: failover.peers: not with failover.nodes (expected either nodes, or node + priority + peers)",
		"13:5: failover.nodes.lb2: address of node lb1 too (expected one address per node)",
		"15:5: failover.groups: service \"b\" is in no group (expected every service in one group)",
		"15:5: failover.groups: service \"c\" is in no group (expected every service in one group)",
		"15:30: failover.groups[0].services[1]: unknown service \"zz\" (expected a name from services)",
		"15:45: failover.groups[0]: priority for unknown node \"lb3\" (expected a node of failover.nodes)",
		"16:7: failover.groups[1]: duplicate group id 51 (expected each id once)",
		"16:27: failover.groups[1].services[0]: service \"a\" is already in group 51 (expected each service in at most one group)",
		"18:7: failover.addresses[0]: is the VIP of service a (expected an address that is no VIP)",
		"18:36: failover.addresses[0]: unknown group 9 (expected the id of a failover group)",
	} },
	{ "pair_too_many_groups.yaml", {
		"23:5: failover.groups: 17 groups (expected at most 16)",
	} },
	{ "root_list.yaml", {
		"1:1: wrong type: a list (expected a map with global, defaults, services, failover, alerts)",
	} },
	{ "sched_unknown.yaml", {
		"7:16: services[0].scheduler: unknown scheduler \"round-robin\" (expected roundrobin, weighted-roundrobin, leastconn, weighted-leastconn, source-hash, fixed-weight, weighted-response-time)",
	} },
	{ "service_dup_name.yaml", {
		"7:11: services[1].name: duplicate service name \"smtp\" (already used by services[0])",
	} },
	{ "service_missing_name.yaml", {
		"2:5: services[0]: missing required key \"name\" (expected a service name)",
	} },
	{ "service_name_invalid.yaml", {
		"2:11: services[0].name: invalid name \"smtp relay\" (expected 1..63 letters, digits, '.', '_' or '-')",
	} },
	{ "services_not_list.yaml", {
		"2:3: services: wrong type: a map (expected a list of services)",
	} },
	{ "source_family.yaml", {
		"8:30: services[0].backends[1].address: IPv6 backend 2001:db8::11 cannot be reached from the IPv4 source 198.51.100.1 (expected an IPv4 address)",
	} },
	{ "source_client_family.yaml", {
		"8:30: services[0].backends[1].address: IPv6 backend 2001:db8::11 cannot be reached from the IPv4 clients of VIP 192.0.2.10 with source: client (expected an IPv4 address)",
	} },
	{ "source_client_family_v6.yaml", {
		"8:30: services[0].backends[1].address: IPv4 backend 198.51.100.12 cannot be reached from the IPv6 clients of VIP 2001:db8::10 with source: client (expected an IPv6 address)",
	} },
	{ "source_client_typo.yaml", {
		"5:13: services[0].source: \"clients\" is not an IP address (expected an IP address, e.g. 198.51.100.1, or client)",
	} },
	{ "source_mask_not_sourcehash.yaml", {
		"8:5: services[0].source_mask: only valid with scheduler source-hash (scheduler is leastconn)",
	} },
	{ "source_mask_range_v4.yaml", {
		"8:18: services[0].source_mask: 33 is out of range (expected 0..32 for an IPv4 VIP)",
	} },
	{ "starttls_on_https.yaml", {
		"7:26: services[0].check.starttls: not valid for check type https (expected type smtp, imap or pop3)",
	} },
	{ "status_listen_bad.yaml", {
		"2:18: global.status_listen: \"localhost:8404\" is not IP:PORT (expected IP:PORT, e.g. 127.0.0.1:8404 or [::1]:8404)",
		"3:19: global.control_socket: \"/run/vigil/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock\" is too long (expected at most 107 characters)",
	} },
	{ "syntax_tab.yaml", {
		"2:1: syntax error: found character that cannot start any token (while scanning for the next token at line 2, column 1)",
	} },
	{ "syntax_unclosed.yaml", {
		"5:13: syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 4, column 12)",
	} },
	{ "two_documents.yaml", {
		"7:1: a second YAML document (expected one document per file)",
	} },
	{ "send_proxy_unknown.yaml", {
		"7:17: services[0].send_proxy: unknown PROXY protocol version \"v3\" (expected none, v1, v2)",
	} },
	{ "unknown_backend_key.yaml", {
		"6:45: services[0].backends[0].wieght: unknown key (expected one of: name, address, port, weight, maxconn, backup, send_proxy, agent)",
	} },
	{ "unknown_check_key.yaml", {
		"7:24: services[0].check.intervall: unknown key (expected one of: type, interval, timeout, rise, fall, port, path, host, expect_status, expect_body, ehlo, starttls, verify, ca_file, on_down, send, expect, quit, tls, ports)",
	} },
	{ "unknown_service_key.yaml", {
		"5:5: services[0].protocol: unknown key (expected one of: name, vip, ports, scheduler, source_mask, persist, maxconn, backlog, source, send_proxy, on_down, timeouts, check, backends)",
	} },
	{ "unknown_top_key.yaml", {
		"3:1: servises: unknown key (expected one of: global, defaults, services, failover, alerts)",
	} },
	{ "verify_without_tls.yaml", {
		"7:25: services[0].check.verify: not valid for a check without TLS (expected type https, imaps, pop3s, starttls: true, or tls: true)",
	} },
	{ "vip_bad.yaml", {
		"3:10: services[0].vip: \"192.0.2.300\" is not an IP address (expected an IP address with an optional /prefix, e.g. 192.0.2.10)",
	} },
	{ "vip_hostname.yaml", {
		"3:10: services[0].vip: \"mail.example.com\" is not an IP address (expected an IP address with an optional /prefix, e.g. 192.0.2.10)",
	} },
	{ "vip_port_shared.yaml", {
		"9:18: services[1].ports[1]: 192.0.2.10:25 is already used by service \"smtp\" (expected each VIP:port in one service only)",
	} },
	{ "vip_prefix_range.yaml", {
		"3:10: services[0].vip: prefix /33 is out of range (expected 1..32 for an IPv4 address)",
	} },
	{ "vip_unspecified.yaml", {
		"3:10: services[0].vip: 0.0.0.0 is the unspecified address (expected an IP address with an optional /prefix, e.g. 192.0.2.10)",
	} },
	{ "vip_v6_prefix_range.yaml", {
		"3:10: services[0].vip: prefix /129 is out of range (expected 1..128 for an IPv6 address)",
	} },
	{ "expect_regex_bad.yaml", {
		"5:35: services[0].check.expect: invalid regular expression /^220 (vsFTPd/: Unmatched ( or \\( (expected a POSIX extended regular expression)",
	} },
	{ "expect_regex_large.yaml", {
		"5:35: services[0].check.expect: invalid regular expression /((a{255}){255}){255}/: too large (at most 1024 characters, 32 nested groups and 1024 atoms once repetitions {m,n} are expanded) (expected a POSIX extended regular expression)",
		"11:35: services[1].check.expect: invalid regular expression /(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))/: too large (at most 1024 characters, 32 nested groups and 1024 atoms once repetitions {m,n} are expanded) (expected a POSIX extended regular expression)",
	} },
	{ "expect_keys_misplaced.yaml", {
		"5:25: services[0].check.send: not valid for check type http (expected type expect)",
		"5:39: services[0].check.quit: not valid for check type http (expected type expect)",
		"5:53: services[0].check.tls: not valid for check type http (expected type expect)",
		"11:12: services[1].check: missing required key \"expect\" for check type expect (expected a prefix of the first line, or /REGEX/)",
		"17:35: services[2].check.expect: empty regular expression (expected a prefix, or /REGEX/ with a POSIX extended regular expression)",
	} },
	{ "agent_bad.yaml", {
		"6:58: services[0].backends[0].agent.port: 0 is out of range (expected a port 1..65535)",
		"6:71: services[0].backends[0].agent.interval: 10ms is out of range (expected a duration of at least 100ms, e.g. 2s)",
		"7:51: services[0].backends[1].agent: missing required key \"port\" (expected a port 1..65535)",
		"7:66: services[0].backends[1].agent.prot: unknown key (expected one of: port, interval)",
		"8:51: services[0].backends[2].agent: wrong type: a single value (expected a map {port, interval})",
	} },
	{ "weight_not_int.yaml", {
		"6:53: services[0].backends[0].weight: \"heavy\" is not an integer (expected an integer 0..256)",
	} },
	{ "weight_range.yaml", {
		"6:53: services[0].backends[0].weight: 257 is out of range (expected an integer 0..256)",
	} },
};

static void print_errors(const struct cfg_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(stderr, "  got: %s\n", errs->msgs[i]);
}

static void check_bad(const struct bad_case *bc)
{
	char path[PATH_MAX], want[PATH_MAX + 1024], rel[256];
	struct cfg_errors errs;
	struct config *cfg;
	size_t nwant = 0;

	snprintf(rel, sizeof(rel), "tests/config/bad/%s", bc->file);
	src_path(path, sizeof(path), rel);
	cfg = cfg_load(path, &errs);
	while (nwant < MAX_MSGS && bc->msgs[nwant])
		nwant++;
	if (cfg || errs.count != nwant) {
		fprintf(stderr, "%s: want %zu errors, got %zu\n", bc->file, nwant, errs.count);
		print_errors(&errs);
	}
	assert_null(cfg);
	assert_int_equal(errs.count, nwant);
	for (size_t i = 0; i < nwant; i++) {
		snprintf(want, sizeof(want), "%s:%s", path, bc->msgs[i]);
		if (strcmp(want, errs.msgs[i]) != 0)
			fprintf(stderr, "%s: message %zu\n", bc->file, i);
		assert_string_equal(errs.msgs[i], want);
	}
	cfg_errors_free(&errs);
}

static void test_bad_files(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		check_bad(&bad_cases[i]);
}

/* Every file in tests/config/bad has its row in the table, and the other way. */
static void test_bad_files_all_listed(void **state)
{
	char dir[PATH_MAX];
	struct dirent *de;
	size_t nfiles = 0;
	DIR *d;

	src_path(dir, sizeof(dir), "tests/config/bad");
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t i, len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		nfiles++;
		for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
			if (strcmp(bad_cases[i].file, de->d_name) == 0)
				break;
		if (i == sizeof(bad_cases) / sizeof(bad_cases[0]))
			fprintf(stderr, "%s has no row in bad_cases\n", de->d_name);
		assert_true(i < sizeof(bad_cases) / sizeof(bad_cases[0]));
	}
	closedir(d);
	assert_int_equal(nfiles, sizeof(bad_cases) / sizeof(bad_cases[0]));
	assert_true(nfiles >= 35);
}

static void test_unreadable(void **state)
{
	struct cfg_errors errs;

	assert_null(cfg_load("/nonexistent/vigil.yaml", &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "/nonexistent/vigil.yaml: cannot read: "
			    "No such file or directory");
	cfg_errors_free(&errs);
	assert_null(cfg_load("/", &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "/: cannot read: Is a directory");
	cfg_errors_free(&errs);
}

/* The message of the interface page, at its very position. */
static void test_spec_message(void **state)
{
	static const char text[] =
		"global:\n"                          /* 1 */
		"  log_level: info\n"
		"defaults:\n"
		"  check: {interval: 2s}\n"
		"services:\n"                        /* 5 */
		"  - name: owa\n"
		"    vip: 192.0.2.10\n"
		"    ports: [443]\n"
		"    backends:\n"
		"      - name: cas1\n"               /* 10 */
		"        address: 198.51.100.11\n"
		"      - {name: cas2, address: 198.51.100.12}\n"
		"    scheduler:\n"
		"      round-robin\n";               /* 14, value at column 7 */
	struct cfg_errors errs;

	assert_null(cfg_load_string("vigil.yaml", text, strlen(text), &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "vigil.yaml:14:7: services[0].scheduler: unknown "
			    "scheduler \"round-robin\" (expected roundrobin, weighted-roundrobin, "
			    "leastconn, weighted-leastconn, source-hash, fixed-weight, "
			    "weighted-response-time)");
	cfg_errors_free(&errs);
}

/* failover.sync: defaults, the keys, and no sync without peers. */
static void test_failover_sync(void **state)
{
	static const char base[] =
		"services:\n"
		"  - {name: a, vip: 192.0.2.1, ports: [1], backends: [{name: b, address: 192.0.2.2}]}\n"
		"failover:\n"
		"  interface: eth0\n"
		"  group: 1\n"
		"  auth_key_file: k\n";
	char text[1024];
	struct cfg_errors errs;
	struct config *cfg;
	const struct addr *peers;
	size_t n;

	cfg = cfg_load_string("s.yaml", base, strlen(base), &errs);
	assert_non_null(cfg);
	assert_false(cfg->failover.sync);
	assert_int_equal(cfg->failover.sync_port, 7789);
	assert_false(cfg->failover.has_sync_listen);
	cfg_free(cfg);
	cfg_errors_free(&errs);

	snprintf(text, sizeof(text), "%s  peers: [192.0.2.12]\n  sync: true\n"
		 "  sync_port: 9000\n  sync_listen: 192.0.2.11\n", base);
	cfg = cfg_load_string("s.yaml", text, strlen(text), &errs);
	assert_non_null(cfg);
	assert_true(cfg->failover.sync);
	assert_int_equal(cfg->failover.sync_port, 9000);
	assert_true(cfg->failover.has_sync_listen);
	peers = cfg_peer_addrs(cfg, &n);
	assert_int_equal(n, 1);
	assert_int_equal(peers[0].ss.ss_family, AF_INET);
	cfg_free(cfg);
	cfg_errors_free(&errs);

	snprintf(text, sizeof(text), "%s  sync: true\n  sync_listen: nowhere\n", base);
	assert_null(cfg_load_string("s.yaml", text, strlen(text), &errs));
	assert_int_equal(errs.count, 2);
	assert_string_equal(errs.msgs[0], "s.yaml:7:9: failover.sync: needs the peers' "
			    "addresses (failover.peers or failover.nodes)");
	assert_non_null(strstr(errs.msgs[1], "s.yaml:8:16: failover.sync_listen:"));
	cfg_errors_free(&errs);
}

/* services[].persist: off by default; source_mask allowed with it. */
static void test_service_persist(void **state)
{
	static const char text[] =
		"services:\n"
		"  - {name: a, vip: 192.0.2.1, ports: [1], backends: [{name: b, address: 192.0.2.2}]}\n"
		"  - {name: c, vip: 192.0.2.1, ports: [2], persist: 30m, source_mask: 24,\n"
		"     backends: [{name: b, address: 192.0.2.2}]}\n";
	static const char bad[] =
		"services:\n"
		"  - {name: a, vip: 192.0.2.1, ports: [1], persist: x,\n"
		"     backends: [{name: b, address: 192.0.2.2}]}\n";
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string("p.yaml", text, strlen(text), &errs);

	assert_non_null(cfg);
	assert_int_equal(cfg->services[0].persist_ms, 0);
	assert_int_equal(cfg->services[1].persist_ms, 30 * 60000);
	assert_int_equal(cfg->services[1].source_mask, 24);
	cfg_free(cfg);
	cfg_errors_free(&errs);
	assert_null(cfg_load_string("p.yaml", bad, strlen(bad), &errs));
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.msgs[0], "services[0].persist:"));
	cfg_errors_free(&errs);
}

/* Errors come out in file order even when found out of order. */
static void test_errors_file_order(void **state)
{
	static const char text[] =
		"failover: {group: 0, interface: eth0, auth_key_file: k}\n"
		"services:\n"
		"  - {name: a, vip: 192.0.2.1, ports: [1], backends: [{name: b, address: x}]}\n"
		"global: {log_level: x}\n";
	struct cfg_errors errs;

	assert_null(cfg_load_string("o.yaml", text, strlen(text), &errs));
	assert_int_equal(errs.count, 3);
	assert_string_equal(errs.msgs[0], "o.yaml:1:19: failover.group: 0 is out of range "
			    "(expected an integer 1..255)");
	assert_string_equal(errs.msgs[1], "o.yaml:3:73: services[0].backends[0].address: "
			    "\"x\" is not an IP address (expected an IP address, e.g. 198.51.100.11)");
	assert_string_equal(errs.msgs[2], "o.yaml:4:21: global.log_level: unknown log level "
			    "\"x\" (expected debug, info, notice, warning, error)");
	cfg_errors_free(&errs);
}

static struct config *load_good(const char *rel)
{
	char path[PATH_MAX];
	struct cfg_errors errs;
	struct config *cfg;

	src_path(path, sizeof(path), rel);
	cfg = cfg_load(path, &errs);
	print_errors(&errs);
	assert_int_equal(errs.count, 0);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	cfg_errors_free(&errs);
	return cfg;
}

static void assert_ip(const struct addr *a, const char *want)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_ip_str(a, buf, sizeof(buf)), want);
}

static void assert_hostport(const struct addr *a, const char *want)
{
	char buf[ADDR_STRLEN];

	assert_string_equal(addr_str(a, buf, sizeof(buf)), want);
}

static void assert_builtin_check(const struct check_conf *c)
{
	assert_int_equal(c->type, CHECK_TCP);
	assert_int_equal(c->interval_ms, 2000);
	assert_int_equal(c->timeout_ms, 1000);
	assert_int_equal(c->rise, 2);
	assert_int_equal(c->fall, 3);
	assert_int_equal(c->port, 0);
	assert_null(c->path);
	assert_null(c->host);
	assert_int_equal(c->expect_status, 200);
	assert_null(c->expect_body);
	assert_null(c->ehlo);
	assert_false(c->starttls);
	assert_false(c->verify);
	assert_null(c->ca_file);
	assert_int_equal(c->on_down, ON_DOWN_KEEP);
}

static void test_good_minimal(void **state)
{
	struct config *cfg = load_good("tests/config/good/minimal.yaml");
	const struct service_conf *s;

	assert_null(cfg->global.user);
	assert_null(cfg->global.admin_token_file);
	assert_string_equal(cfg->global.control_socket, "/run/vigil/control.sock");
	assert_false(cfg->global.has_status_listen);
	assert_int_equal(cfg->global.log_level, LOG_LVL_INFO);
	assert_int_equal(cfg->global.maxconn, 100000);
	assert_false(cfg->has_failover);
	assert_int_equal(cfg->nservices, 1);
	s = &cfg->services[0];
	assert_string_equal(s->name, "web");
	assert_ip(&s->vip, "192.0.2.20");
	assert_int_equal(addr_port(&s->vip), 0);
	assert_int_equal(s->vip_prefix, 32);
	assert_int_equal(s->nports, 1);
	assert_int_equal(s->ports[0], 80);
	assert_int_equal(s->scheduler, SCHED_ROUNDROBIN);
	assert_int_equal(s->source_mask, 32);
	assert_int_equal(s->maxconn, 0);
	assert_int_equal(s->backlog, 1024);
	assert_false(s->has_source);
	assert_int_equal(s->timeouts.connect_ms, 5000);
	assert_int_equal(s->timeouts.client_idle_ms, 1800000);
	assert_int_equal(s->timeouts.server_idle_ms, 1800000);
	assert_int_equal(s->timeouts.drain_ms, 60000);
	assert_int_equal(s->timeouts.keepalive_ms, 60000);
	assert_builtin_check(&s->check);
	assert_int_equal(s->nbackends, 1);
	assert_string_equal(s->backends[0].name, "web1");
	assert_ip(&s->backends[0].addr, "198.51.100.21");
	assert_int_equal(addr_port(&s->backends[0].addr), 0);
	assert_int_equal(s->backends[0].port, 0);
	assert_int_equal(s->backends[0].weight, 1);
	assert_int_equal(s->backends[0].maxconn, 0);
	assert_false(s->backends[0].backup);
	assert_int_equal(cfg_backend_port(&s->backends[0], 80), 80);
	cfg_free(cfg);
}

static void test_good_inherit(void **state)
{
	struct config *cfg = load_good("tests/config/good/inherit.yaml");
	const struct service_conf *a, *b, *c;

	assert_int_equal(cfg->nservices, 3);
	a = &cfg->services[0];
	b = &cfg->services[1];
	c = &cfg->services[2];

	/* a: everything from defaults, the rest built-in */
	assert_int_equal(a->scheduler, SCHED_WEIGHTED_LEASTCONN);
	assert_int_equal(a->maxconn, 500);
	assert_int_equal(a->backlog, 256);
	assert_int_equal(a->timeouts.connect_ms, 3000);
	assert_int_equal(a->timeouts.client_idle_ms, 1800000);
	assert_int_equal(a->timeouts.server_idle_ms, 1800000);
	assert_int_equal(a->timeouts.drain_ms, 10000);
	assert_int_equal(a->check.type, CHECK_HTTP);
	assert_int_equal(a->check.interval_ms, 4000);
	assert_int_equal(a->check.timeout_ms, 2000);
	assert_int_equal(a->check.rise, 3);
	assert_int_equal(a->check.fall, 3);
	assert_string_equal(a->check.path, "/health");
	assert_null(a->check.host);
	assert_int_equal(a->check.expect_status, 204);
	assert_int_equal(a->check.on_down, ON_DOWN_CLOSE);

	/* b: single keys overridden, the others still inherited */
	assert_int_equal(b->scheduler, SCHED_ROUNDROBIN);
	assert_int_equal(b->maxconn, 0);
	assert_int_equal(b->backlog, 4096);
	assert_int_equal(b->nports, 2);
	assert_int_equal(b->ports[0], 8081);
	assert_int_equal(b->ports[1], 8082);
	assert_int_equal(b->timeouts.connect_ms, 3000);
	assert_int_equal(b->timeouts.client_idle_ms, 300000);
	assert_int_equal(b->timeouts.server_idle_ms, 1800000);
	assert_int_equal(b->timeouts.drain_ms, 10000);
	assert_int_equal(b->check.type, CHECK_HTTP);
	assert_int_equal(b->check.interval_ms, 5000);
	assert_int_equal(b->check.timeout_ms, 2000);
	assert_int_equal(b->check.rise, 3);
	assert_int_equal(b->check.fall, 5);
	assert_string_equal(b->check.path, "/health");
	assert_int_equal(b->check.expect_status, 204);
	assert_int_equal(b->check.on_down, ON_DOWN_KEEP);
	assert_int_equal(b->backends[0].weight, 0);
	assert_int_equal(b->backends[0].maxconn, 10);
	assert_true(b->backends[0].backup);

	/* c: another check type drops the http keys it inherited */
	assert_int_equal(c->scheduler, SCHED_WEIGHTED_LEASTCONN);
	assert_int_equal(c->check.type, CHECK_SMTP);
	assert_int_equal(c->check.interval_ms, 4000);
	assert_int_equal(c->check.timeout_ms, 500);
	assert_int_equal(c->check.rise, 3);
	assert_null(c->check.path);
	assert_int_equal(c->check.expect_status, 200);
	assert_string_equal(c->check.ehlo, "vigil");
	assert_int_equal(c->check.on_down, ON_DOWN_KEEP);
	assert_int_equal(c->backends[0].port, 2525);
	assert_int_equal(cfg_backend_port(&c->backends[0], 25), 2525);
	cfg_free(cfg);
}

static void test_good_ipv6(void **state)
{
	struct config *cfg = load_good("tests/config/good/ipv6.yaml");
	const struct service_conf *s;

	assert_true(cfg->global.has_status_listen);
	assert_hostport(&cfg->global.status_listen, "[::1]:8404");
	assert_string_equal(cfg->global.admin_token_file, "/etc/vigil/admin.token");
	assert_string_equal(cfg->global.control_socket, "/tmp/vigil-test.sock");
	assert_int_equal(cfg->global.log_level, LOG_LVL_DEBUG);
	assert_int_equal(cfg->global.maxconn, 5000);
	assert_int_equal(cfg->nservices, 3);

	s = &cfg->services[0];
	assert_int_equal(addr_family(&s->vip), AF_INET6);
	assert_ip(&s->vip, "2001:db8::10");
	assert_int_equal(s->vip_prefix, 64);
	assert_int_equal(s->source_mask, 128);
	assert_true(s->has_source);
	assert_ip(&s->source, "2001:db8::1");
	assert_ip(&s->backends[0].addr, "2001:db8:1::11");
	assert_int_equal(s->backends[0].weight, 256);

	s = &cfg->services[1];
	assert_int_equal(s->vip_prefix, 128);
	assert_int_equal(s->source_mask, 56);
	assert_int_equal(addr_family(&s->backends[0].addr), AF_INET);
	assert_int_equal(addr_family(&s->backends[1].addr), AF_INET6);

	s = &cfg->services[2];
	assert_int_equal(addr_family(&s->vip), AF_INET);
	assert_int_equal(s->vip_prefix, 24);
	assert_int_equal(s->source_mask, 0);
	assert_int_equal(s->check.type, CHECK_IMAPS);
	assert_true(s->check.verify);
	assert_string_equal(s->check.ca_file, "/etc/ssl/certs/ca.pem");
	assert_int_equal(s->check.port, 1993);
	cfg_free(cfg);
}

static void test_good_transparent(void **state)
{
	struct config *cfg = load_good("tests/config/good/transparent.yaml");

	assert_int_equal(cfg->nservices, 3);
	assert_true(cfg->services[0].source_client);
	assert_false(cfg->services[0].has_source);
	assert_true(cfg->services[1].source_client);
	assert_int_equal(cfg->services[1].backends[0].port, 2525);
	assert_false(cfg->services[2].source_client);
	assert_true(cfg->services[2].has_source);
	assert_ip(&cfg->services[2].source, "198.51.100.1");
	cfg_free(cfg);
}

static void test_good_failover(void **state)
{
	struct config *cfg = load_good("tests/config/good/failover.yaml");
	const struct failover_conf *f = &cfg->failover;

	assert_true(cfg->has_failover);
	assert_string_equal(f->node, "lb2");
	assert_int_equal(f->group, 7);
	assert_int_equal(f->priority, 90);
	assert_string_equal(f->interface, "eth1");
	assert_int_equal(f->npeers, 2);
	assert_ip(&f->peers[0], "198.51.100.2");
	assert_ip(&f->peers[1], "2001:db8::2");
	assert_int_equal(f->port, 17788);
	assert_int_equal(f->advert_interval_ms, 250);
	assert_false(f->preempt);
	assert_int_equal(f->preempt_delay_ms, 90000);
	assert_string_equal(f->auth_key_file, "/etc/vigil/peer.key");
	assert_int_equal(f->garp_count, 3);
	assert_int_equal(f->garp_interval_ms, 1000);
	assert_int_equal(f->garp_refresh_ms, 300000);
	assert_true(f->track_services);
	assert_int_equal(f->track_weight, 20);
	assert_string_equal(f->notify_exec, "/usr/local/bin/notify");
	assert_true(f->has_email);
	assert_hostport(&f->email.smtp, "[2001:db8::25]:587");
	assert_string_equal(f->email.from, "vigil@example.com");
	assert_int_equal(f->email.nto, 2);
	assert_string_equal(f->email.to[0], "ops@example.com");
	assert_string_equal(f->email.to[1], "oncall@example.com");
	cfg_free(cfg);
}

/* One file for the pair: each node picks itself; groups and addresses. */
static void test_good_pair(void **state)
{
	char path[PATH_MAX + 64];
	struct cfg_errors errs;
	struct config *cfg;
	const struct failover_conf *f;

	src_path(path, sizeof(path), "tests/config/good/pair.yaml");
	cfg = cfg_load_node(path, "lb2", &errs);
	assert_non_null(cfg);
	cfg_errors_free(&errs);
	f = &cfg->failover;
	assert_string_equal(f->node, "lb2");
	assert_int_equal(f->priority, 100);
	assert_string_equal(f->interface, "eth2");
	assert_int_equal(f->npeers, 1);
	assert_ip(&f->peers[0], "192.0.2.11");
	assert_int_equal(f->ngroups, 2);
	assert_int_equal(f->groups[0].id, 51);
	assert_int_equal(f->groups[0].priority, 100);
	assert_true(f->groups[0].preempt);
	assert_false(f->groups[0].track_services);
	assert_int_equal(f->groups[1].id, 52);
	assert_int_equal(f->groups[1].priority, 150);
	assert_false(f->groups[1].preempt);
	assert_true(f->groups[1].track_services);
	assert_int_equal(cfg_service_group(f, "b")->id, 52);
	assert_int_equal(f->naddresses, 1);
	assert_ip(&f->addresses[0].address, "198.51.100.1");
	assert_int_equal(f->addresses[0].prefix, 24);
	assert_string_equal(f->addresses[0].interface, "eth1");
	assert_int_equal(f->addresses[0].group, 51);
	cfg_free(cfg);
	cfg = cfg_load_node(path, "lb1", &errs);
	assert_non_null(cfg);
	cfg_errors_free(&errs);
	assert_int_equal(cfg->failover.priority, 150);
	assert_string_equal(cfg->failover.interface, "eth0");
	assert_ip(&cfg->failover.peers[0], "192.0.2.12");
	assert_int_equal(cfg->failover.groups[0].priority, 150);
	cfg_free(cfg);
	/* a node that is not listed */
	assert_null(cfg_load_node(path, "lb9", &errs));
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.msgs[0], "this node \"lb9\" is not listed"));
	cfg_errors_free(&errs);
}

/* The single-node form makes one group holding every service. */
static void test_good_implicit_group(void **state)
{
	struct config *cfg = load_good("tests/config/good/failover.yaml");
	const struct failover_conf *f = &cfg->failover;

	assert_int_equal(f->ngroups, 1);
	assert_false(f->groups_given);
	assert_int_equal(f->groups[0].id, 7);
	assert_int_equal(f->groups[0].priority, 90);
	assert_int_equal(f->groups[0].nservices, cfg->nservices);
	assert_int_equal(f->nnodes, 0);
	cfg_free(cfg);
}

/* Flow style throughout; failover built-in defaults; node from the host name. */
static void test_good_flow(void **state)
{
	struct config *cfg = load_good("tests/config/good/flow.yaml");
	const struct failover_conf *f = &cfg->failover;
	const struct service_conf *s = &cfg->services[0];
	char host[256];

	assert_int_equal(cfg->global.log_level, LOG_LVL_WARNING);
	assert_string_equal(cfg->global.user, "nobody");
	assert_int_equal(s->nports, 2);
	assert_int_equal(s->ports[1], 587);
	assert_int_equal(s->scheduler, SCHED_LEASTCONN);
	assert_int_equal(s->nbackends, 2);
	assert_true(s->backends[1].backup);
	assert_int_equal(s->check.type, CHECK_POP3);
	assert_true(s->check.starttls);
	assert_true(s->check.verify);

	assert_true(cfg->has_failover);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(f->node, host);
	assert_int_equal(f->group, 1);
	assert_int_equal(f->priority, 100);
	assert_int_equal(f->npeers, 0);
	assert_int_equal(f->port, 7788);
	assert_int_equal(f->advert_interval_ms, 100);
	assert_true(f->preempt);
	assert_int_equal(f->preempt_delay_ms, 0);
	assert_string_equal(f->auth_key_file, "k");
	assert_int_equal(f->garp_count, 5);
	assert_int_equal(f->garp_interval_ms, 200);
	assert_int_equal(f->garp_refresh_ms, 0);
	assert_false(f->track_services);
	assert_int_equal(f->track_weight, 50);
	assert_null(f->notify_exec);
	assert_false(f->has_email);
	cfg_free(cfg);
}

static void test_good_checks(void **state)
{
	struct config *cfg = load_good("tests/config/good/checks.yaml");
	const struct check_conf *c;

	assert_int_equal(cfg->nservices, 5);
	c = &cfg->services[0].check;            /* http: path from defaults */
	assert_int_equal(c->type, CHECK_HTTP);
	assert_string_equal(c->path, "/ping");
	assert_null(c->ehlo);
	assert_int_equal(c->expect_status, 200);

	c = &cfg->services[1].check;            /* https: every key */
	assert_int_equal(c->type, CHECK_HTTPS);
	assert_string_equal(c->path, "/owa/healthcheck.htm");
	assert_string_equal(c->host, "mail.example.com");
	assert_int_equal(c->expect_status, 301);
	assert_string_equal(c->expect_body, "It works");
	assert_true(c->verify);
	assert_string_equal(c->ca_file, "/etc/vigil/ca.pem");
	assert_int_equal(c->port, 8443);

	c = &cfg->services[2].check;            /* smtp: ehlo from defaults */
	assert_int_equal(c->type, CHECK_SMTP);
	assert_string_equal(c->ehlo, "lb.example.com");
	assert_null(c->path);
	assert_false(c->starttls);

	c = &cfg->services[3].check;
	assert_int_equal(c->type, CHECK_IMAP);
	assert_true(c->starttls);
	assert_null(c->ehlo);
	assert_null(c->path);
	assert_int_equal(c->interval_ms, 250);
	assert_int_equal(c->timeout_ms, 250);

	assert_builtin_check(&cfg->services[4].check);
	cfg_free(cfg);
}

/* examples/vigil.yaml: the interface page's example, value by value. */
static void test_example(void **state)
{
	struct config *cfg = load_good("examples/vigil.yaml");
	const struct service_conf *h, *m;
	const struct failover_conf *f = &cfg->failover;

	assert_string_equal(cfg->global.user, "vigil");
	assert_string_equal(cfg->global.control_socket, "/run/vigil/control.sock");
	assert_hostport(&cfg->global.status_listen, "127.0.0.1:8404");
	assert_int_equal(cfg->global.log_level, LOG_LVL_INFO);
	assert_int_equal(cfg->global.maxconn, 100000);
	assert_int_equal(cfg->nservices, 2);

	h = &cfg->services[0];
	assert_string_equal(h->name, "exchange-https");
	assert_ip(&h->vip, "192.0.2.10");
	assert_int_equal(h->ports[0], 443);
	assert_int_equal(h->scheduler, SCHED_SOURCE_HASH);
	assert_int_equal(h->source_mask, 24);
	assert_int_equal(h->maxconn, 20000);
	assert_int_equal(h->nbackends, 3);
	assert_string_equal(h->backends[0].name, "cas1");
	assert_int_equal(h->backends[0].weight, 2);
	assert_int_equal(h->backends[0].maxconn, 5000);
	assert_string_equal(h->backends[2].name, "sorry");
	assert_true(h->backends[2].backup);
	assert_int_equal(h->check.type, CHECK_HTTPS);
	assert_string_equal(h->check.path, "/owa/healthcheck.htm");
	assert_string_equal(h->check.host, "mail.example.com");
	assert_int_equal(h->check.expect_status, 200);
	assert_int_equal(h->check.interval_ms, 2000);
	assert_int_equal(h->timeouts.drain_ms, 60000);
	assert_int_equal(h->timeouts.keepalive_ms, 60000);

	m = &cfg->services[1];
	assert_string_equal(m->name, "exchange-smtp");
	assert_int_equal(m->nports, 2);
	assert_int_equal(m->ports[0], 25);
	assert_int_equal(m->ports[1], 587);
	assert_int_equal(m->scheduler, SCHED_LEASTCONN);
	assert_int_equal(m->check.type, CHECK_SMTP);
	assert_string_equal(m->check.ehlo, "vigil.example.com");
	assert_true(m->check.starttls);
	assert_int_equal(m->check.interval_ms, 5000);
	assert_int_equal(m->check.timeout_ms, 1000);
	assert_int_equal(cfg_backend_port(&m->backends[0], 587), 587);

	assert_true(cfg->has_failover);
	assert_string_equal(f->node, "lb1");
	assert_int_equal(f->group, 51);
	assert_int_equal(f->priority, 150);
	assert_string_equal(f->interface, "eth0");
	assert_int_equal(f->npeers, 1);
	assert_ip(&f->peers[0], "198.51.100.2");
	assert_int_equal(f->advert_interval_ms, 100);
	assert_true(f->preempt);
	assert_int_equal(f->preempt_delay_ms, 0);
	assert_int_equal(f->garp_count, 5);
	assert_int_equal(f->garp_interval_ms, 200);
	assert_true(f->track_services);
	assert_int_equal(f->track_weight, 50);
	assert_string_equal(f->notify_exec, "/etc/vigil/notify.sh");
	assert_hostport(&f->email.smtp, "198.51.100.25:25");
	assert_string_equal(f->email.to[0], "ops@example.com");
	cfg_free(cfg);
}

/* Every .yaml file in examples/ loads. */
static void test_examples_all_load(void **state)
{
	char dir[PATH_MAX], rel[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d;

	src_path(dir, sizeof(dir), "examples");
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		snprintf(rel, sizeof(rel), "examples/%s", de->d_name);
		cfg_free(load_good(rel));
		n++;
	}
	closedir(d);
	assert_true(n >= 1);
}

static void test_load_string(void **state)
{
	static const char text[] = "services: [{name: a, vip: 192.0.2.1, ports: [1], "
				   "backends: [{name: b, address: 198.51.100.1}]}]";
	struct cfg_errors errs = { 0 };
	struct config *cfg = cfg_load_string("mem", text, strlen(text), &errs);

	assert_non_null(cfg);
	assert_int_equal(errs.count, 0);
	assert_null(errs.msgs);
	assert_string_equal(cfg->path, "mem");
	assert_string_equal(cfg->services[0].backends[0].name, "b");
	cfg_free(cfg);
	cfg_errors_free(&errs);
	cfg_free(NULL);
}

/* host names the TLS server of any TLS check, not only of http(s). */
static void test_tls_host(void **state)
{
	static const char ok[] =
		"services:\n"
		"  - {name: imap, vip: 192.0.2.10, ports: [993],\n"
		"     backends: [{name: mb1, address: 198.51.100.11}],\n"
		"     check: {type: imaps, host: mail.example.com, verify: true}}\n"
		"  - {name: smtp, vip: 192.0.2.10, ports: [25],\n"
		"     backends: [{name: mx1, address: 198.51.100.11}],\n"
		"     check: {type: smtp, starttls: true, host: mx.example.com}}\n";
	static const char bad[] =
		"services:\n"
		"  - {name: smtp, vip: 192.0.2.10, ports: [25],\n"
		"     backends: [{name: mx1, address: 198.51.100.11}],\n"
		"     check: {type: smtp, host: mx.example.com}}\n";
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string("t.yaml", ok, strlen(ok), &errs);

	assert_non_null(cfg);
	assert_string_equal(cfg->services[0].check.host, "mail.example.com");
	assert_string_equal(cfg->services[1].check.host, "mx.example.com");
	cfg_free(cfg);
	cfg_errors_free(&errs);
	assert_null(cfg_load_string("t.yaml", bad, strlen(bad), &errs));
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.msgs[0], "t.yaml:4:26: services[0].check.host: not valid for "
			    "check type smtp (expected type http, https, imaps, pop3s, starttls: true, "
			    "or tls: true)");
	cfg_errors_free(&errs);
}

/* timeouts.keepalive: 60s unless said, inherited from defaults like the
 * other timeouts, overridden per service, 0 turns it off. */
static void test_keepalive(void **state)
{
	static const char text[] =
		"services:\n"
		"  - {name: a, vip: 192.0.2.10, ports: [80], backends: [{name: x, address: 198.51.100.11}]}\n";
	static const char inherit[] =
		"defaults: {timeouts: {keepalive: 2m, connect: 2s}}\n"
		"services:\n"
		"  - {name: a, vip: 192.0.2.10, ports: [80], backends: [{name: x, address: 198.51.100.11}]}\n"
		"  - {name: b, vip: 192.0.2.10, ports: [81], timeouts: {keepalive: 0},\n"
		"     backends: [{name: x, address: 198.51.100.11}]}\n"
		"  - {name: c, vip: 192.0.2.10, ports: [82], timeouts: {client_idle: 5m},\n"
		"     backends: [{name: x, address: 198.51.100.11}]}\n"
		"  - {name: d, vip: 192.0.2.10, ports: [83], timeouts: {keepalive: 9h},\n"
		"     backends: [{name: x, address: 198.51.100.11}]}\n";
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string("t.yaml", text, strlen(text), &errs);

	assert_non_null(cfg);
	assert_int_equal(cfg->services[0].timeouts.keepalive_ms, 60000);
	cfg_free(cfg);
	cfg_errors_free(&errs);

	cfg = cfg_load_string("t.yaml", inherit, strlen(inherit), &errs);
	if (!cfg)
		print_errors(&errs);
	assert_non_null(cfg);
	assert_int_equal(cfg->services[0].timeouts.keepalive_ms, 120000);
	assert_int_equal(cfg->services[0].timeouts.connect_ms, 2000);
	assert_int_equal(cfg->services[1].timeouts.keepalive_ms, 0);
	assert_int_equal(cfg->services[1].timeouts.connect_ms, 2000);
	assert_int_equal(cfg->services[2].timeouts.keepalive_ms, 120000);
	assert_int_equal(cfg->services[2].timeouts.client_idle_ms, 300000);
	assert_int_equal(cfg->services[3].timeouts.keepalive_ms, 9 * 3600000);
	cfg_free(cfg);
	cfg_errors_free(&errs);
}

/* A backend at the VIP on a port the service does not serve is no loop. */
static void test_backend_at_vip_other_port(void **state)
{
	static const char text[] =
		"services:\n"
		"  - {name: a, vip: 192.0.2.10, ports: [80],\n"
		"     backends: [{name: x, address: 192.0.2.10, port: 8080}]}\n"
		"  - {name: b, vip: 192.0.2.11, ports: [25],\n"
		"     backends: [{name: x, address: 192.0.2.10}]}\n";
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string("t.yaml", text, strlen(text), &errs);

	if (!cfg)
		print_errors(&errs);
	assert_non_null(cfg);
	cfg_free(cfg);
	cfg_errors_free(&errs);
}

/* send_proxy: per service, default none; a backend's own key overrides it,
 * none included; the others inherit wherever the service's key stands. */
static void test_send_proxy(void **state)
{
	static const char text[] =
		"services:\n"
		"  - name: smtp\n"
		"    vip: 192.0.2.10\n"
		"    ports: [25]\n"
		"    backends:\n"
		"      - {name: mx1, address: 198.51.100.11}\n"
		"      - {name: mx2, address: 198.51.100.12, send_proxy: none}\n"
		"      - {name: mx3, address: 198.51.100.13, send_proxy: v1}\n"
		"    send_proxy: v2\n"
		"  - name: web\n"
		"    vip: 192.0.2.10\n"
		"    ports: [80]\n"
		"    backends:\n"
		"      - {name: w1, address: 198.51.100.21}\n"
		"      - {name: w2, address: 198.51.100.22, send_proxy: v1}\n";
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string("p.yaml", text, strlen(text), &errs);

	assert_non_null(cfg);
	assert_int_equal(cfg->services[0].send_proxy, SEND_PROXY_V2);
	assert_int_equal(cfg->services[0].backends[0].send_proxy, SEND_PROXY_V2);
	assert_int_equal(cfg->services[0].backends[1].send_proxy, SEND_PROXY_NONE);
	assert_int_equal(cfg->services[0].backends[2].send_proxy, SEND_PROXY_V1);
	assert_int_equal(cfg->services[1].send_proxy, SEND_PROXY_NONE);
	assert_int_equal(cfg->services[1].backends[0].send_proxy, SEND_PROXY_NONE);
	assert_int_equal(cfg->services[1].backends[1].send_proxy, SEND_PROXY_V1);
	assert_string_equal(cfg_send_proxy_name(SEND_PROXY_V2), "v2");
	cfg_free(cfg);
	cfg_errors_free(&errs);
}

static void test_duration(void **state)
{
	static const struct { const char *s; int rc; uint32_t ms; } t[] = {
		{ "0", 0, 0 }, { "0ms", 0, 0 }, { "0s", 0, 0 }, { "250ms", 0, 250 },
		{ "5s", 0, 5000 }, { "30m", 0, 1800000 }, { "1h", 0, 3600000 },
		{ "1h30m", 0, 5400000 }, { "1m30s", 0, 90000 }, { "2s500ms", 0, 2500 },
		{ "1193h", 0, 4294800000u }, { "4294967295ms", 0, 4294967295u },
		{ "4294967296ms", -1, 0 }, { "1194h", -1, 0 }, { "99999999999999999999s", -1, 0 },
		{ "5", -1, 0 }, { "00", -1, 0 }, { "-5s", -1, 0 }, { "-0", -1, 0 },
		{ "", -1, 0 }, { "s", -1, 0 }, { "5x", -1, 0 }, { "5 s", -1, 0 },
		{ " 5s", -1, 0 }, { "5s ", -1, 0 }, { "5S", -1, 0 }, { "1.5s", -1, 0 },
		{ "5d", -1, 0 }, { "30s1m", -1, 0 }, { "5s5s", -1, 0 }, { "5ms5", -1, 0 },
		{ "+5s", -1, 0 }, { "0x10s", -1, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t ms = 12345;
		int rc = cfg_parse_duration(t[i].s, &ms);

		if (rc != t[i].rc)
			fprintf(stderr, "duration \"%s\": rc %d\n", t[i].s, rc);
		assert_int_equal(rc, t[i].rc);
		if (rc == 0)
			assert_int_equal(ms, t[i].ms);
	}
}

static void test_names(void **state)
{
	assert_string_equal(cfg_sched_name(SCHED_ROUNDROBIN), "roundrobin");
	assert_string_equal(cfg_sched_name(SCHED_WEIGHTED_ROUNDROBIN), "weighted-roundrobin");
	assert_string_equal(cfg_sched_name(SCHED_LEASTCONN), "leastconn");
	assert_string_equal(cfg_sched_name(SCHED_WEIGHTED_LEASTCONN), "weighted-leastconn");
	assert_string_equal(cfg_sched_name(SCHED_SOURCE_HASH), "source-hash");
	assert_string_equal(cfg_check_type_name(CHECK_TCP), "tcp");
	assert_string_equal(cfg_check_type_name(CHECK_HTTP), "http");
	assert_string_equal(cfg_check_type_name(CHECK_HTTPS), "https");
	assert_string_equal(cfg_check_type_name(CHECK_SMTP), "smtp");
	assert_string_equal(cfg_check_type_name(CHECK_IMAP), "imap");
	assert_string_equal(cfg_check_type_name(CHECK_IMAPS), "imaps");
	assert_string_equal(cfg_check_type_name(CHECK_POP3), "pop3");
	assert_string_equal(cfg_check_type_name(CHECK_POP3S), "pop3s");
}

/* maxconn against the open file limit: never more than the descriptors allow. */
/* check: as a list: each entry starts from defaults.check, keeps its own
 * port, timing and ports:, and counts as a probe for the fd budget. */
static void test_check_list(void **state)
{
	static const char text[] =
		"defaults: {check: {interval: 4s, timeout: 2s, rise: 3}}\n"
		"services:\n"
		"  - name: web\n"
		"    vip: 192.0.2.10\n"
		"    ports: [443, 444]\n"
		"    on_down: close\n"
		"    backends: [{name: a, address: 198.51.100.1}, {name: b, address: 198.51.100.2}]\n"
		"    check:\n"
		"      - {type: https, path: /owa/healthcheck.htm, fall: 2}\n"
		"      - {type: tcp, ports: [444], interval: 1s, timeout: 500ms}\n";
	struct cfg_errors errs = { 0 };
	struct config *cfg = cfg_load_string("l.yaml", text, strlen(text), &errs);
	const struct service_conf *s;

	print_errors(&errs);
	assert_non_null(cfg);
	s = &cfg->services[0];
	assert_int_equal(s->nchecks, 2);
	assert_int_equal(s->checks[0].type, CHECK_HTTPS);
	assert_string_equal(s->checks[0].path, "/owa/healthcheck.htm");
	assert_int_equal(s->checks[0].interval_ms, 4000);
	assert_int_equal(s->checks[0].rise, 3);
	assert_int_equal(s->checks[0].fall, 2);
	assert_int_equal(s->checks[0].ngate_ports, 0);
	assert_int_equal(s->checks[1].type, CHECK_TCP);
	assert_null(s->checks[1].path);
	assert_int_equal(s->checks[1].interval_ms, 1000);
	assert_int_equal(s->checks[1].ngate_ports, 1);
	assert_int_equal(s->checks[1].gate_ports[0], 444);
	assert_int_equal(s->check.on_down, ON_DOWN_CLOSE);
	assert_int_equal(cfg_probe_count(cfg), 4);
	assert_true(cfg_check_equal(&s->checks[0], &s->checks[0]));
	assert_false(cfg_check_equal(&s->checks[0], &s->checks[1]));
	cfg_free(cfg);
	cfg_errors_free(&errs);
}

static void test_maxconn_fit(void **state)
{
	static const char text[] =
		"global: {maxconn: 5000}\n"
		"services:\n"
		"  - name: web\n"
		"    vip: 192.0.2.10\n"
		"    ports: [80]\n"
		"    backends: [{name: a, address: 198.51.100.1}, {name: b, address: 198.51.100.2}]\n";
	struct cfg_errors errs;
	struct config *cfg = cfg_load_string("m.yaml", text, strlen(text), &errs);
	char msg[256];

	assert_non_null(cfg);
	assert_true(cfg->global.maxconn_set);
	assert_int_equal(cfg->global.maxconn, 5000);
	assert_int_equal(cfg_probe_count(cfg), 2);
	/* 2 x 5000 + 2 + 64 = 10066 */
	assert_int_equal(cfg_maxconn_fit(5000, 10066, 2, msg, sizeof(msg)), 5000);
	assert_string_equal(msg, "");
	assert_int_equal(cfg_maxconn_fit(5000, 10065, 2, msg, sizeof(msg)), 4999);
	assert_non_null(strstr(msg, "open file limit is 10065"));
	/* the usual 1024 against the default 100000 */
	assert_int_equal(cfg_maxconn_fit(100000, 1024, 2, msg, sizeof(msg)), (1024 - 66) / 2);
	assert_int_equal(cfg_maxconn_fit(100000, 10, 2, msg, sizeof(msg)), 1);
	cfg_free(cfg);
	cfg = cfg_load_string("m.yaml", text + 24, strlen(text + 24), &errs);
	assert_non_null(cfg);
	assert_false(cfg->global.maxconn_set);
	assert_int_equal(cfg->global.maxconn, 100000);
	cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_good_pair),
		cmocka_unit_test(test_good_implicit_group),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_backend_at_vip_other_port),
		cmocka_unit_test(test_bad_files_all_listed),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_spec_message),
		cmocka_unit_test(test_errors_file_order),
		cmocka_unit_test(test_failover_sync),
		cmocka_unit_test(test_service_persist),
		cmocka_unit_test(test_good_minimal),
		cmocka_unit_test(test_good_inherit),
		cmocka_unit_test(test_good_ipv6),
		cmocka_unit_test(test_good_transparent),
		cmocka_unit_test(test_good_failover),
		cmocka_unit_test(test_good_flow),
		cmocka_unit_test(test_good_checks),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_examples_all_load),
		cmocka_unit_test(test_load_string),
		cmocka_unit_test(test_tls_host),
		cmocka_unit_test(test_send_proxy),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_maxconn_fit),
		cmocka_unit_test(test_check_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
