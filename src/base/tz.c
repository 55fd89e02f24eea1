/*
 * tz.c: local time in a named IANA time zone ("Europe/Stockholm"), for
 * business hours that each queue states in its own zone.
 *
 * Why not setenv("TZ") + tzset() + localtime_r() under a mutex: the
 * environment is shared by the whole process and setenv() may move
 * `environ` while another thread reads it. Our own mutex cannot cover the
 * libraries that call getenv() on their threads (libpq reads PG* variables
 * on every connect, on the store threads; glibc reads locale variables), so
 * that would be a data race we cannot lock out. Instead we read the zone's
 * TZif file (RFC 8536) from the system's tz database ourselves: the
 * transition table for the past, and the POSIX TZ rule in the file's footer
 * for times after the last transition (zic's "slim" files rely on it). The
 * process's own TZ, environ and the C library's time-zone state are never
 * touched. Parsed zones are cached for the life of the process (a list
 * under a mutex; zones are few: one per distinct business_hours.timezone).
 *
 * The parser takes the file as bytes (base_tz_parse), so it can be tested
 * and fuzzed without the file system.
 */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TZ_MAX_FILE (512 * 1024) /* real files are < 4 KiB */
#define TZ_CACHE_MAX 128

/* ---- the POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3") ----------------- */

struct tz_date {
	char kind;    /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.day) */
	int n, m, w, d;
};

struct tz_rule {
	int32_t std_off, dst_off; /* seconds east of UTC */
	bool has_dst;
	struct tz_date start, end;
	int32_t start_time, end_time; /* seconds after local midnight, may be < 0 or > 24 h */
};

struct base_tz {
	int64_t *trans;   /* transition times, ascending */
	uint8_t *idx;     /* type of each transition */
	int32_t *off;     /* each type's UTC offset */
	size_t ntrans, ntypes;
	bool has_rule;
	struct tz_rule rule;
};

static const char *rule_name(const char *s)
{
	if (*s == '<') {
		const char *e = strchr(s, '>');
		return e && e - s >= 2 ? e + 1 : NULL;
	}
	const char *p = s;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		p++;
	return p - s >= 1 ? p : NULL;
}

/* [+-]hh[:mm[:ss]], hours up to 167 (RFC 8536 extension). */
static const char *rule_time(const char *s, int32_t *out)
{
	int sign = 1;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	int32_t v[3] = {0, 0, 0};
	for (int part = 0; part < 3; part++) {
		if (part && *s != ':')
			break;
		if (part)
			s++;
		if (*s < '0' || *s > '9')
			return NULL;
		int x = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 3) {
			x = x * 10 + (*s++ - '0');
			digits++;
		}
		if (x > (part ? 59 : 167))
			return NULL;
		v[part] = x;
	}
	*out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
	return s;
}

static const char *rule_num(const char *s, int min, int max, int *out)
{
	if (*s < '0' || *s > '9')
		return NULL;
	int x = 0;
	while (*s >= '0' && *s <= '9') {
		x = x * 10 + (*s++ - '0');
		if (x > max)
			return NULL;
	}
	if (x < min)
		return NULL;
	*out = x;
	return s;
}

static const char *rule_date(const char *s, struct tz_date *d, int32_t *time)
{
	memset(d, 0, sizeof(*d));
	if (*s == 'J') {
		d->kind = 'J';
		s = rule_num(s + 1, 1, 365, &d->n);
	} else if (*s == 'M') {
		d->kind = 'M';
		s = rule_num(s + 1, 1, 12, &d->m);
		if (s && *s == '.')
			s = rule_num(s + 1, 1, 5, &d->w);
		else
			s = NULL;
		if (s && *s == '.')
			s = rule_num(s + 1, 0, 6, &d->d);
		else
			s = NULL;
	} else {
		d->kind = 'D';
		s = rule_num(s, 0, 365, &d->n);
	}
	*time = 7200;
	if (s && *s == '/')
		s = rule_time(s + 1, time);
	return s;
}

