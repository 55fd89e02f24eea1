/*
 * test_core.c: the pure part of the core's routing projection
 * (src/core/core_conf.c): queue and agent documents, as the REST API stores
 * them, mapped into routing engine specs; language and reason tables;
 * business hours in a queue's own time zone (core_queue_open), room for
 * work on an agent, wrap-up codes and the local day of the live figures.
 * The business-hours tests need the system tz database (tzdata).
 */
#include "test.h"
#include "core/core_int.h"
#include "base/base.h"

#include <jansson.h>

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static void test_table(void)
{
	struct core_table t = {0};
	CHECK_EQ_INT(core_table_id(&t, "en", false), -1);
	CHECK_EQ_INT(core_table_id(&t, "en", true), 0);
	CHECK_EQ_INT(core_table_id(&t, "sv", true), 1);
	CHECK_EQ_INT(core_table_id(&t, "en", true), 0);
	CHECK_EQ_INT(core_table_id(&t, "sv", false), 1);
	CHECK_EQ_INT(core_table_id(&t, NULL, true), -1);
	char buf[8];
	for (int i = 2; i < CORE_TABLE_MAX; i++) {
		snprintf(buf, sizeof(buf), "l%d", i);
		CHECK_EQ_INT(core_table_id(&t, buf, true), i);
	}
	CHECK_EQ_INT(core_table_id(&t, "full", true), -1);
	CHECK_EQ_INT(core_table_id(&t, "l63", false), 63);
}

static void test_enums(void)
{
	CHECK_EQ_INT(core_channel_parse("voice"), ROUTING_CH_VOICE);
	CHECK_EQ_INT(core_channel_parse("messaging"), ROUTING_CH_MESSAGING);
	CHECK_EQ_INT(core_channel_parse("fax"), -1);
	CHECK_EQ_INT(core_channel_parse(NULL), -1);
	CHECK_EQ_STR(core_channel_name(ROUTING_CH_CHAT), "chat");
	CHECK_EQ_INT(core_strategy_parse("ring_all"), ROUTING_RING_ALL);
	CHECK_EQ_INT(core_strategy_parse("longest_idle"), ROUTING_LONGEST_IDLE);
	CHECK_EQ_INT(core_strategy_parse("random"), -1);
}

/* Overflow steps, the maximum wait and sticky-agent settings reach the
 * engine spec in the engine's units. */
static void test_queue_overflow_and_sticky(void)
{
	struct core_queue_conf c;
	json_t *doc = json_loads(
		"{\"strategy\":\"longest_idle\",\"overflow_steps\":["
		"{\"after_seconds\":30,\"action\":\"lower_level\",\"levels\":2,\"queue_id\":null},"
		"{\"after_seconds\":60,\"action\":\"add_queue\",\"levels\":1,\"queue_id\":7},"
		"{\"after_seconds\":90,\"action\":\"drop_language\",\"levels\":1,\"queue_id\":null},"
		"{\"after_seconds\":120,\"action\":\"offer_callback\",\"levels\":1,\"queue_id\":null}],"
		"\"max_wait_seconds\":300,\"max_wait_action\":\"queue\",\"max_wait_queue_id\":9,"
		"\"sticky_agent\":{\"window_minutes\":60,\"wait_seconds\":15}}",
		0, NULL);
	REQUIRE(doc != NULL);
	CHECK_EQ_INT(core_queue_conf_from_doc(doc, &c), 0);
	CHECK_EQ_INT(c.spec.n_steps, 4);
	CHECK(c.spec.steps == c.steps);
	CHECK_EQ_INT(c.steps[0].after_ms, 30000);
	CHECK_EQ_INT(c.steps[0].action, ROUTING_STEP_LOWER_LEVEL);
	CHECK_EQ_INT(c.steps[0].arg, 2);
	CHECK_EQ_INT(c.steps[1].action, ROUTING_STEP_ADD_QUEUE);
	CHECK_EQ_INT(c.steps[1].arg, 7);
	CHECK_EQ_INT(c.steps[2].action, ROUTING_STEP_DROP_LANGUAGE);
	CHECK_EQ_INT(c.steps[3].action, ROUTING_STEP_OFFER_CALLBACK);
	CHECK_EQ_INT(c.spec.max_wait_ms, 300000);
	CHECK_EQ_INT(c.spec.exit_action, ROUTING_EXIT_QUEUE);
	CHECK_EQ_INT(c.spec.exit_arg, 9);
	CHECK_EQ_INT(c.spec.sticky_window_ms, 3600000);
	CHECK_EQ_INT(c.spec.sticky_wait_ms, 15000);
	json_decref(doc);

	/* Defaults: no steps, no maximum, no sticky agent. */
	doc = json_loads("{}", 0, NULL);
	CHECK_EQ_INT(core_queue_conf_from_doc(doc, &c), 0);
	CHECK_EQ_INT(c.spec.n_steps, 0);
	CHECK_EQ_INT(c.spec.max_wait_ms, 0);
	CHECK_EQ_INT(c.spec.sticky_window_ms, 0);
	json_decref(doc);

	doc = json_loads("{\"overflow_steps\":[{\"after_seconds\":5,\"action\":\"teleport\"}]}", 0, NULL);
	CHECK_EQ_INT(core_queue_conf_from_doc(doc, &c), -EINVAL);
	json_decref(doc);
}

