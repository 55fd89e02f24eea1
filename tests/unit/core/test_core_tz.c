/*
 * test_core_tz.c: local time in a named zone (src/base/tz.c), on which the
 * queues' business hours rest (core_queue_open). Our TZif reader is checked
 * against the C library's own zone code (setenv TZ + localtime_r, safe here:
 * this test has one thread) over many zones and instants, including the
 * POSIX rule that covers times after a file's last transition, and it must
 * refuse damaged files without reading out of bounds (run under ASan).
 * Needs the system tz database (tzdata); without it the zone tests skip.
 */
#include "base/base.h"
#include "test.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *const zones[] = {
	"Europe/Stockholm", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
	"Europe/Dublin",    "America/Nuuk",     "Pacific/Chatham",  "America/Sao_Paulo",
	"Asia/Tokyo",       "America/St_Johns", "Australia/Lord_Howe", "Africa/Casablanca",
	"Asia/Tehran",      "Europe/London",    "America/Santiago", "Pacific/Apia",
	"Antarctica/Troll", "UTC",
};

static bool have_tzdata(void)
{
	const struct base_tz *z;
	if (base_tz_get("Europe/Stockholm", &z) == 0)
		return true;
	printf("skipped: no tz database\n");
	return false;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static long libc_offset(const char *zone, int64_t t)
{
	char tz[80];
	snprintf(tz, sizeof(tz), ":%s", zone);
	setenv("TZ", tz, 1);
	tzset();
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	return tm.tm_gmtoff;
}

/* The same offset as glibc for random instants 1972-2200 (after 2037 the
 * files' POSIX rule decides) and for every quarter hour of the days around
 * each zone's 2024 and 2099 transitions. */
static void test_matches_libc(void)
{
	if (!have_tzdata())
		return;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		const struct base_tz *z;
		REQUIRE(base_tz_get(zones[i], &z) == 0);
		int bad = 0;
		for (int k = 0; k < 3000 && bad < 3; k++) {
			int64_t t = 63072000 + (int64_t)(next_rand() % 7226582400ull); /* 1972..2200 */
			long want = libc_offset(zones[i], t);
			if (base_tz_offset(z, t) != want) {
				fprintf(stderr, "%s at %lld: %d, libc %ld\n", zones[i], (long long)t,
					base_tz_offset(z, t), want);
				bad++;
			}
		}
		/* 2024 and 2099, every 15 minutes (transitions fall on them) */
		static const int64_t years[] = {1704067200, 4070908800};
		for (int y = 0; y < 2 && !bad; y++)
			for (int64_t t = years[y]; t < years[y] + 366 * 86400 && bad < 3; t += 900) {
				long want = libc_offset(zones[i], t);
				if (base_tz_offset(z, t) != want) {
					fprintf(stderr, "%s at %lld: %d, libc %ld\n", zones[i],
						(long long)t, base_tz_offset(z, t), want);
					bad++;
				}
			}
		CHECK_EQ_INT(bad, 0);
	}
	unsetenv("TZ");
	tzset();
}

/* Europe/Stockholm's switches in 2024 to the second, and broken-down time. */
static void test_stockholm_dst(void)
{
	if (!have_tzdata())
		return;
	const struct base_tz *z;
	REQUIRE(base_tz_get("Europe/Stockholm", &z) == 0);
	CHECK_EQ_INT(base_tz_offset(z, 1711846799), 3600);  /* 2024-03-31 00:59:59Z */
	CHECK_EQ_INT(base_tz_offset(z, 1711846800), 7200);  /* 01:00:00Z = 03:00 CEST */
	CHECK_EQ_INT(base_tz_offset(z, 1729990799), 7200);  /* 2024-10-27 00:59:59Z */
	CHECK_EQ_INT(base_tz_offset(z, 1729990800), 3600);
	/* 2150: only the rule in the footer knows */
	CHECK_EQ_INT(base_tz_offset(z, 5696006400), 7200);  /* 2150-07-01 00:00Z */
	CHECK_EQ_INT(base_tz_offset(z, 5680281600), 3600);  /* 2150-01-01 00:00Z */
	struct tm tm;
	CHECK_EQ_INT(base_localtime_in("Europe/Stockholm", 1719822600, &tm), 0); /* 2024-07-01 08:30Z */
	CHECK_EQ_INT(tm.tm_hour, 10);
	CHECK_EQ_INT(tm.tm_min, 30);
	CHECK_EQ_INT(tm.tm_wday, 1);
	CHECK_EQ_INT(tm.tm_gmtoff, 7200);
	CHECK_EQ_INT(base_localtime_in("Asia/Tokyo", 1719822600, &tm), 0);
	CHECK_EQ_INT(tm.tm_hour, 17);
}

