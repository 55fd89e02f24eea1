/*
 * log.c: structured, line-oriented logging to stderr (logfmt). Operators
 * grep and ship these lines; tests read them. Each line is built in a stack
 * buffer and written with one write(2), which keeps lines whole across
 * threads without a lock.
 */
#include "base/base.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_level = BASE_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void base_log_set_level(enum base_log_level level)
{
	atomic_store(&log_level, (int)level);
}

int base_log_level_parse(const char *s, enum base_log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum base_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void base_log(enum base_log_level level, const char *module, const char *kv, const char *fmt,
	      ...)
{
	if ((int)level < atomic_load(&log_level))
		return;
	char msg[1024], line[2048], ts[32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	size_t n = (size_t)snprintf(line, sizeof(line), "ts=%s level=%s module=%s msg=\"",
				    base_iso8601(base_wall_ms(), ts, sizeof(ts)),
				    level_names[level], module);
	/* Escape the message so that one log line stays one parsable line. */
	for (const char *p = msg; *p && n < sizeof(line) - 8; p++) {
		if (*p == '"' || *p == '\\') {
			line[n++] = '\\';
			line[n++] = *p;
		} else if (*p == '\n') {
			line[n++] = '\\';
			line[n++] = 'n';
		} else if ((unsigned char)*p < 0x20) {
			line[n++] = ' ';
		} else {
			line[n++] = *p;
		}
	}
	line[n++] = '"';
	if (kv && *kv && n < sizeof(line) - 2) {
		int k = snprintf(line + n, sizeof(line) - n - 1, " %s", kv);
		if (k > 0)
			n += (size_t)k < sizeof(line) - n - 1 ? (size_t)k : sizeof(line) - n - 2;
	}
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}