static void test_queue_doc(void)
{
	json_t *doc = json_loads(
		"{\"name\":\"Support\",\"channels\":[\"chat\",\"email\"],\"strategy\":\"best_skill\","
		"\"priority\":7,\"required_skills\":[{\"skill_id\":3,\"min_level\":2},"
		"{\"skill_id\":9,\"min_level\":5}],\"service_level\":{\"percent\":80,\"seconds\":30},"
		"\"offer_timeout_seconds\":5,\"wrap_up_seconds\":0}", 0, NULL);
	REQUIRE(doc);
	struct core_queue_conf c;
	CHECK_EQ_INT(core_queue_conf_from_doc(doc, &c), 0);
	CHECK_EQ_INT(c.spec.strategy, ROUTING_BEST_SKILL);
	CHECK_EQ_INT(c.spec.sl_target_ms, 30000);
	CHECK_EQ_INT(c.spec.offer_timeout_ms, 5000);
	CHECK_EQ_INT(c.spec.wrap_ms, 0);
	CHECK_EQ_INT(c.priority, 7);
	CHECK_EQ_INT(c.channels, (1u << ROUTING_CH_CHAT) | (1u << ROUTING_CH_EMAIL));
	CHECK_EQ_INT(c.spec.n_skills, 2);
	CHECK(c.spec.skills == c.skills);
	CHECK_EQ_INT(c.skills[1].id, 9);
	CHECK_EQ_INT(c.skills[1].level, 5);
	json_decref(doc);

	/* defaults as the API stores them when fields are left out */
	doc = json_loads("{\"name\":\"Q\"}", 0, NULL);
	CHECK_EQ_INT(core_queue_conf_from_doc(doc, &c), 0);
	CHECK_EQ_INT(c.spec.strategy, ROUTING_LONGEST_IDLE);
	CHECK_EQ_INT(c.spec.offer_timeout_ms, 15000);
	CHECK_EQ_INT(c.spec.wrap_ms, 30000);
	CHECK_EQ_INT(c.spec.sl_target_ms, 20000);
	CHECK_EQ_INT(c.channels, 15u);
	json_decref(doc);

	doc = json_loads("{\"strategy\":\"nope\"}", 0, NULL);
	CHECK_EQ_INT(core_queue_conf_from_doc(doc, &c), -EINVAL);
	json_decref(doc);
	doc = json_loads("{\"required_skills\":[{\"skill_id\":5000,\"min_level\":1}]}", 0, NULL);
	CHECK_EQ_INT(core_queue_conf_from_doc(doc, &c), -ERANGE);
	json_decref(doc);
	json_t *many = json_array();
	for (int i = 1; i <= 9; i++)
		json_array_append_new(many, json_pack("{s:i, s:i}", "skill_id", i, "min_level", 1));
	doc = json_pack("{s:o}", "required_skills", many);
	CHECK_EQ_INT(core_queue_conf_from_doc(doc, &c), -E2BIG);
	json_decref(doc);
	CHECK_EQ_INT(core_queue_conf_from_doc(NULL, &c), -EINVAL);
}

