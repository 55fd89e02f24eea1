/*
 * core_conf.c: pure mapping from stored queue and agent documents (the JSON
 * the REST API validated and stored, see src/api/api_schema.c) to routing
 * engine specs, plus the small string tables for languages and reasons,
 * and the rules read from those documents: business hours (is a queue
 * open now), wrap-up codes, room for work on an agent. No I/O and no
 * global state beyond the cached time zones of src/base (tz.c): the core
 * thread and tests/unit/core use it.
 */
#include "core/core_int.h"
#include "base/base.h"
#include "voice/voice.h"

#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int core_table_id(struct core_table *t, const char *s, bool add)
{
	if (!s)
		return -1;
	for (unsigned i = 0; i < t->n; i++)
		if (strcmp(t->s[i], s) == 0)
			return (int)i;
	if (!add || t->n >= CORE_TABLE_MAX || strlen(s) >= sizeof(t->s[0]))
		return -1;
	snprintf(t->s[t->n], sizeof(t->s[0]), "%s", s);
	return (int)t->n++;
}

static const char *const channel_names[] = {"voice", "chat", "email", "messaging"};
static const char *const strategy_names[] = {"longest_idle", "least_occupied", "best_skill",
					     "round_robin", "ring_all"};

int core_channel_parse(const char *s)
{
	for (int i = 0; s && i < ROUTING_CH_COUNT; i++)
		if (strcmp(channel_names[i], s) == 0)
			return i;
	return -1;
}

const char *core_channel_name(enum routing_channel c)
{
	return (unsigned)c < ROUTING_CH_COUNT ? channel_names[c] : "?";
}

int core_strategy_parse(const char *s)
{
	for (int i = 0; s && i < 5; i++)
		if (strcmp(strategy_names[i], s) == 0)
			return i;
	return -1;
}

static int64_t int_or(const json_t *o, const char *k, int64_t def)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

int core_queue_conf_from_doc(const json_t *doc, struct core_queue_conf *c)
{
	memset(c, 0, sizeof(*c));
	routing_queue_spec_init(&c->spec);
	if (!json_is_object(doc))
		return -EINVAL;
	json_t *st = json_object_get(doc, "strategy");
	if (st) {
		int s = core_strategy_parse(json_string_value(st));
		if (s < 0)
			return -EINVAL;
		c->spec.strategy = (enum routing_strategy)s;
	}
	json_t *sl = json_object_get(doc, "service_level");
	int64_t sl_s = int_or(sl, "seconds", 20);
	if (sl_s > 0)
		c->spec.sl_target_ms = sl_s * 1000;
	int64_t to = int_or(doc, "offer_timeout_seconds", 15);
	if (to > 0)
		c->spec.offer_timeout_ms = to * 1000;
	int64_t wrap = int_or(doc, "wrap_up_seconds", 30);
	c->spec.wrap_ms = wrap > 0 ? wrap * 1000 : 0;
	c->priority = (int)int_or(doc, "priority", 0);

	json_t *chs = json_object_get(doc, "channels");
	if (json_is_array(chs)) {
		size_t i;
		json_t *v;
		json_array_foreach(chs, i, v) {
			int ch = core_channel_parse(json_string_value(v));
			if (ch >= 0)
				c->channels |= 1u << ch;
		}
	} else {
		c->channels = (1u << ROUTING_CH_COUNT) - 1;
	}

	json_t *rs = json_object_get(doc, "required_skills");
	if (json_array_size(rs) > ROUTING_MAX_REQS)
		return -E2BIG;
	size_t i;
	json_t *v;
	json_array_foreach(rs, i, v) {
		int64_t id = int_or(v, "skill_id", -1), lv = int_or(v, "min_level", 1);
		if (id < 0 || id > ROUTING_MAX_SKILL)
			return -ERANGE;
		c->skills[c->spec.n_skills].id = (uint16_t)id;
		c->skills[c->spec.n_skills].level = (uint8_t)(lv < 1 ? 1 : lv > 5 ? 5 : lv);
		c->spec.n_skills++;
	}
	c->spec.skills = c->skills;

	/* Overflow steps (the API keeps them ordered and complete). */
	json_t *steps = json_object_get(doc, "overflow_steps");
	if (json_array_size(steps) > ROUTING_MAX_STEPS)
		return -E2BIG;
	json_array_foreach(steps, i, v) {
		static const char *const actions[] = {"lower_level", "add_queue", "drop_language",
						      "offer_callback"};
		const char *a = json_string_value(json_object_get(v, "action"));
		int act = -1;
		for (int k = 0; a && k < 4; k++)
			if (strcmp(actions[k], a) == 0)
				act = k;
		if (act < 0)
			return -EINVAL;
		struct routing_step *sp = &c->steps[c->spec.n_steps++];
		sp->after_ms = int_or(v, "after_seconds", 0) * 1000;
		sp->action = (enum routing_step_action)act;
		sp->arg = act == ROUTING_STEP_LOWER_LEVEL ? (uint32_t)int_or(v, "levels", 1)
			  : act == ROUTING_STEP_ADD_QUEUE  ? (uint32_t)int_or(v, "queue_id", 0)
							   : 0;
	}
	c->spec.steps = c->steps;
	int64_t mw = int_or(doc, "max_wait_seconds", 0);
	if (mw > 0) {
		const char *ea = json_string_value(json_object_get(doc, "max_wait_action"));
		c->spec.max_wait_ms = mw * 1000;
		c->spec.exit_action = !ea || strcmp(ea, "timeout") == 0 ? ROUTING_EXIT_TIMEOUT
				      : strcmp(ea, "overflow") == 0      ? ROUTING_EXIT_OVERFLOW
									 : ROUTING_EXIT_QUEUE;
		c->spec.exit_arg = (uint32_t)int_or(doc, "max_wait_queue_id", 0);
	}
	json_t *sticky = json_object_get(doc, "sticky_agent");
	int64_t win = int_or(sticky, "window_minutes", 0);
	if (win > 0) {
		c->spec.sticky_window_ms = win * 60 * 1000;
		c->spec.sticky_wait_ms = int_or(sticky, "wait_seconds", 20) * 1000;
	}
	return 0;
}