/* Parse a POSIX TZ string as RFC 8536 section 3.3 allows. 0 or -EINVAL. */
static int rule_parse(const char *s, struct tz_rule *r)
{
	memset(r, 0, sizeof(*r));
	int32_t v;
	if (!(s = rule_name(s)) || !(s = rule_time(s, &v)))
		return -EINVAL;
	r->std_off = -v;
	r->dst_off = r->std_off;
	if (!*s)
		return 0;
	if (!(s = rule_name(s)))
		return -EINVAL;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (*s && *s != ',') {
		if (!(s = rule_time(s, &v)))
			return -EINVAL;
		r->dst_off = -v;
	}
	if (!*s) { /* POSIX leaves the default rule to the implementation: US rules */
		r->start = (struct tz_date){.kind = 'M', .m = 3, .w = 2, .d = 0};
		r->end = (struct tz_date){.kind = 'M', .m = 11, .w = 1, .d = 0};
		r->start_time = r->end_time = 7200;
		return 0;
	}
	if (*s != ',' || !(s = rule_date(s + 1, &r->start, &r->start_time)) || *s != ',' ||
	    !(s = rule_date(s + 1, &r->end, &r->end_time)) || *s)
		return -EINVAL;
	return 0;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	return yoe + era * 400 + (mp >= 10);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* The local midnight (as days since the epoch) of the rule date in year y. */
static int64_t rule_day(int64_t y, const struct tz_date *d)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t jan1 = days_from_civil(y, 1, 1);
	switch (d->kind) {
	case 'J':
		return jan1 + d->n - 1 + (leap(y) && d->n >= 60);
	case 'D':
		return jan1 + d->n;
	default: {
		int64_t first = days_from_civil(y, d->m, 1);
		int wday1 = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
		int day = 1 + (d->d - wday1 + 7) % 7 + (d->w - 1) * 7;
		int dim = mdays[d->m - 1] + (d->m == 2 && leap(y));
		while (day > dim)
			day -= 7;
		return first + day - 1;
	}
	}
}

static int32_t rule_offset(const struct tz_rule *r, int64_t t)
{
	if (!r->has_dst)
		return r->std_off;
	int64_t y = year_of_days(floor_div(t + r->std_off, 86400));
	int64_t start = rule_day(y, &r->start) * 86400 + r->start_time - r->std_off;
	int64_t end = rule_day(y, &r->end) * 86400 + r->end_time - r->dst_off;
	bool dst = start <= end ? (t >= start && t < end) : !(t >= end && t < start);
	return dst ? r->dst_off : r->std_off;
}

/* ---- TZif ------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

void base_tz_free(struct base_tz *z)
{
	if (!z)
		return;
	free(z->trans);
	free(z->idx);
	free(z->off);
	free(z);
}

int base_tz_parse(const uint8_t *buf, size_t len, struct base_tz **zp)
{
	*zp = NULL;
	if (len < 44 || memcmp(buf, "TZif", 4) != 0)
		return -EBADMSG;
	int version = buf[4] ? buf[4] - '0' : 1;
	const uint8_t *h = buf;
	size_t tsize = 4, avail = len;
	uint64_t cnt[6];
	for (int pass = 0;; pass++) {
		for (int i = 0; i < 6; i++)
			cnt[i] = be32(h + 20 + 4 * i);
		/* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
		if (cnt[4] == 0 || cnt[4] > 256 || cnt[3] > 1000000 || cnt[2] > 100000 ||
		    cnt[5] > 100000 || cnt[0] > cnt[4] || cnt[1] > cnt[4])
			return -EBADMSG;
		uint64_t body = cnt[3] * tsize + cnt[3] + cnt[4] * 6 + cnt[5] + cnt[2] * (tsize + 4) +
				cnt[1] + cnt[0];
		if (44 + body > avail)
			return -EBADMSG;
		if (pass || version < 2)
			break;
		/* version 2+: skip the 32-bit block, use the 64-bit one */
		h += 44 + body;
		avail -= 44 + body;
		if (avail < 44 || memcmp(h, "TZif", 4) != 0)
			return -EBADMSG;
		tsize = 8;
	}
	struct base_tz *z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->ntrans = (size_t)cnt[3];
	z->ntypes = (size_t)cnt[4];
	z->trans = malloc((z->ntrans ? z->ntrans : 1) * sizeof(*z->trans));
	z->idx = malloc(z->ntrans ? z->ntrans : 1);
	z->off = malloc(z->ntypes * sizeof(*z->off));
	if (!z->trans || !z->idx || !z->off) {
		base_tz_free(z);
		return -ENOMEM;
	}
	const uint8_t *p = h + 44;
	for (size_t i = 0; i < z->ntrans; i++, p += tsize) {
		z->trans[i] = tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
		if (i && z->trans[i] <= z->trans[i - 1])
			goto bad;
	}
	for (size_t i = 0; i < z->ntrans; i++, p++) {
		z->idx[i] = *p;
		if (*p >= z->ntypes)
			goto bad;
	}
	for (size_t i = 0; i < z->ntypes; i++, p += 6) {
		int32_t off = (int32_t)be32(p);
		if (off < -25 * 3600 || off > 26 * 3600)
			goto bad;
		z->off[i] = off;
	}
	p += cnt[5] + cnt[2] * (tsize + 4) + cnt[1] + cnt[0];
	/* The footer (version 2+): "\n" TZ string "\n". */
	if (tsize == 8) {
		size_t left = len - (size_t)(p - buf);
		if (left < 2 || p[0] != '\n')
			goto bad;
		const uint8_t *nl = memchr(p + 1, '\n', left - 1);
		if (!nl || nl - p - 1 > 255)
			goto bad;
		char s[256];
		memcpy(s, p + 1, (size_t)(nl - p - 1));
		s[nl - p - 1] = '\0';
		if (s[0]) {
			if (rule_parse(s, &z->rule))
				goto bad;
			z->has_rule = true;
		}
	}
	*zp = z;
	return 0;