static void test_agent_doc(void)
{
	struct core_table langs = {0};
	core_table_id(&langs, "en", true);
	json_t *doc = json_loads(
		"{\"name\":\"Ann\",\"user_id\":12,\"skills\":[{\"skill_id\":3,\"level\":4},"
		"{\"skill_id\":3,\"level\":5},{\"skill_id\":7,\"level\":1}],"
		"\"languages\":[\"sv\",\"en\"],\"capacity\":{\"voice\":1,\"chat\":2,\"email\":0,"
		"\"messaging\":5},\"queues\":[4,8]}", 0, NULL);
	REQUIRE(doc);
	struct core_agent_conf *c = malloc(sizeof(*c));
	REQUIRE(c);
	CHECK_EQ_INT(core_agent_conf_from_doc(doc, &langs, c), 0);
	CHECK_EQ_INT(c->user_id, 12);
	CHECK_EQ_INT(c->spec.n_skills, 2); /* duplicate id merged, highest level */
	CHECK_EQ_INT(c->skills[0].level, 5);
	CHECK_EQ_INT(c->spec.languages, 3ull); /* en = 0, sv = 1 */
	CHECK_EQ_INT(core_table_id(&langs, "sv", false), 1);
	CHECK_EQ_INT(c->spec.capacity[ROUTING_CH_CHAT], 2);
	CHECK_EQ_INT(c->spec.capacity[ROUTING_CH_EMAIL], 0);
	CHECK_EQ_INT(c->spec.n_queues, 2);
	CHECK_EQ_INT(c->queues[1], 8);
	CHECK(c->spec.queues == c->queues);
	json_decref(doc);

	doc = json_loads("{\"name\":\"Bob\",\"user_id\":null,\"skills\":[{\"skill_id\":9999,\"level\":2}]}",
			 0, NULL);
	CHECK_EQ_INT(core_agent_conf_from_doc(doc, &langs, c), -ERANGE);
	CHECK_EQ_INT(c->user_id, 0);
	CHECK_EQ_INT(c->spec.n_skills, 0);
	CHECK_EQ_INT(c->spec.capacity[ROUTING_CH_VOICE], 1); /* engine default */
	json_decref(doc);
	CHECK_EQ_INT(core_agent_conf_from_doc(NULL, &langs, c), -EINVAL);
	free(c);
}

/* ---- business hours ---------------------------------------------------- */

/* Seconds since the epoch of a UTC date and time. */
static time_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
	return timegm(&tm);
}

static json_t *hours(const char *tz, const char *weekly, const char *holidays)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"name\":\"Q\",\"business_hours\":{\"timezone\":\"%s\",\"weekly\":%s,\"holidays\":%s}}",
		 tz, weekly, holidays);
	json_t *doc = json_loads(buf, 0, NULL);
	if (!doc)
		fprintf(stderr, "bad test document: %s\n", buf);
	return doc;
}

#define WEEKDAYS_9_17(tz)                                                                      \
	hours(tz,                                                                              \
	      "[{\"day\":\"mon\",\"open\":\"09:00\",\"close\":\"17:00\"},"                      \
	      "{\"day\":\"tue\",\"open\":\"09:00\",\"close\":\"17:00\"},"                       \
	      "{\"day\":\"wed\",\"open\":\"09:00\",\"close\":\"17:00\"},"                       \
	      "{\"day\":\"thu\",\"open\":\"09:00\",\"close\":\"17:00\"},"                       \
	      "{\"day\":\"fri\",\"open\":\"09:00\",\"close\":\"17:00\"}]",                      \
	      "[]")