int core_agent_conf_from_doc(const json_t *doc, struct core_table *langs,
			     struct core_agent_conf *c)
{
	memset(c, 0, sizeof(*c));
	routing_agent_spec_init(&c->spec);
	if (!json_is_object(doc))
		return -EINVAL;
	int r = 0;
	c->user_id = int_or(doc, "user_id", 0);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(doc, "skills"), i, v) {
		int64_t id = int_or(v, "skill_id", -1), lv = int_or(v, "level", 1);
		if (id < 0 || id > ROUTING_MAX_SKILL) {
			r = -ERANGE;
			continue;
		}
		if (c->spec.n_skills == CORE_AGENT_MAX_SKILLS)
			break;
		/* ids must be unique for the engine; the API does not enforce it */
		bool dup = false;
		for (unsigned k = 0; k < c->spec.n_skills; k++)
			if (c->skills[k].id == id) {
				dup = true;
				if (lv > c->skills[k].level)
					c->skills[k].level = (uint8_t)lv;
			}
		if (dup)
			continue;
		c->skills[c->spec.n_skills].id = (uint16_t)id;
		c->skills[c->spec.n_skills].level = (uint8_t)(lv < 1 ? 1 : lv > 5 ? 5 : lv);
		c->spec.n_skills++;
	}
	json_array_foreach(json_object_get(doc, "languages"), i, v) {
		int l = core_table_id(langs, json_string_value(v), true);
		if (l >= 0)
			c->spec.languages |= 1ull << l;
	}
	json_t *cap = json_object_get(doc, "capacity");
	for (int ch = 0; ch < ROUTING_CH_COUNT; ch++) {
		int64_t n = int_or(cap, channel_names[ch], c->spec.capacity[ch]);
		c->spec.capacity[ch] = (uint8_t)(n < 0 ? 0 : n > 255 ? 255 : n);
	}
	json_array_foreach(json_object_get(doc, "queues"), i, v) {
		if (c->spec.n_queues == CORE_AGENT_MAX_QUEUES)
			break;
		if (json_is_integer(v) && json_integer_value(v) > 0 &&
		    json_integer_value(v) <= UINT32_MAX)
			c->queues[c->spec.n_queues++] = (uint32_t)json_integer_value(v);
	}
	c->spec.skills = c->skills;
	c->spec.queues = c->queues;
	return r;
}

/* ---- business hours --------------------------------------------------- */

static int hhmm(const char *s)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[3] < '0' || s[3] > '9' ||
	    s[4] < '0' || s[4] > '9' || m > 59 || h * 60 + m > 24 * 60)
		return -1;
	return h * 60 + m;
}

static int day_index(const char *s)
{
	static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	for (int i = 0; s && i < 7; i++)
		if (strcmp(days[i], s) == 0)
			return i;
	return -1;
}

static bool is_holiday(const json_t *holidays, const struct tm *tm)
{
	char date[40];
	snprintf(date, sizeof(date), "%04d-%02d-%02d", tm->tm_year + 1900, tm->tm_mon + 1,
		 tm->tm_mday);
	size_t i;
	json_t *v;
	json_array_foreach(holidays, i, v) {
		const char *d = json_string_value(json_object_get(v, "date"));
		if (d && strcmp(d, date) == 0)
			return true;
	}
	return false;
}

