/* test_status.c - status JSON, table and Prometheus metrics of hand-built
 * services: escaping of odd names, the JSON shape (checked by Python's json
 * module), the exposition format (checked line by line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/addr.h"
#include "common/buf.h"
#include "config/config.h"
#include "ctl/status.h"
#include "lb/backend.h"
#include "lb/service.h"

#define PYTHON "/usr/bin/python3"

struct fixture {
	struct service_conf sc;
	uint16_t ports[2];
	struct service svc;
	struct backend be[3];
	struct backend *bes[3];
};

static void fixture_backend(struct backend *b, const char *name, const char *ip)
{
	memset(b, 0, sizeof(*b));
	b->name = (char *)name;
	assert_int_equal(addr_parse_ip(ip, &b->addr), 0);
	b->weight = 1;
	b->state = BACKEND_UP;
	b->healthy = true;
	snprintf(b->check_last, sizeof(b->check_last), "ok");
}

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->sc.name = (char *)"smtp \"main\"";
	assert_int_equal(addr_parse_ip("192.0.2.10", &f->sc.vip), 0);
	f->sc.vip_prefix = 24;
	f->ports[0] = 25;
	f->ports[1] = 587;
	f->sc.ports = f->ports;
	f->sc.nports = 2;
	f->sc.scheduler = SCHED_LEASTCONN;
	f->sc.check.type = CHECK_SMTP;

	fixture_backend(&f->be[0], "mx1", "198.51.100.11");
	f->be[0].active = 3;
	f->be[0].total = 1200;
	f->be[0].bytes_in = 12345678901ull;
	snprintf(f->be[0].check_detail, sizeof(f->be[0].check_detail), "250 mx1 Hello");
	fixture_backend(&f->be[1], "mx\"2\\\n", "2001:db8::12");
	f->be[1].port = 2525;
	f->be[1].state = BACKEND_DOWN;
	f->be[1].weight = 0;
	snprintf(f->be[1].check_last, sizeof(f->be[1].check_last), "protocol");
	snprintf(f->be[1].check_detail, sizeof(f->be[1].check_detail),
		 "421 4.3.2 \"busy\"\r\n\001tab\there \\ end");
	fixture_backend(&f->be[2], "sorry", "198.51.100.99");
	f->be[2].backup = true;
	f->be[2].state = BACKEND_MAINT;
	memset(f->be[2].check_last, 0, sizeof(f->be[2].check_last));

	for (int i = 0; i < 3; i++)
		f->bes[i] = &f->be[i];
	f->svc.name = f->sc.name;
	f->svc.conf = &f->sc;
	f->svc.live = true;
	f->svc.sched_kind = SCHED_LEASTCONN;
	f->svc.backends = f->bes;
	f->svc.nbackends = 3;
	f->svc.available = true;
	f->svc.active = 3;
	f->svc.total = 1212;
	f->svc.refused = 4;
	f->svc.local_errors = 2;
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	free(*state);
	return 0;
}

/* Run the Python program src with text on its stdin; its exit status.
 * quiet: the failure is expected, keep its traceback off the test output. */
static int python_check(const char *src, const struct buf *text, int quiet)
{
	char path[] = "/tmp/vigil-test-status-XXXXXX", cmd[128];
	FILE *p;
	int fd, rc;

	if (access(PYTHON, X_OK) != 0)
		skip();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, src, strlen(src)), (ssize_t)strlen(src));
	close(fd);
	snprintf(cmd, sizeof(cmd), PYTHON " %s%s", path, quiet ? " 2>/dev/null" : "");
	p = popen(cmd, "w");
	assert_non_null(p);
	fwrite(text->data, 1, text->len, p);
	rc = pclose(p);
	unlink(path);
	return rc;
}