static bool tzdata(void)
{
	struct tm tm;
	if (base_localtime_in("Europe/Stockholm", 0, &tm) == 0)
		return true;
	printf("skipped: no tz database\n");
	return false;
}

static void test_hours_always_open(void)
{
	json_t *doc = json_loads("{\"name\":\"Q\"}", 0, NULL);
	CHECK(core_queue_open(doc, utc(2024, 7, 6, 3, 0)));
	json_decref(doc);
	doc = json_loads("{\"name\":\"Q\",\"business_hours\":{}}", 0, NULL);
	CHECK(core_queue_open(doc, utc(2024, 7, 6, 3, 0)));
	json_decref(doc);
	/* empty weekly: open, but a holiday still closes the whole day */
	doc = hours("UTC", "[]", "[{\"date\":\"2024-07-06\",\"name\":\"x\"}]");
	CHECK(core_queue_open(doc, utc(2024, 7, 5, 23, 59)));
	CHECK(!core_queue_open(doc, utc(2024, 7, 6, 0, 0)));
	CHECK(!core_queue_open(doc, utc(2024, 7, 6, 23, 59)));
	CHECK(core_queue_open(doc, utc(2024, 7, 7, 0, 0)));
	json_decref(doc);
	/* open == close is empty, not a whole day */
	doc = hours("UTC", "[{\"day\":\"sat\",\"open\":\"10:00\",\"close\":\"10:00\"}]", "[]");
	CHECK(!core_queue_open(doc, utc(2024, 7, 6, 10, 0)));
	json_decref(doc);
}

/* Europe/Stockholm: the same local hours are other UTC hours in summer
 * (CEST, +2) and winter (CET, +1); the night of a switch follows it. */
static void test_hours_stockholm_dst(void)
{
	if (!tzdata())
		return;
	json_t *doc = WEEKDAYS_9_17("Europe/Stockholm");
	REQUIRE(doc);
	/* Monday 2024-07-01, CEST */
	CHECK(!core_queue_open(doc, utc(2024, 7, 1, 6, 59)));
	CHECK(core_queue_open(doc, utc(2024, 7, 1, 7, 0)));
	CHECK(core_queue_open(doc, utc(2024, 7, 1, 14, 59)));
	CHECK(!core_queue_open(doc, utc(2024, 7, 1, 15, 0)));
	/* Monday 2024-01-08, CET */
	CHECK(!core_queue_open(doc, utc(2024, 1, 8, 7, 59)));
	CHECK(core_queue_open(doc, utc(2024, 1, 8, 8, 0)));
	CHECK(core_queue_open(doc, utc(2024, 1, 8, 15, 59)));
	CHECK(!core_queue_open(doc, utc(2024, 1, 8, 16, 0)));
	/* Saturday */
	CHECK(!core_queue_open(doc, utc(2024, 7, 6, 10, 0)));
	json_decref(doc);
	/* Sunday 2024-03-31: 02:00 CET jumps to 03:00 CEST */
	doc = hours("Europe/Stockholm", "[{\"day\":\"sun\",\"open\":\"01:00\",\"close\":\"04:00\"}]", "[]");
	CHECK(!core_queue_open(doc, utc(2024, 3, 30, 23, 59))); /* 00:59 CET */
	CHECK(core_queue_open(doc, utc(2024, 3, 31, 0, 30)));   /* 01:30 CET */
	CHECK(core_queue_open(doc, utc(2024, 3, 31, 1, 0)));    /* 03:00 CEST */
	CHECK(core_queue_open(doc, utc(2024, 3, 31, 1, 59)));   /* 03:59 CEST */
	CHECK(!core_queue_open(doc, utc(2024, 3, 31, 2, 0)));   /* 04:00 CEST */
	json_decref(doc);
}

