/*
 * base.h: the few utilities every Hotline module shares and that neither
 * libre nor the C library provides: structured logging, clocks, local time
 * in a named time zone (tz.c), an INI-style config parser and a small worker
 * pool for blocking work (password hashing, later TTS and mail). Keep this
 * module small; prefer libre's mem/list/hash.
 */
#ifndef HL_BASE_H
#define HL_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ---- logging ---------------------------------------------------------- */

enum base_log_level { BASE_LOG_DEBUG = 0, BASE_LOG_INFO, BASE_LOG_WARN, BASE_LOG_ERROR };

/* Set the lowest level that is printed (default INFO). Thread-safe. */
void base_log_set_level(enum base_log_level level);

/* Parse "debug", "info", "warn" or "error". Returns 0 or -EINVAL. */
int base_log_level_parse(const char *s, enum base_log_level *out);

/* Print one structured line to stderr:
 *   ts=2026-11-23T13:44:00.123Z level=info module=api msg="listening" port=8080
 * fmt produces the message (quoted and escaped here); kv, when not NULL, is
 * appended verbatim as further key=value pairs. One write(2) per line, so
 * lines from several threads never interleave. */
void base_log(enum base_log_level level, const char *module, const char *kv,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define LOG_DEBUG(mod, ...) base_log(BASE_LOG_DEBUG, mod, NULL, __VA_ARGS__)
#define LOG_INFO(mod, ...)  base_log(BASE_LOG_INFO, mod, NULL, __VA_ARGS__)
#define LOG_WARN(mod, ...)  base_log(BASE_LOG_WARN, mod, NULL, __VA_ARGS__)
#define LOG_ERROR(mod, ...) base_log(BASE_LOG_ERROR, mod, NULL, __VA_ARGS__)

/* ---- clocks ----------------------------------------------------------- */

/* Wall clock, milliseconds since the epoch. */
int64_t base_wall_ms(void);
/* Monotonic clock, microseconds from an arbitrary origin. */
int64_t base_mono_us(void);
/* Format ms since the epoch as "2026-11-23T13:44:00.123Z" into buf (>= 25
 * bytes). Returns buf. */
char *base_iso8601(int64_t ms, char *buf, size_t size);

/* ---- time zones (tz.c) ------------------------------------------------ */

/* A parsed IANA time zone (TZif file, RFC 8536). */
struct base_tz;

/* The zone called `name` ("Europe/Stockholm", "UTC") from the system's tz
 * database ($TZDIR or /usr/share/zoneinfo), parsed once and cached for the
 * life of the process: *zp stays valid until exit and may be shared by
 * threads. Never touches TZ, environ or the C library's zone state.
 * Thread-safe; the first use of a zone reads its file (a few KiB).
 * "UTC" works without a database. Returns 0, -EINVAL (not a zone name:
 * allowed are A-Z a-z 0-9 / _ + -, no empty components), -ENOENT (no such
 * zone), -EBADMSG (not a TZif file), or another negative errno. */
int base_tz_get(const char *name, const struct base_tz **zp);

/* The UTC offset (seconds east) in effect at t (seconds since the epoch).
 * Pure. z NULL: 0. */
int32_t base_tz_offset(const struct base_tz *z, int64_t t);

/* Local broken-down time of t in zone `name` (tm_gmtoff set, tm_isdst -1).
 * Returns what base_tz_get returns. Thread-safe. */
int base_localtime_in(const char *name, int64_t t, struct tm *out);

/* Parse a TZif file held in memory (for tests and fuzzing). Returns 0 with
 * *zp (free with base_tz_free), -EBADMSG or -ENOMEM. Never reads beyond
 * len. */
int base_tz_parse(const uint8_t *buf, size_t len, struct base_tz **zp);
void base_tz_free(struct base_tz *z);

/* ---- config ----------------------------------------------------------- */

/* One `key = value` pair of an INI-style file. section is "" before the
 * first [section]. Strings are NUL-terminated and valid during the call. */
struct base_config_item {
	const char *section;
	const char *key;
	const char *value;
	int line;
};

/* Called for each pair. Return 0 to go on, or a negative code after writing
 * a message (without file and line) into err. */
typedef int(base_config_h)(const struct base_config_item *it, char *err, size_t errsz,
			   void *arg);

/* Parse text (len bytes, need not be NUL-terminated). Syntax: blank lines,
 * comments starting with '#' or ';', "[section]" and "key = value" lines;
 * values may be double-quoted (\" and \\ escapes). On error returns -EINVAL
 * and writes "NAME:LINE: what was expected" into err, where NAME is
 * filename. Never reads beyond len. */
int base_config_parse(const char *text, size_t len, const char *filename, base_config_h *h,
		      void *arg, char *err, size_t errsz);

/* ---- worker pool ------------------------------------------------------ */

struct base_workq;
typedef void(base_work_h)(void *arg);

/* Start n threads that run pushed work items in FIFO order. Returns 0 or a
 * negative errno. */
int base_workq_alloc(struct base_workq **wqp, unsigned n, const char *name);
/* Queue fn(arg). Returns 0, or -ESHUTDOWN once base_workq_free started. */
int base_workq_push(struct base_workq *wq, base_work_h *fn, void *arg);
/* Run what is queued, join the threads, free. NULL allowed. Blocks. */
void base_workq_free(struct base_workq *wq);
/* Items waiting (not yet started). */
size_t base_workq_depth(struct base_workq *wq);

#endif