static const char json_checker[] =
	"import json, sys\n"
	"s = json.load(sys.stdin)\n"
	"assert s['name'] == 'smtp \"main\"', s['name']\n"
	"assert s['vip'] == '192.0.2.10' and s['ports'] == [25, 587]\n"
	"assert s['scheduler'] == 'leastconn' and s['available'] is True\n"
	"assert (s['active'], s['total'], s['refused']) == (3, 1212, 4)\n"
	"assert s['local_errors'] == 2, s\n"
	"b = s['backends']\n"
	"assert [x['name'] for x in b] == ['mx1', 'mx\"2\\\\\\n', 'sorry'], b\n"
	"assert b[0]['address'] == '198.51.100.11' and b[0]['port'] == 25\n"
	"assert b[0]['state'] == 'up' and b[0]['active'] == 3 and b[0]['total'] == 1200\n"
	"assert b[0]['bytes_in'] == 12345678901 and b[0]['backup'] is False\n"
	"assert b[0]['check'] == {'type': 'smtp', 'last': 'ok', 'detail': '250 mx1 Hello',\n"
	"                      'local_errors': 0}\n"
	"assert b[1]['address'] == '2001:db8::12' and b[1]['port'] == 2525\n"
	"assert b[1]['state'] == 'down' and b[1]['weight'] == 0\n"
	/* remote text is cleaned (common/text.h): escaped, one line, bounded */
	"assert b[1]['check']['detail'] == "
	"'421 4.3.2 \"busy\"\\\\x0d\\\\x0a\\\\x01tab\\\\x09here \\\\\\\\ end'\n"
	"assert b[2]['state'] == 'maint' and b[2]['backup'] is True\n"
	"assert b[2]['check']['last'] == 'none'\n"
	"for x in b:\n"
	"    for k in ('connect_fail', 'bytes_out', 'maxconn', 'last_change', 'weight'):\n"
	"        assert k in x, k\n";

static void test_json_service(void **state)
{
	struct fixture *f = *state;
	struct buf b;

	buf_init(&b);
	status_json_service(&f->svc, &b);
	assert_int_equal(python_check(json_checker, &b, 0), 0);
	buf_free(&b);
}

/* A service removed by a reload (no conf) still renders valid JSON. */
static void test_json_retired_service(void **state)
{
	struct fixture *f = *state;
	struct buf b;

	f->svc.conf = NULL;
	f->svc.nbackends = 0;
	buf_init(&b);
	status_json_service(&f->svc, &b);
	assert_int_equal(python_check("import json, sys\n"
				      "s = json.load(sys.stdin)\n"
				      "assert s['ports'] == [] and s['backends'] == []\n", &b, 0), 0);
	buf_free(&b);
}

static void test_text_service(void **state)
{
	struct fixture *f = *state;
	struct buf b;
	char *l1, *l2, *l3;

	buf_init(&b);
	status_text_service(&f->svc, &b);
	assert_non_null(strstr(b.data, "smtp \"main\"  192.0.2.10:25,587  leastconn  available"));
	/* no control character reaches the terminal */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] != '\n')
			assert_true((unsigned char)b.data[i] >= 0x20);
	assert_non_null(strstr(b.data, "[2001:db8::12]:2525"));
	assert_non_null(strstr(b.data, "sorry (backup)"));
	assert_non_null(strstr(b.data, "ok: 250 mx1 Hello"));
	/* the server's reply cleaned as everywhere else (common/text.h) */
	assert_non_null(strstr(b.data, "protocol: 421 4.3.2 \"busy\"\\x0d\\x0a\\x01tab\\x09here "
			       "\\\\ end"));
	/* columns line up: STATE starts at the same offset on every row */
	l1 = strstr(b.data, "BACKEND");
	l2 = strstr(b.data, "mx1");
	l3 = strstr(b.data, "sorry");
	assert_non_null(l1);
	assert_non_null(l2);
	assert_non_null(l3);
	assert_int_equal(strstr(l1, "STATE") - l1, strstr(l2, "up ") - l2);
	assert_int_equal(strstr(l1, "STATE") - l1, strstr(l3, "maint") - l3);
	buf_free(&b);
}