static void test_names(void)
{
	const struct base_tz *z;
	CHECK_EQ_INT(base_tz_get("UTC", &z), 0); /* even without tzdata */
	CHECK_EQ_INT(base_tz_offset(z, 1719822600), 0);
	CHECK_EQ_INT(base_tz_get("../../etc/passwd", &z), -EINVAL);
	CHECK_EQ_INT(base_tz_get("/etc/localtime", &z), -EINVAL);
	CHECK_EQ_INT(base_tz_get("Europe//Stockholm", &z), -EINVAL);
	CHECK_EQ_INT(base_tz_get("", &z), -EINVAL);
	CHECK_EQ_INT(base_tz_get(NULL, &z), -EINVAL);
	CHECK_EQ_INT(base_tz_get("Mars/Olympus_Mons", &z), -ENOENT);
	CHECK_EQ_INT(base_tz_get("Mars/Olympus_Mons", &z), -ENOENT); /* cached */
	CHECK(z == NULL);
	struct tm tm;
	CHECK_EQ_INT(base_localtime_in("Mars/Olympus_Mons", 0, &tm), -ENOENT);
	if (!have_tzdata())
		return;
	CHECK_EQ_INT(base_tz_get("Europe", &z), -ENOENT); /* a directory */
}

/* A version-2 file with no transitions at all: the footer rule alone. */
static void test_rule_only_file(void)
{
	static const char rule[] = "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
	uint8_t buf[256] = {0};
	size_t n = 0;
	for (int pass = 0; pass < 2; pass++) {
		memcpy(buf + n, "TZif2", 5);
		buf[n + 20 + 4 * 4 + 3] = 1; /* typecnt 1 */
		buf[n + 20 + 5 * 4 + 3] = 4; /* charcnt 4 */
		n += 44;
		/* one type: +3600, not DST, designation 0 */
		buf[n + 2] = 0x0e;
		buf[n + 3] = 0x10;
		n += 6;
		memcpy(buf + n, "CET", 4);
		n += 4;
	}
	memcpy(buf + n, rule, sizeof(rule) - 1);
	n += sizeof(rule) - 1;
	struct base_tz *z = NULL;
	REQUIRE(base_tz_parse(buf, n, &z) == 0);
	CHECK_EQ_INT(base_tz_offset(z, 1711846799), 3600);
	CHECK_EQ_INT(base_tz_offset(z, 1711846800), 7200);
	CHECK_EQ_INT(base_tz_offset(z, 1729990799), 7200);
	CHECK_EQ_INT(base_tz_offset(z, 1729990800), 3600);
	base_tz_free(z);
	/* every shorter prefix is refused */
	for (size_t k = 0; k < n - 1; k++) {
		z = NULL;
		int r = base_tz_parse(buf, k, &z);
		CHECK(r == -EBADMSG);
		base_tz_free(z);
	}
	/* broken rules */
	static const char *const bad[] = {"\nCET-1CEST,M3.5.0\n", "\nCET-1CEST,M13.5.0,M10.5.0\n",
					  "\n-1\n", "\nCET-1CEST,M3.5.0,M10.5.0/3x\n",
					  "\nCET-1CEST,J0,J365\n"};
	for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
		size_t m = n - (sizeof(rule) - 1);
		memcpy(buf + m, bad[b], strlen(bad[b]));
		z = NULL;
		CHECK_EQ_INT(base_tz_parse(buf, m + strlen(bad[b]), &z), -EBADMSG);
		base_tz_free(z);
	}
}

/* Damaged real files: every truncation and random byte changes. The
 * answer may be a zone or -EBADMSG, never a read out of bounds (ASan). */
static void test_damaged_files(void)
{
	if (!have_tzdata())
		return;
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof(path), "%s/Europe/Stockholm", dir && *dir ? dir : "/usr/share/zoneinfo");
	FILE *f = fopen(path, "rb");
	REQUIRE(f);
	static uint8_t orig[65536];
	size_t n = fread(orig, 1, sizeof(orig), f);
	fclose(f);
	REQUIRE(n > 44);
	struct base_tz *z = NULL;
	REQUIRE(base_tz_parse(orig, n, &z) == 0);
	base_tz_free(z);
	for (size_t k = 0; k < n; k++) {
		uint8_t *copy = malloc(k ? k : 1); /* exact size: ASan sees overreads */
		REQUIRE(copy);
		memcpy(copy, orig, k);
		z = NULL;
		int r = base_tz_parse(copy, k, &z);
		CHECK(r == 0 || r == -EBADMSG);
		if (!r)
			(void)base_tz_offset(z, 1719822600);
		base_tz_free(z);
		free(copy);
	}
	for (int it = 0; it < 3000; it++) {
		uint8_t *copy = malloc(n);
		REQUIRE(copy);
		memcpy(copy, orig, n);
		int flips = 1 + (int)(next_rand() % 4);
		for (int k = 0; k < flips; k++)
			copy[next_rand() % n] = (uint8_t)next_rand();
		z = NULL;
		int r = base_tz_parse(copy, n, &z);
		CHECK(r == 0 || r == -EBADMSG);
		if (!r)
			for (int k = 0; k < 8; k++)
				(void)base_tz_offset(z, (int64_t)(next_rand() % 8000000000ull) - 2000000000);
		base_tz_free(z);
		free(copy);
	}
}

int main(void)
{
	TEST_RUN(test_names);
	TEST_RUN(test_stockholm_dst);
	TEST_RUN(test_matches_libc);
	TEST_RUN(test_rule_only_file);
	TEST_RUN(test_damaged_files);
	TEST_MAIN_END();
}