bad:
	base_tz_free(z);
	return -EBADMSG;
}

int32_t base_tz_offset(const struct base_tz *z, int64_t t)
{
	if (!z)
		return 0;
	if (z->ntrans == 0)
		return z->has_rule ? rule_offset(&z->rule, t) : z->off[0];
	if (t < z->trans[0])
		return z->off[0]; /* RFC 8536: before the first transition, type 0 */
	if (t >= z->trans[z->ntrans - 1] && z->has_rule)
		return rule_offset(&z->rule, t);
	size_t lo = 0, hi = z->ntrans; /* the last transition <= t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return z->off[z->idx[lo]];
}

/* ---- the zone cache --------------------------------------------------- */

struct tz_entry {
	struct tz_entry *next;
	char name[65];
	int err;               /* 0, or why the zone could not be loaded */
	struct base_tz *z;
};

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz_entry *tz_cache;
static unsigned tz_cached;

/* Zone names as the tz database spells them: no absolute paths, no dots
 * (so no ".."), no empty components. */
static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || name[0] == '/' || name[n - 1] == '/' || strstr(name, "//"))
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '/' || *c == '_' || *c == '+' || *c == '-'))
			return false;
	return true;
}

static int tz_load(const char *name, struct base_tz **zp)
{
	const char *dir = getenv("TZDIR");
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == EISDIR ? -ENOENT : -errno;
	uint8_t *buf = malloc(TZ_MAX_FILE);
	size_t len = 0;
	int r = buf ? 0 : -ENOMEM;
	while (!r && len < TZ_MAX_FILE) {
		ssize_t k = read(fd, buf + len, TZ_MAX_FILE - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			r = errno == EISDIR ? -ENOENT : -errno;
		else if (k == 0)
			break;
		else
			len += (size_t)k;
	}
	close(fd);
	if (!r)
		r = base_tz_parse(buf, len, zp);
	free(buf);
	return r;
}

/* UTC works without a tz database (minimal containers have none). */
static int tz_utc(const char *name, struct base_tz **zp)
{
	if (strcmp(name, "UTC") && strcmp(name, "Etc/UTC") && strcmp(name, "GMT") &&
	    strcmp(name, "Etc/GMT"))
		return -ENOENT;
	struct base_tz *z = calloc(1, sizeof(*z));
	if (z && (z->off = calloc(1, sizeof(*z->off)))) {
		z->ntypes = 1;
		*zp = z;
		return 0;
	}
	free(z);
	return -ENOMEM;
}

int base_tz_get(const char *name, const struct base_tz **zp)
{
	*zp = NULL;
	if (!name || !name_ok(name))
		return -EINVAL;
	pthread_mutex_lock(&tz_lock);
	struct tz_entry *e = tz_cache;
	while (e && strcmp(e->name, name) != 0)
		e = e->next;
	int r;
	if (e) {
		r = e->err;
		*zp = e->z;
	} else {
		struct base_tz *z = NULL;
		r = tz_load(name, &z);
		if (r == -ENOENT)
			r = tz_utc(name, &z);
		if (r == -EBADMSG)
			LOG_WARN("base", "time zone %s: not a valid TZif file", name);
		/* Cache failures too (a misspelt zone is asked for on every
		 * status request), but not transient ones. */
		bool keep = !r || r == -ENOENT || r == -EBADMSG;
		if (keep && tz_cached < TZ_CACHE_MAX && (e = calloc(1, sizeof(*e)))) {
			snprintf(e->name, sizeof(e->name), "%s", name);
			e->err = r;
			e->z = z;
			e->next = tz_cache;
			tz_cache = e;
			tz_cached++;
			*zp = z;
		} else {
			/* not cached: the caller cannot hold it past the lock, so
			 * only the answer "unknown" is useful; treat as a failure */
			base_tz_free(z);
			if (!r)
				r = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&tz_lock);
	return r;
}

int base_localtime_in(const char *zone, int64_t t, struct tm *out)
{
	const struct base_tz *z = NULL;
	int r = base_tz_get(zone, &z);
	if (r)
		return r;
	int32_t off = base_tz_offset(z, t);
	time_t local = (time_t)(t + off);
	if (!gmtime_r(&local, out))
		return -EOVERFLOW;
	out->tm_gmtoff = off;
	out->tm_isdst = -1; /* not known from the offset alone */
	return 0;
}