static void test_hours_other_zones(void)
{
	if (!tzdata())
		return;
	/* America/New_York, Saturdays 10-14: EDT (-4) and EST (-5) */
	json_t *doc = hours("America/New_York", "[{\"day\":\"sat\",\"open\":\"10:00\",\"close\":\"14:00\"}]", "[]");
	CHECK(!core_queue_open(doc, utc(2024, 7, 6, 13, 59)));
	CHECK(core_queue_open(doc, utc(2024, 7, 6, 14, 0)));
	CHECK(core_queue_open(doc, utc(2024, 7, 6, 17, 59)));
	CHECK(!core_queue_open(doc, utc(2024, 7, 6, 18, 0)));
	CHECK(!core_queue_open(doc, utc(2024, 1, 6, 14, 30)));
	CHECK(core_queue_open(doc, utc(2024, 1, 6, 15, 0)));
	json_decref(doc);
	/* Asia/Tokyo (+9): Monday, whole day; in UTC it starts on Sunday */
	doc = hours("Asia/Tokyo", "[{\"day\":\"mon\",\"open\":\"00:00\",\"close\":\"24:00\"}]", "[]");
	CHECK(!core_queue_open(doc, utc(2024, 7, 7, 14, 59)));
	CHECK(core_queue_open(doc, utc(2024, 7, 7, 15, 0)));
	CHECK(core_queue_open(doc, utc(2024, 7, 8, 14, 59)));
	CHECK(!core_queue_open(doc, utc(2024, 7, 8, 15, 0)));
	json_decref(doc);
	/* Australia/Sydney: summer time in January (AEDT +11), not in July */
	doc = hours("Australia/Sydney", "[{\"day\":\"fri\",\"open\":\"09:00\",\"close\":\"17:00\"}]", "[]");
	CHECK(!core_queue_open(doc, utc(2024, 1, 4, 21, 59)));
	CHECK(core_queue_open(doc, utc(2024, 1, 4, 22, 0)));
	CHECK(!core_queue_open(doc, utc(2024, 1, 5, 22, 0))); /* Saturday 09:00 */
	CHECK(!core_queue_open(doc, utc(2024, 7, 4, 22, 59)));
	CHECK(core_queue_open(doc, utc(2024, 7, 4, 23, 0)));
	json_decref(doc);
	/* an unknown zone counts as UTC */
	doc = WEEKDAYS_9_17("Mars/Olympus_Mons");
	CHECK(!core_queue_open(doc, utc(2024, 7, 1, 8, 59)));
	CHECK(core_queue_open(doc, utc(2024, 7, 1, 9, 0)));
	json_decref(doc);
}

