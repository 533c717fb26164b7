/* main.c - vigild's command line. */
#include "daemon/vigild.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vigild -c FILE          run in the foreground, log to stderr\n"
		"       vigild -c FILE -t       check FILE and exit: 0 valid, 1 invalid\n"
		"       vigild -n NAME ...      be node NAME of failover.nodes\n"
		"       vigild --version\n");
}

int main(int argc, char **argv)
{
	const char *path = NULL, *node = NULL;
	bool test_only = false;
	struct cfg_errors errs;
	struct config *cfg;
	struct vigild d = { 0 };
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			node = argv[++i];
		} else if (strcmp(argv[i], "-t") == 0) {
			test_only = true;
		} else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
			printf("vigild %s\n", VIGIL_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "vigild: unknown argument \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	cfg = cfg_load_node(path, node, &errs);
	for (size_t i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	cfg_errors_free(&errs);
	if (!cfg)
		return 1;
	if (test_only) {
		for (size_t i = 0; cfg->warnings && i < cfg->warnings->count; i++)
			fprintf(stderr, "%s\n", cfg->warnings->msgs[i]);
		printf("%s: configuration is valid (%zu services)\n", path, cfg->nservices);
		cfg_free(cfg);
		return 0;
	}
	d.node = node;
	rc = vigild_start(&d, cfg, path) == 0 ? 0 : 1;
	if (rc == 0)
		ev_run(d.loop, 0);
	vigild_cleanup(&d);
	log_notice("vigild exits with status %d", rc);
	return rc;
}
