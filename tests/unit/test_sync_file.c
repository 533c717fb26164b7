/* test_sync_file.c - the atomic install of a configuration file: FILE.prev
 * kept, mode kept, no temporary left behind, errors reported. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync/sync.h"

static char dir[] = "/tmp/vigil-sync-file-XXXXXX";

static void slurp(const char *path, char *out, size_t cap)
{
	char *t = NULL, err[256];
	size_t n = 0;

	assert_int_equal(sync_file_read(path, &t, &n, err, sizeof(err)), 0);
	assert_true(n < cap);
	memcpy(out, t, n);
	out[n] = '\0';
	free(t);
}

static size_t entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_install(void **state)
{
	char path[256], prev[256], got[64], err[256];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/vigil.yaml", dir);
	snprintf(prev, sizeof(prev), "%s/vigil.yaml.prev", dir);
	/* no file yet: installed, no .prev */
	assert_int_equal(sync_file_install(path, "one\n", 4, err, sizeof(err)), 0);
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "one\n");
	assert_int_equal(access(prev, F_OK), -1);
	chmod(path, 0600);
	/* a second one: the first is kept as .prev, the mode stays */
	assert_int_equal(sync_file_install(path, "two\n", 4, err, sizeof(err)), 0);
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "two\n");
	slurp(prev, got, sizeof(got));
	assert_string_equal(got, "one\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(entries(), 2);
	/* .prev cannot be replaced (a directory): refused, the file untouched */
	unlink(prev);
	assert_int_equal(mkdir(prev, 0700), 0);
	f = fopen(strcat(strcpy(got, prev), "/x"), "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(sync_file_install(path, "three\n", 6, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "vigil.yaml.prev"));
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "two\n");
	assert_int_equal(entries(), 2);
	unlink(strcat(strcpy(got, prev), "/x"));
	rmdir(prev);
	unlink(path);
}

static void test_read_limits(void **state)
{
	char path[256], err[256];
	char *t = NULL;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	assert_int_equal(sync_file_read(path, &t, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < SYNC_MAX_PAYLOAD / 1000 + 1; i++)
		fprintf(f, "%01000d", 0);
	fclose(f);
	assert_int_equal(sync_file_read(path, &t, &n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than"));
	unlink(path);
}

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_install),
		cmocka_unit_test(test_read_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