/* Close before open runs overnight; holidays are local dates. */
static void test_hours_overnight_and_holidays(void)
{
	if (!tzdata())
		return;
	const char *night = "[{\"day\":\"fri\",\"open\":\"22:00\",\"close\":\"06:00\"}]";
	json_t *doc = hours("Europe/Stockholm", night, "[]");
	CHECK(!core_queue_open(doc, utc(2024, 7, 5, 19, 59))); /* Fri 21:59 */
	CHECK(core_queue_open(doc, utc(2024, 7, 5, 20, 0)));   /* Fri 22:00 */
	CHECK(core_queue_open(doc, utc(2024, 7, 6, 3, 59)));   /* Sat 05:59 */
	CHECK(!core_queue_open(doc, utc(2024, 7, 6, 4, 0)));   /* Sat 06:00 */
	CHECK(!core_queue_open(doc, utc(2024, 7, 5, 2, 0)));   /* Fri 04:00: Thursday has no night */
	json_decref(doc);
	/* the Friday is a holiday: no night at all */
	doc = hours("Europe/Stockholm", night, "[{\"date\":\"2024-07-05\"}]");
	CHECK(!core_queue_open(doc, utc(2024, 7, 5, 20, 30)));
	CHECK(!core_queue_open(doc, utc(2024, 7, 6, 1, 0)));
	json_decref(doc);
	/* the Saturday is a holiday: the night ends at midnight */
	doc = hours("Europe/Stockholm", night, "[{\"date\":\"2024-07-06\"}]");
	CHECK(core_queue_open(doc, utc(2024, 7, 5, 21, 59)));  /* Fri 23:59 */
	CHECK(!core_queue_open(doc, utc(2024, 7, 5, 22, 0)));  /* Sat 00:00 */
	json_decref(doc);
	/* 24:00 closes at midnight */
	doc = hours("UTC", "[{\"day\":\"mon\",\"open\":\"18:00\",\"close\":\"24:00\"}]", "[]");
	CHECK(core_queue_open(doc, utc(2024, 7, 1, 23, 59)));
	CHECK(!core_queue_open(doc, utc(2024, 7, 2, 0, 0)));
	json_decref(doc);
	/* Christmas (a Wednesday) in Stockholm starts at 23:00 UTC the day before */
	const char *all = "[{\"day\":\"mon\",\"open\":\"00:00\",\"close\":\"24:00\"},"
			  "{\"day\":\"tue\",\"open\":\"00:00\",\"close\":\"24:00\"},"
			  "{\"day\":\"wed\",\"open\":\"00:00\",\"close\":\"24:00\"},"
			  "{\"day\":\"thu\",\"open\":\"00:00\",\"close\":\"24:00\"}]";
	doc = hours("Europe/Stockholm", all, "[{\"date\":\"2024-12-25\",\"name\":\"Juldagen\"}]");
	CHECK(core_queue_open(doc, utc(2024, 12, 24, 22, 59)));
	CHECK(!core_queue_open(doc, utc(2024, 12, 24, 23, 0)));
	CHECK(!core_queue_open(doc, utc(2024, 12, 25, 22, 59)));
	CHECK(core_queue_open(doc, utc(2024, 12, 25, 23, 0)));
	json_decref(doc);
}

static void test_agent_room(void)
{
	struct routing_agent_spec s;
	routing_agent_spec_init(&s);
	uint8_t used[ROUTING_CH_COUNT] = {0};
	CHECK(core_agent_has_room(used, s.capacity, s.block, ROUTING_CH_CHAT));
	used[ROUTING_CH_CHAT] = 2;
	CHECK(core_agent_has_room(used, s.capacity, s.block, ROUTING_CH_CHAT));
	CHECK(core_agent_has_room(used, s.capacity, s.block, ROUTING_CH_VOICE)); /* chat blocks nothing */
	used[ROUTING_CH_CHAT] = 3;
	CHECK(!core_agent_has_room(used, s.capacity, s.block, ROUTING_CH_CHAT));
	used[ROUTING_CH_CHAT] = 0;
	used[ROUTING_CH_VOICE] = 1; /* a call blocks every other channel */
	CHECK(!core_agent_has_room(used, s.capacity, s.block, ROUTING_CH_CHAT));
	CHECK(!core_agent_has_room(used, s.capacity, s.block, ROUTING_CH_EMAIL));
	CHECK(!core_agent_has_room(used, s.capacity, s.block, ROUTING_CH_VOICE));
	s.capacity[ROUTING_CH_CHAT] = 0;
	used[ROUTING_CH_VOICE] = 0;
	CHECK(!core_agent_has_room(used, s.capacity, s.block, ROUTING_CH_CHAT));
	CHECK(!core_agent_has_room(used, s.capacity, s.block, (enum routing_channel)9));
}

