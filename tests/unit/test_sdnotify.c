/* test_sdnotify.c - when vigild declares itself ready to systemd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/sdnotify.h"

static struct sdnotify_facts facts(unsigned pending, const char *fo, double waited)
{
	return (struct sdnotify_facts){ .probes_pending = pending, .failover = fo,
					.waited = waited, .backup_settle = 0.4, .limit = 5.0 };
}

static enum sdnotify_verdict decide(unsigned pending, const char *fo, double waited)
{
	struct sdnotify_facts f = facts(pending, fo, waited);

	return sdnotify_decide(&f);
}

static void test_standalone_waits_for_first_probes(void **state)
{
	assert_int_equal(decide(2, "standalone", 0.1), SDNOTIFY_WAIT);
	assert_int_equal(decide(0, "standalone", 0.0), SDNOTIFY_READY);
}

static void test_backup_settles_after_master_down(void **state)
{
	assert_int_equal(decide(0, "backup", 0.1), SDNOTIFY_WAIT);
	assert_int_equal(decide(0, "backup", 0.4), SDNOTIFY_READY);
	assert_int_equal(decide(0, "master", 0.1), SDNOTIFY_READY);
	assert_int_equal(decide(0, "fault", 0.0), SDNOTIFY_READY);
	assert_int_equal(decide(0, "init", 1.0), SDNOTIFY_WAIT);
}

/* failover.sync: not ready while the peer's operator state is awaited
 * (nothing is served then), whatever the failover state; late at the limit. */
static void test_learning_waits(void **state)
{
	struct sdnotify_facts f = facts(0, "backup", 1.0);

	f.learning = true;
	assert_int_equal(sdnotify_decide(&f), SDNOTIFY_WAIT);
	f.failover = "master";
	assert_int_equal(sdnotify_decide(&f), SDNOTIFY_WAIT);
	f.waited = 5.0;
	assert_int_equal(sdnotify_decide(&f), SDNOTIFY_LATE);
	f.learning = false;
	assert_int_equal(sdnotify_decide(&f), SDNOTIFY_READY);
}

static void test_limit_ends_the_wait(void **state)
{
	assert_int_equal(decide(1, "standalone", 4.9), SDNOTIFY_WAIT);
	assert_int_equal(decide(1, "standalone", 5.0), SDNOTIFY_LATE);
	assert_int_equal(decide(0, "init", 6.0), SDNOTIFY_LATE);
	/* settled wins over late */
	assert_int_equal(decide(0, "master", 60.0), SDNOTIFY_READY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_standalone_waits_for_first_probes),
		cmocka_unit_test(test_backup_settles_after_master_down),
		cmocka_unit_test(test_learning_waits),
		cmocka_unit_test(test_limit_ends_the_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
