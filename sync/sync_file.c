/* sync_file.c - read and atomically replace the configuration file. */
#include "sync/sync.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

int sync_file_read(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 8192, n = 0;
	char *b;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	b = xmalloc(cap + 1);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap > SYNC_MAX_PAYLOAD) {
				snprintf(err, errlen, "%s: larger than %d bytes", path,
					 SYNC_MAX_PAYLOAD);
				goto fail;
			}
			cap *= 2;
			b = xrealloc(b, cap + 1);
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > SYNC_MAX_PAYLOAD - 4096) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, SYNC_MAX_PAYLOAD - 4096);
		free(b);
		return -1;
	}
	b[n] = '\0';
	*text = b;
	*len = n;
	return 0;
fail:
	free(b);
	close(fd);
	return -1;
}

/* Write text to a new file tmp (mode of the original, else 0640) and fsync it. */
static int write_tmp(const char *tmp, mode_t mode, const char *text, size_t len, char *err,
		     size_t errlen)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	size_t off = 0;

	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
			goto fail;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0) {
		snprintf(err, errlen, "cannot fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		snprintf(err, errlen, "cannot close %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

/* Replace dst with text: write dst.tmp.PID, rename over dst. */
static int replace_file(const char *dst, mode_t mode, const char *text, size_t len,
			char *err, size_t errlen)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", dst, (long)getpid());
	unlink(tmp);
	if (write_tmp(tmp, mode, text, len, err, errlen) < 0)
		return -1;
	if (rename(tmp, dst) < 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, dst, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int fsync_dir(const char *path, char *err, size_t errlen)
{
	char copy[4096];
	const char *dir;
	int fd;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "cannot fsync directory %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int sync_file_install(const char *path, const char *text, size_t len, char *err,
		      size_t errlen)
{
	char prev[4096];
	char *old = NULL;
	size_t oldlen = 0;
	struct stat st;
	mode_t mode = 0640;

	if (strlen(path) + 16 >= sizeof(prev)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	snprintf(prev, sizeof(prev), "%s.prev", path);
	if (stat(path, &st) == 0) {
		mode = st.st_mode & 07777;
		if (sync_file_read(path, &old, &oldlen, err, errlen) < 0)
			return -1;
		if (replace_file(prev, mode, old, oldlen, err, errlen) < 0) {
			free(old);
			return -1;
		}
		free(old);
	}
	if (replace_file(path, mode, text, len, err, errlen) < 0)
		return -1;
	return fsync_dir(path, err, errlen);
}