static void test_wrapup_codes(void)
{
	const char *why = NULL;
	json_t *doc = json_loads("{\"name\":\"Q\"}", 0, NULL);
	CHECK_EQ_INT(core_wrapup_check(doc, "anything", &why), 0);
	CHECK_EQ_INT(core_wrapup_check(doc, "", &why), 0);
	CHECK_EQ_INT(core_wrapup_check(doc, NULL, &why), 0);
	json_decref(doc);
	doc = json_loads("{\"wrap_up_codes\":[],\"disposition_required\":false}", 0, NULL);
	CHECK_EQ_INT(core_wrapup_check(doc, "anything", &why), 0);
	json_decref(doc);
	doc = json_loads("{\"wrap_up_codes\":[\"sale\",\"no-sale\"],\"disposition_required\":false}", 0, NULL);
	CHECK_EQ_INT(core_wrapup_check(doc, "sale", &why), 0);
	CHECK_EQ_INT(core_wrapup_check(doc, "no-sale", &why), 0);
	CHECK_EQ_INT(core_wrapup_check(doc, "Sale", &why), -EINVAL);
	CHECK(why && strncmp(why, "disposition", 11) == 0);
	CHECK_EQ_INT(core_wrapup_check(doc, "", &why), 0); /* no code given, none required */
	json_decref(doc);
	doc = json_loads("{\"wrap_up_codes\":[\"sale\"],\"disposition_required\":true}", 0, NULL);
	why = NULL;
	CHECK_EQ_INT(core_wrapup_check(doc, "", &why), -EINVAL);
	CHECK(why != NULL);
	CHECK_EQ_INT(core_wrapup_check(doc, "sale", &why), 0);
	json_decref(doc);
	doc = json_loads("{\"disposition_required\":true}", 0, NULL);
	CHECK_EQ_INT(core_wrapup_check(doc, "free text", &why), 0);
	CHECK_EQ_INT(core_wrapup_check(doc, NULL, &why), -EINVAL);
	json_decref(doc);
}

/* "Today" of the live figures: local midnight to midnight in the server's
 * TZ, 23 hours long on the day summer time starts. */
static void test_local_day(void)
{
	const char *old = getenv("TZ");
	char saved[128] = "";
	if (old)
		snprintf(saved, sizeof(saved), "%s", old);
	setenv("TZ", "UTC", 1);
	tzset();
	int64_t s, e;
	core_local_day((int64_t)utc(2024, 7, 1, 13, 45) * 1000 + 123, &s, &e);
	CHECK_EQ_INT(s, (int64_t)utc(2024, 7, 1, 0, 0) * 1000);
	CHECK_EQ_INT(e, (int64_t)utc(2024, 7, 2, 0, 0) * 1000);
	if (tzdata()) {
		setenv("TZ", ":Europe/Stockholm", 1);
		tzset();
		core_local_day((int64_t)utc(2024, 3, 31, 12, 0) * 1000, &s, &e);
		CHECK_EQ_INT(s, (int64_t)utc(2024, 3, 30, 23, 0) * 1000);
		CHECK_EQ_INT(e, (int64_t)utc(2024, 3, 31, 22, 0) * 1000);
		core_local_day((int64_t)utc(2024, 3, 30, 23, 0) * 1000, &s, &e); /* midnight itself */
		CHECK_EQ_INT(s, (int64_t)utc(2024, 3, 30, 23, 0) * 1000);
	}
	if (old)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
}

int main(void)
{
	TEST_RUN(test_table);
	TEST_RUN(test_enums);
	TEST_RUN(test_queue_doc);
	TEST_RUN(test_queue_overflow_and_sticky);
	TEST_RUN(test_agent_doc);
	TEST_RUN(test_hours_always_open);
	TEST_RUN(test_hours_stockholm_dst);
	TEST_RUN(test_hours_other_zones);
	TEST_RUN(test_hours_overnight_and_holidays);
	TEST_RUN(test_agent_room);
	TEST_RUN(test_wrapup_codes);
	TEST_RUN(test_local_day);
	TEST_MAIN_END();
}