/* The exposition format, line by line: HELP then TYPE then the samples of one
 * family, contiguous; names and escaped label values as the format says. */
static const char prom_checker[] =
	"import re, sys\n"
	"lab = r'[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\"'\n"
	"smp = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{' + lab + '(?:,' + lab + r')*\\})? "
	"(-?[0-9]+(?:\\.[0-9]+)?)$')\n"
	"text = sys.stdin.read()\n"
	"assert text.endswith('\\n')\n"
	"seen, cur, n = set(), None, 0\n"
	"for line in text.split('\\n')[:-1]:\n"
	"    if line.startswith('# HELP '):\n"
	"        cur = line.split()[2]\n"
	"        assert cur not in seen and cur.startswith('vigil_'), cur\n"
	"        seen.add(cur)\n"
	"        continue\n"
	"    if line.startswith('# TYPE '):\n"
	"        t = line.split()\n"
	"        assert t[2] == cur and t[3] in ('gauge', 'counter') and len(t) == 4, line\n"
	"        assert (t[3] == 'counter') == cur.endswith('_total'), line\n"
	"        continue\n"
	"    m = smp.match(line)\n"
	"    assert m and m.group(1) == cur, line\n"
	"    n += 1\n"
	"want = {'vigil_backend_up', 'vigil_backend_state', 'vigil_backend_active_connections',\n"
	"        'vigil_backend_connections_total', 'vigil_backend_bytes_in_total',\n"
	"        'vigil_backend_bytes_out_total', 'vigil_backend_connect_failures_total',\n"
	"        'vigil_backend_weight', 'vigil_service_active_connections',\n"
	"        'vigil_service_connections_total', 'vigil_service_refused_total',\n"
	"        'vigil_service_available', 'vigil_service_local_errors_total'}\n"
	"assert want <= seen, want - seen\n"
	"assert 'vigil_backend_up{service=\"smtp \\\\\"main\\\\\"\",backend=\"mx1\"} 1\\n' in text\n"
	"assert 'vigil_backend_up{service=\"smtp \\\\\"main\\\\\"\",backend=\"mx\\\\\"2\\\\\\\\\\\\n\"} 0\\n'"
	" in text\n"
	"assert 'backend=\"sorry\",state=\"maint\"} 1\\n' in text\n"
	"assert 'backend=\"sorry\",state=\"up\"} 0\\n' in text\n"
	"assert 'vigil_backend_bytes_in_total{service=\"smtp \\\\\"main\\\\\"\",backend=\"mx1\"} "
	"12345678901\\n' in text\n"
	"assert 'vigil_service_refused_total{service=\"smtp \\\\\"main\\\\\"\"} 4\\n' in text\n"
	"assert 'vigil_service_local_errors_total{service=\"smtp \\\\\"main\\\\\"\"} 2\\n' in text\n";

static void test_metrics_services(void **state)
{
	struct fixture *f = *state;
	struct service *svcs[1] = { &f->svc };
	struct buf b;

	buf_init(&b);
	status_metrics_services(svcs, 1, &b);
	assert_int_equal(python_check(prom_checker, &b, 0), 0);
	buf_free(&b);
}

/* The checker itself must refuse broken exposition text. */
static void test_metrics_checker_fails(void **state)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, "# HELP vigil_x x\n# TYPE vigil_x gauge\nvigil_x{a=\"\"\"} 1\n");
	assert_int_not_equal(python_check(prom_checker, &b, 1), 0);
	buf_reset(&b);
	buf_puts(&b, "{\"name\": \"a\nb\"}");
	assert_int_not_equal(python_check("import json, sys\njson.load(sys.stdin)\n", &b, 1), 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_service, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_json_retired_service, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_text_service, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_metrics_services, fixture_setup,
						fixture_teardown),
		cmocka_unit_test(test_metrics_checker_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