bool core_queue_open(const json_t *doc, time_t now)
{
	json_t *bh = json_object_get(doc, "business_hours");
	if (!json_is_object(bh))
		return true;
	const char *zone = json_string_value(json_object_get(bh, "timezone"));
	struct tm tm, prev;
	if (base_localtime_in(zone ? zone : "UTC", (int64_t)now, &tm)) {
		time_t t = now;
		gmtime_r(&t, &tm); /* an unknown zone counts as UTC (see core_int.h) */
	}
	/* Yesterday's local date, for an interval that opened then and runs
	 * past midnight: the calendar day before, whatever its length. */
	time_t noon = timegm(&(struct tm){.tm_year = tm.tm_year, .tm_mon = tm.tm_mon,
					  .tm_mday = tm.tm_mday - 1, .tm_hour = 12});
	gmtime_r(&noon, &prev);

	json_t *holidays = json_object_get(bh, "holidays");
	if (is_holiday(holidays, &tm))
		return false;
	json_t *weekly = json_object_get(bh, "weekly");
	if (!json_array_size(weekly))
		return true;
	int today = (tm.tm_wday + 6) % 7, yesterday = (today + 6) % 7;
	int m = tm.tm_hour * 60 + tm.tm_min;
	bool prev_holiday = is_holiday(holidays, &prev);
	size_t i;
	json_t *v;
	json_array_foreach(weekly, i, v) {
		int d = day_index(json_string_value(json_object_get(v, "day")));
		int o = hhmm(json_string_value(json_object_get(v, "open")));
		int c = hhmm(json_string_value(json_object_get(v, "close")));
		if (d < 0 || o < 0 || c < 0 || o == c)
			continue;
		if (o < c) {
			if (d == today && m >= o && m < c)
				return true;
		} else if ((d == today && m >= o) || (d == yesterday && m < c && !prev_holiday)) {
			return true; /* overnight: open on day d, closes on the next */
		}
	}
	return false;
}

/* ---- agents: room for work ---------------------------------------------- */

bool core_agent_has_room(const uint8_t used[ROUTING_CH_COUNT],
			 const uint8_t capacity[ROUTING_CH_COUNT],
			 const uint8_t block[ROUTING_CH_COUNT], enum routing_channel ch)
{
	if ((unsigned)ch >= ROUTING_CH_COUNT || used[ch] >= capacity[ch])
		return false;
	unsigned busy = 0;
	for (int c = 0; c < ROUTING_CH_COUNT; c++)
		if (used[c])
			busy |= 1u << c;
	return !(block[ch] & busy);
}

/* ---- wrap-up ---------------------------------------------------------------- */

int core_wrapup_check(const json_t *qdoc, const char *disposition, const char **detail)
{
	const char *d = disposition ? disposition : "";
	if (!*d) {
		if (json_is_true(json_object_get(qdoc, "disposition_required"))) {
			*detail = "disposition: this queue requires a disposition code";
			return -EINVAL;
		}
		return 0;
	}
	json_t *codes = json_object_get(qdoc, "wrap_up_codes");
	if (!json_array_size(codes))
		return 0;
	size_t i;
	json_t *v;
	json_array_foreach(codes, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), d) == 0)
			return 0;
	*detail = "disposition: not one of the queue's wrap_up_codes";
	return -EINVAL;
}

/* ---- the local day ------------------------------------------------------------ */

void core_local_day(int64_t now_ms, int64_t *start_ms, int64_t *end_ms)
{
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	struct tm a = {.tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = tm.tm_mday,
		       .tm_isdst = -1};
	struct tm b = {.tm_year = tm.tm_year, .tm_mon = tm.tm_mon, .tm_mday = tm.tm_mday + 1,
		       .tm_isdst = -1};
	time_t s = mktime(&a), e = mktime(&b);
	*start_ms = (int64_t)s * 1000;
	*end_ms = (int64_t)e * 1000;
	if (*end_ms <= now_ms || *start_ms > now_ms) { /* a zone without midnight (rare) */
		*start_ms = now_ms - now_ms % 86400000;
		*end_ms = *start_ms + 86400000;
	}
}

/* ---- a queue's voice settings -------------------------------------------- */

static void copy_str(char *dst, size_t size, const json_t *v, const char *def)
{
	const char *s = json_is_string(v) ? json_string_value(v) : def;
	snprintf(dst, size, "%s", s ? s : "");
}

void core_queue_voice_info(const json_t *doc, time_t now, struct voice_queue_info *out)
{
	memset(out, 0, sizeof(*out));
	copy_str(out->language, sizeof(out->language), json_object_get(doc, "language"), "en");
	copy_str(out->name, sizeof(out->name), json_object_get(doc, "name"), "");
	copy_str(out->moh, sizeof(out->moh), json_object_get(doc, "voice_moh"), "");
	copy_str(out->closed_text, sizeof(out->closed_text), json_object_get(doc, "voice_closed_text"), "");
	out->open = core_queue_open(doc, now);
	out->recording = json_is_true(json_object_get(doc, "voice_recording"));
	json_t *a = json_object_get(doc, "voice_announce_s");
	json_int_t s = json_is_integer(a) ? json_integer_value(a) : 30;
	out->announce_s = s < 0 ? 0 : s > 3600 ? 3600 : (unsigned)s;
}
