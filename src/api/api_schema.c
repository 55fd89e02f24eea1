/*
 * api_schema.c: the resource definitions (data), the validator that every
 * request body goes through, and the OpenAPI document generated from the
 * same data. A field error names the dotted path ("capacity.chat",
 * "skills[2].level") so that the UI can put the message next to the input.
 */
#include "api/api_schema.h"
#include "api/api_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- the resources -------------------------------------------------- */

static const char *const roles_enum[] = {"admin", "supervisor", "agent", NULL};
static const char *const lang_enum[] = {"en", "sv", "de", "hu", "lt", NULL};
static const char *const channel_enum[] = {"voice", "chat", "email", "messaging", NULL};
static const char *const strategy_enum[] = {"longest_idle", "least_occupied", "best_skill",
					    "round_robin", "ring_all", NULL};
static const char *const day_enum[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL};
static const char *const ident_enum[] = {"phone", "email", "chat", "messenger", NULL};

#define USERNAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789._-"
#define LANGTAG_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"

static const struct schema_field user_fields[] = {
	{.name = "username", .type = SCHEMA_STRING, .required = true, .min = 1, .max = 64,
	 .charset = USERNAME_CHARS, .desc = "Login name: lower-case letters, digits, '.', '_', '-'"},
	{.name = "role", .type = SCHEMA_ENUM, .required = true, .enums = roles_enum},
	{.name = "display_name", .type = SCHEMA_STRING, .max = 200, .def = "\"\""},
	{.name = "language", .type = SCHEMA_ENUM, .enums = lang_enum, .def = "\"en\""},
	{.name = "password", .type = SCHEMA_STRING, .min = 8, .max = 256, .write_only = true,
	 .desc = "Required on create; on update, a new password (leave out to keep)"},
	{0},
};

static const struct schema_field name_desc_fields[] = {
	{.name = "name", .type = SCHEMA_STRING, .required = true, .min = 1, .max = 100},
	{.name = "description", .type = SCHEMA_STRING, .max = 2000, .def = "\"\""},
	{0},
};

static const struct schema_field agent_skill_props[] = {
	{.name = "skill_id", .type = SCHEMA_REF, .required = true, .ref = "skills"},
	{.name = "level", .type = SCHEMA_INT, .required = true, .min = 1, .max = 5},
	{0},
};
static const struct schema_field agent_skill_item = {
	.type = SCHEMA_OBJECT, .props = agent_skill_props};
static const struct schema_field lang_item = {
	.type = SCHEMA_STRING, .min = 2, .max = 16, .charset = LANGTAG_CHARS};
static const struct schema_field capacity_props[] = {
	{.name = "voice", .type = SCHEMA_INT, .min = 0, .max = 10, .def = "1"},
	{.name = "chat", .type = SCHEMA_INT, .min = 0, .max = 20, .def = "3"},
	{.name = "email", .type = SCHEMA_INT, .min = 0, .max = 50, .def = "5"},
	{.name = "messaging", .type = SCHEMA_INT, .min = 0, .max = 50, .def = "5"},
	{0},
};
static const struct schema_field queue_ref_item = {.type = SCHEMA_REF, .ref = "queues"};

static const struct schema_field agent_fields[] = {
	{.name = "name", .type = SCHEMA_STRING, .required = true, .min = 1, .max = 200},
	{.name = "user_id", .type = SCHEMA_REF, .nullable = true, .ref = "users", .def = "null"},
	{.name = "team_id", .type = SCHEMA_REF, .nullable = true, .ref = "teams", .def = "null"},
	{.name = "skills", .type = SCHEMA_ARRAY, .max = 100, .items = &agent_skill_item,
	 .def = "[]"},
	{.name = "languages", .type = SCHEMA_ARRAY, .max = 20, .items = &lang_item,
	 .unique_items = true, .def = "[]"},
	{.name = "capacity", .type = SCHEMA_OBJECT, .props = capacity_props, .def = "{}"},
	{.name = "queues", .type = SCHEMA_ARRAY, .max = 200, .items = &queue_ref_item,
	 .unique_items = true, .def = "[]"},
	{0},
};

static const struct schema_field channel_item = {.type = SCHEMA_ENUM, .enums = channel_enum};
static const struct schema_field req_skill_props[] = {
	{.name = "skill_id", .type = SCHEMA_REF, .required = true, .ref = "skills"},
	{.name = "min_level", .type = SCHEMA_INT, .required = true, .min = 1, .max = 5},
	{0},
};
static const struct schema_field req_skill_item = {.type = SCHEMA_OBJECT, .props = req_skill_props};
static const struct schema_field sl_props[] = {
	{.name = "percent", .type = SCHEMA_INT, .required = true, .min = 1, .max = 100},
	{.name = "seconds", .type = SCHEMA_INT, .required = true, .min = 1, .max = 3600},
	{0},
};
static const struct schema_field weekly_props[] = {
	{.name = "day", .type = SCHEMA_ENUM, .required = true, .enums = day_enum},
	{.name = "open", .type = SCHEMA_HHMM, .required = true},
	{.name = "close", .type = SCHEMA_HHMM, .required = true},
	{0},
};
static const struct schema_field weekly_item = {.type = SCHEMA_OBJECT, .props = weekly_props};
static const struct schema_field holiday_props[] = {
	{.name = "date", .type = SCHEMA_DATE, .required = true},
	{.name = "name", .type = SCHEMA_STRING, .max = 200, .def = "\"\""},
	{0},
};
static const struct schema_field holiday_item = {.type = SCHEMA_OBJECT, .props = holiday_props};
static const struct schema_field hours_props[] = {
	{.name = "timezone", .type = SCHEMA_STRING, .min = 1, .max = 64, .def = "\"UTC\"",
	 .charset = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+-"},
	{.name = "weekly", .type = SCHEMA_ARRAY, .max = 70, .items = &weekly_item, .def = "[]",
	 .desc = "Opening intervals; an empty list means always open"},
	{.name = "holidays", .type = SCHEMA_ARRAY, .max = 400, .items = &holiday_item, .def = "[]"},
	{0},
};

static const char *const step_action_enum[] = {"lower_level", "add_queue", "drop_language",
					       "offer_callback", NULL};
static const char *const exit_action_enum[] = {"timeout", "overflow", "queue", NULL};
static const struct schema_field step_props[] = {
	{.name = "after_seconds", .type = SCHEMA_INT, .required = true, .min = 1, .max = 86400,
	 .desc = "Waiting time in the queue after which the step applies"},
	{.name = "action", .type = SCHEMA_ENUM, .required = true, .enums = step_action_enum},
	{.name = "levels", .type = SCHEMA_INT, .min = 1, .max = 4, .def = "1",
	 .desc = "lower_level: how many levels to lower every minimum skill level by"},
	{.name = "queue_id", .type = SCHEMA_REF, .nullable = true, .ref = "queues", .def = "null",
	 .desc = "add_queue: the queue whose agents may serve too (required for add_queue)"},
	{0},
};
static const struct schema_field step_item = {.type = SCHEMA_OBJECT, .props = step_props};
static const struct schema_field sticky_props[] = {
	{.name = "window_minutes", .type = SCHEMA_INT, .min = 0, .max = 43200, .def = "0",
	 .desc = "A customer returning within this time goes first to their last agent; 0 turns it off"},
	{.name = "wait_seconds", .type = SCHEMA_INT, .min = 0, .max = 600, .def = "20",
	 .desc = "How long to hold the contact for that agent to free up"},
	{0},
};

static const struct schema_field wrap_code_item = {.type = SCHEMA_STRING, .min = 1, .max = 64};

static const struct schema_field queue_fields[] = {
	{.name = "name", .type = SCHEMA_STRING, .required = true, .min = 1, .max = 100},
	{.name = "description", .type = SCHEMA_STRING, .max = 2000, .def = "\"\""},
	{.name = "channels", .type = SCHEMA_ARRAY, .min = 1, .max = 4, .items = &channel_item,
	 .unique_items = true, .def = "[\"voice\",\"chat\",\"email\",\"messaging\"]"},
	{.name = "strategy", .type = SCHEMA_ENUM, .enums = strategy_enum, .def = "\"longest_idle\""},
	{.name = "priority", .type = SCHEMA_INT, .min = 0, .max = 100, .def = "0"},
	{.name = "language", .type = SCHEMA_ENUM, .enums = lang_enum, .def = "\"en\""},
	{.name = "required_skills", .type = SCHEMA_ARRAY, .max = 20, .items = &req_skill_item,
	 .def = "[]"},
	{.name = "service_level", .type = SCHEMA_OBJECT, .props = sl_props,
	 .def = "{\"percent\":80,\"seconds\":20}"},
	{.name = "offer_timeout_seconds", .type = SCHEMA_INT, .min = 5, .max = 300, .def = "15"},
	{.name = "wrap_up_seconds", .type = SCHEMA_INT, .min = 0, .max = 3600, .def = "30"},
	{.name = "business_hours", .type = SCHEMA_OBJECT, .props = hours_props, .def = "{}"},
	{.name = "overflow_steps", .type = SCHEMA_ARRAY, .max = 8, .items = &step_item, .def = "[]",
	 .desc = "Applied as a contact waits: lower skill levels, add another queue's agents, "
		 "stop requiring the language, offer a callback"},
	{.name = "max_wait_seconds", .type = SCHEMA_INT, .min = 0, .max = 86400, .def = "0",
	 .desc = "Longest wait before max_wait_action; 0: no maximum"},
	{.name = "max_wait_action", .type = SCHEMA_ENUM, .enums = exit_action_enum, .def = "\"timeout\""},
	{.name = "max_wait_queue_id", .type = SCHEMA_REF, .nullable = true, .ref = "queues",
	 .def = "null", .desc = "max_wait_action queue: where the contact moves (keeping its place in time)"},
	{.name = "sticky_agent", .type = SCHEMA_OBJECT, .props = sticky_props, .def = "{}"},
	{.name = "wrap_up_codes", .type = SCHEMA_ARRAY, .max = 50, .items = &wrap_code_item,
	 .unique_items = true, .def = "[]",
	 .desc = "Disposition codes for wrap-up; when not empty, a disposition must be one of them"},
	{.name = "disposition_required", .type = SCHEMA_BOOL, .def = "false",
	 .desc = "Wrap-up must give a disposition"},
	{.name = "voice_recording", .type = SCHEMA_BOOL, .def = "false",
	 .desc = "Record this queue's calls (both sides mixed, 8 kHz WAV under DATA/recordings)"},
	{.name = "voice_announce_s", .type = SCHEMA_INT, .min = 0, .max = 3600, .def = "30",
	 .desc = "Tell a waiting caller their position and expected wait every this many seconds; 0: never"},
	{.name = "voice_moh", .type = SCHEMA_STRING, .max = 120, .def = "\"\"",
	 .charset = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/",
	 .desc = "Music on hold: a WAV file under DATA/prompts (no '..', no leading '/'); empty: built-in music"},
	{.name = "voice_closed_text", .type = SCHEMA_STRING, .max = 250, .def = "\"\"",
	 .desc = "Spoken to callers when the queue is closed; empty: the built-in phrase"},
	{0},
};

static const struct schema_field ident_props[] = {
	{.name = "type", .type = SCHEMA_ENUM, .required = true, .enums = ident_enum},
	{.name = "value", .type = SCHEMA_STRING, .required = true, .min = 1, .max = 320},
	{0},
};
static const struct schema_field ident_item = {.type = SCHEMA_OBJECT, .props = ident_props};

static const struct schema_field customer_fields[] = {
	{.name = "name", .type = SCHEMA_STRING, .required = true, .min = 1, .max = 200},
	{.name = "company", .type = SCHEMA_STRING, .max = 200, .def = "\"\""},
	{.name = "notes", .type = SCHEMA_STRING, .max = 10000, .def = "\"\""},
	{.name = "language", .type = SCHEMA_ENUM, .enums = lang_enum, .def = "\"en\""},
	{.name = "identities", .type = SCHEMA_ARRAY, .max = 50, .items = &ident_item, .def = "[]"},
	{0},
};

const struct api_resource api_resources[] = {
	{"users", "user", "User", "username", "username", user_fields, ROLE_ADMIN, ROLE_ADMIN},
	{"skills", "skill", "Skill", "name", "name", name_desc_fields, ROLE_ALL, ROLE_ADMIN},
	{"teams", "team", "Team", "name", "name", name_desc_fields, ROLE_ALL, ROLE_ADMIN},
	{"queues", "queue", "Queue", "name", "name", queue_fields, ROLE_ALL, ROLE_ADMIN},
	{"agents", "agent", "Agent", "name", "name", agent_fields, ROLE_ALL,
	 ROLE_ADMIN | ROLE_SUPERVISOR},
	{"customers", "customer", "Customer", "name", "name", customer_fields, ROLE_ALL, ROLE_ALL},
};
const size_t api_resources_count = sizeof(api_resources) / sizeof(api_resources[0]);

const struct api_resource *schema_resource(const char *name)
{
	for (size_t i = 0; i < api_resources_count; i++)
		if (strcmp(api_resources[i].name, name) == 0)
			return &api_resources[i];
	return NULL;
}

/* ---- validation ----------------------------------------------------- */

size_t schema_utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static const char *type_name(const struct schema_field *f)
{
	switch (f->type) {
	case SCHEMA_STRING:
	case SCHEMA_ENUM:
	case SCHEMA_HHMM:
	case SCHEMA_DATE: return "a string";
	case SCHEMA_INT: return "an integer";
	case SCHEMA_REF: return f->nullable ? "an id (integer) or null" : "an id (integer)";
	case SCHEMA_BOOL: return "a boolean";
	case SCHEMA_ARRAY: return "an array";
	case SCHEMA_OBJECT: return "an object";
	}
	return "a value";
}

static int fail(struct schema_result *r, const char *path, const char *fmt, const char *a,
		int64_t x, int64_t y)
{
	r->status = 422;
	snprintf(r->field, sizeof(r->field), "%s", path);
	char msg[200];
	snprintf(msg, sizeof(msg), fmt, a ? a : "", x, y);
	snprintf(r->detail, sizeof(r->detail), "%s: %s", path, msg);
	return -1;
}

static int digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static json_t *validate_value(const struct schema_field *f, json_t *v, const char *path,
			      struct schema_result *r);

static json_t *validate_object(const struct schema_field *props, json_t *in, const char *path,
			       bool allow_version, int64_t *version, struct schema_result *r)
{
	char sub[128];
	const char *key;
	json_t *val;

	json_object_foreach(in, key, val) {
		bool known = false;
		for (const struct schema_field *p = props; p->name; p++)
			if (strcmp(p->name, key) == 0)
				known = true;
		if (allow_version && !path[0] && strcmp(key, "version") == 0) {
			if (!json_is_integer(val) || json_integer_value(val) < 1) {
				fail(r, "version", "expected a positive integer%s", NULL, 0, 0);
				return NULL;
			}
			*version = json_integer_value(val);
			continue;
		}
		/* Read-only fields a client may echo back from a GET. */
		if (!path[0] && (strcmp(key, "id") == 0 || strcmp(key, "created_at") == 0 ||
				 strcmp(key, "updated_at") == 0 || strcmp(key, "version") == 0))
			continue;
		if (!known) {
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
			fail(r, sub, "unknown field%s", NULL, 0, 0);
			return NULL;
		}
	}

	json_t *out = json_object();
	for (const struct schema_field *p = props; p->name; p++) {
		snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", p->name);
		json_t *x = json_object_get(in, p->name);
		json_t *parsed_def = NULL;
		if (!x) {
			if (p->required) {
				fail(r, sub, "required field is missing%s", NULL, 0, 0);
				goto bad;
			}
			if (!p->def)
				continue;
			parsed_def = json_loads(p->def, JSON_DECODE_ANY, NULL);
			x = parsed_def;
		}
		json_t *y = validate_value(p, x, sub, r);
		json_decref(parsed_def);
		if (!y)
			goto bad;
		if (!p->write_only)
			json_object_set_new(out, p->name, y);
		else
			json_decref(y);
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

static json_t *validate_value(const struct schema_field *f, json_t *v, const char *path,
			      struct schema_result *r)
{
	if (json_is_null(v) && f->nullable)
		return json_null();

	switch (f->type) {
	case SCHEMA_STRING:
	case SCHEMA_ENUM:
	case SCHEMA_HHMM:
	case SCHEMA_DATE: {
		if (!json_is_string(v))
			goto wrong_type;
		const char *s = json_string_value(v);
		size_t blen = json_string_length(v);
		if (strlen(s) != blen) {
			fail(r, path, "NUL characters are not allowed%s", NULL, 0, 0);
			return NULL;
		}
		if (f->type == SCHEMA_ENUM) {
			for (const char *const *e = f->enums; *e; e++)
				if (strcmp(*e, s) == 0)
					return json_incref(v);
			char list[160] = "";
			size_t n = 0;
			for (const char *const *e = f->enums; *e && n < sizeof(list) - 20; e++)
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
						      e == f->enums ? "" : ", ", *e);
			fail(r, path, "expected one of: %s%.0" PRId64 "%.0" PRId64, list, 0, 0);
			return NULL;
		}
		if (f->type == SCHEMA_HHMM) {
			if (blen != 5 || !digits(s, 2) || s[2] != ':' || !digits(s + 3, 2) ||
			    (s[0] - '0') * 10 + (s[1] - '0') > 24 || (s[3] - '0') * 10 + (s[4] - '0') > 59 ||
			    (s[0] == '2' && s[1] == '4' && strcmp(s + 3, "00") != 0)) {
				fail(r, path, "expected a time \"HH:MM\" between 00:00 and 24:00%s", NULL, 0, 0);
				return NULL;
			}
			return json_incref(v);
		}
		if (f->type == SCHEMA_DATE) {
			int mo = 0, d = 0;
			if (blen == 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) &&
			    s[7] == '-' && digits(s + 8, 2)) {
				mo = (s[5] - '0') * 10 + (s[6] - '0');
				d = (s[8] - '0') * 10 + (s[9] - '0');
			}
			if (mo < 1 || mo > 12 || d < 1 || d > 31) {
				fail(r, path, "expected a date \"YYYY-MM-DD\"%s", NULL, 0, 0);
				return NULL;
			}
			return json_incref(v);
		}
		int64_t n = (int64_t)schema_utf8_len(s);
		if (n < f->min || (f->max && n > f->max)) {
			fail(r, path, "expected a string of %s%" PRId64 " to %" PRId64 " characters",
			     NULL, f->min, f->max);
			return NULL;
		}
		if (f->charset) {
			for (const char *c = s; *c; c++)
				if (!strchr(f->charset, *c)) {
					fail(r, path, "only these characters are allowed: %s%.0" PRId64 "%.0" PRId64,
					     f->charset, 0, 0);
					return NULL;
				}
		}
		return json_incref(v);
	}
	case SCHEMA_INT:
	case SCHEMA_REF: {
		if (!json_is_integer(v))
			goto wrong_type;
		int64_t x = json_integer_value(v);
		if (f->type == SCHEMA_REF) {
			if (x < 1) {
				fail(r, path, "expected an id (integer >= 1)%s", NULL, 0, 0);
				return NULL;
			}
			if (r->nrefs < sizeof(r->refs) / sizeof(r->refs[0])) {
				struct schema_ref *ref = &r->refs[r->nrefs++];
				ref->table = f->ref;
				ref->id = x;
				snprintf(ref->path, sizeof(ref->path), "%s", path);
			}
			return json_incref(v);
		}
		if (x < f->min || x > f->max) {
			fail(r, path, "expected an integer from %s%" PRId64 " to %" PRId64, NULL, f->min,
			     f->max);
			return NULL;
		}
		return json_incref(v);
	}
	case SCHEMA_BOOL:
		if (!json_is_boolean(v))
			goto wrong_type;
		return json_incref(v);
	case SCHEMA_ARRAY: {
		if (!json_is_array(v))
			goto wrong_type;
		size_t n = json_array_size(v);
		if ((int64_t)n < f->min || (f->max && (int64_t)n > f->max)) {
			fail(r, path, "expected %s%" PRId64 " to %" PRId64 " items", NULL, f->min, f->max);
			return NULL;
		}
		json_t *out = json_array();
		char sub[128];
		for (size_t i = 0; i < n; i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			json_t *y = validate_value(f->items, json_array_get(v, i), sub, r);
			if (!y) {
				json_decref(out);
				return NULL;
			}
			if (f->unique_items) {
				for (size_t j = 0; j < i; j++)
					if (json_equal(json_array_get(out, j), y)) {
						json_decref(y);
						json_decref(out);
						fail(r, sub, "duplicate item%s", NULL, 0, 0);
						return NULL;
					}
			}
			json_array_append_new(out, y);
		}
		return out;
	}
	case SCHEMA_OBJECT:
		if (!json_is_object(v))
			goto wrong_type;
		return validate_object(f->props, v, path, false, NULL, r);
	}
wrong_type:
	fail(r, path, "expected %s", type_name(f), 0, 0);
	return NULL;
}

/* Rules that span fields of a queue, which the field specs cannot say. */
static int check_queue(json_t *doc, struct schema_result *r)
{
	size_t i;
	json_t *st;
	int64_t prev = 0;
	char path[64];
	json_array_foreach(json_object_get(doc, "overflow_steps"), i, st) {
		snprintf(path, sizeof(path), "overflow_steps[%zu]", i);
		int64_t after = json_integer_value(json_object_get(st, "after_seconds"));
		if (after < prev) {
			char p2[96];
			snprintf(p2, sizeof(p2), "%s.after_seconds", path);
			return fail(r, p2, "steps must be in order of after_seconds%s", NULL, 0, 0);
		}
		prev = after;
		if (strcmp(json_string_value(json_object_get(st, "action")), "add_queue") == 0 &&
		    !json_is_integer(json_object_get(st, "queue_id"))) {
			char p2[96];
			snprintf(p2, sizeof(p2), "%s.queue_id", path);
			return fail(r, p2, "required when action is add_queue%s", NULL, 0, 0);
		}
	}
	if (json_integer_value(json_object_get(doc, "max_wait_seconds")) > 0 &&
	    strcmp(json_string_value(json_object_get(doc, "max_wait_action")), "queue") == 0 &&
	    !json_is_integer(json_object_get(doc, "max_wait_queue_id")))
		return fail(r, "max_wait_queue_id", "required when max_wait_action is queue%s", NULL, 0, 0);
	const char *moh = json_string_value(json_object_get(doc, "voice_moh"));
	if (moh && (moh[0] == '/' || strstr(moh, "..")))
		return fail(r, "voice_moh", "a file name under DATA/prompts: no '..' and no leading '/'%s",
			    NULL, 0, 0);
	return 0;
}

json_t *schema_validate(const struct api_resource *res, json_t *in, bool allow_version,
			int64_t *version, struct schema_result *out)
{
	memset(out, 0, sizeof(*out));
	int64_t ver = 0;
	if (!json_is_object(in)) {
		out->status = 422;
		snprintf(out->detail, sizeof(out->detail), "the body must be a JSON object");
		return NULL;
	}
	json_t *doc = validate_object(res->fields, in, "", allow_version, &ver, out);
	if (version)
		*version = ver;
	if (doc && strcmp(res->name, "queues") == 0 && check_queue(doc, out)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* ---- OpenAPI -------------------------------------------------------- */

static json_t *field_schema(const struct schema_field *f, bool input);

static json_t *object_schema(const struct schema_field *props, bool input)
{
	json_t *o = json_pack("{s:s, s:b}", "type", "object", "additionalProperties", 0);
	json_t *p = json_object(), *req = json_array();
	for (const struct schema_field *x = props; x->name; x++) {
		if (!input && x->write_only)
			continue;
		json_object_set_new(p, x->name, field_schema(x, input));
		/* In output every stored field is present (defaults applied). */
		if (input ? x->required : !x->write_only)
			json_array_append_new(req, json_string(x->name));
	}
	json_object_set_new(o, "properties", p);
	if (json_array_size(req))
		json_object_set_new(o, "required", req);
	else
		json_decref(req);
	return o;
}

static json_t *field_schema(const struct schema_field *f, bool input)
{
	json_t *s;
	switch (f->type) {
	case SCHEMA_STRING:
		s = json_pack("{s:s}", "type", "string");
		if (f->min)
			json_object_set_new(s, "minLength", json_integer(f->min));
		if (f->max)
			json_object_set_new(s, "maxLength", json_integer(f->max));
		break;
	case SCHEMA_ENUM: {
		json_t *e = json_array();
		for (const char *const *x = f->enums; *x; x++)
			json_array_append_new(e, json_string(*x));
		s = json_pack("{s:s, s:o}", "type", "string", "enum", e);
		break;
	}
	case SCHEMA_HHMM:
		s = json_pack("{s:s, s:s}", "type", "string", "pattern", "^([01][0-9]|2[0-4]):[0-5][0-9]$");
		break;
	case SCHEMA_DATE:
		s = json_pack("{s:s, s:s}", "type", "string", "pattern", "^[0-9]{4}-[0-9]{2}-[0-9]{2}$");
		break;
	case SCHEMA_INT:
		s = json_pack("{s:s, s:I, s:I}", "type", "integer", "minimum", (json_int_t)f->min,
			      "maximum", (json_int_t)f->max);
		break;
	case SCHEMA_REF:
		s = f->nullable ? json_pack("{s:[s,s], s:i}", "type", "integer", "null", "minimum", 1)
				: json_pack("{s:s, s:i}", "type", "integer", "minimum", 1);
		break;
	case SCHEMA_BOOL:
		s = json_pack("{s:s}", "type", "boolean");
		break;
	case SCHEMA_ARRAY:
		s = json_pack("{s:s, s:o}", "type", "array", "items", field_schema(f->items, input));
		if (f->min)
			json_object_set_new(s, "minItems", json_integer(f->min));
		if (f->max)
			json_object_set_new(s, "maxItems", json_integer(f->max));
		if (f->unique_items)
			json_object_set_new(s, "uniqueItems", json_true());
		break;
	case SCHEMA_OBJECT:
	default:
		s = object_schema(f->props, input);
		break;
	}
	if (f->desc)
		json_object_set_new(s, "description", json_string(f->desc));
	if (f->def && input) {
		json_t *d = json_loads(f->def, JSON_DECODE_ANY, NULL);
		if (d)
			json_object_set_new(s, "default", d);
	}
	return s;
}

static json_t *ref(const char *name)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "#/components/schemas/%s", name);
	return json_pack("{s:s}", "$ref", buf);
}

static json_t *resp(const char *desc, json_t *schema)
{
	json_t *r = json_pack("{s:s}", "description", desc);
	if (schema)
		json_object_set_new(r, "content", json_pack("{s:{s:o}}", "application/json", "schema", schema));
	return r;
}

static json_t *problem_resp(const char *desc)
{
	return json_pack("{s:s, s:{s:{s:o}}}", "description", desc, "content",
			 "application/problem+json", "schema", ref("Problem"));
}

static void add_errors(json_t *responses, const char *const *codes)
{
	static const struct { const char *code, *desc; } all[] = {
		{"400", "Malformed JSON or invalid UTF-8"}, {"401", "Not authenticated"},
		{"403", "Not allowed, or CSRF token missing"}, {"404", "Not found"},
		{"409", "Version conflict or duplicate"}, {"413", "Body over 1 MiB"},
		{"415", "Body is not JSON"}, {"422", "Invalid field"}, {"429", "Too many attempts"},
		{"500", "Internal error"}, {"501", "Not built yet"},
		{"503", "Routing not available (starting or stopping)"},
	};
	for (const char *const *c = codes; *c; c++)
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			if (strcmp(all[i].code, *c) == 0)
				json_object_set_new(responses, *c, problem_resp(all[i].desc));
}

static const char *const err_read[] = {"401", "403", "404", "422", NULL};
static const char *const err_write[] = {"400", "401", "403", "404", "409", "413", "415", "422", NULL};

static json_t *op(const char *summary, const char *tag, json_t *body, json_t *ok_code_resp,
		  const char *ok_code, const char *const *errs, json_t *params)
{
	json_t *o = json_pack("{s:s, s:[s]}", "summary", summary, "tags", tag);
	if (body)
		json_object_set_new(o, "requestBody", json_pack("{s:b, s:o}", "required", 1, "content",
								 json_pack("{s:{s:o}}", "application/json", "schema", body)));
	json_t *responses = json_object();
	json_object_set_new(responses, ok_code, ok_code_resp);
	add_errors(responses, errs);
	json_object_set_new(o, "responses", responses);
	if (params)
		json_object_set_new(o, "parameters", params);
	return o;
}

static json_t *meta_props(json_t *schema)
{
	json_t *p = json_object_get(schema, "properties");
	json_object_set_new(p, "id", json_pack("{s:s, s:i}", "type", "integer", "minimum", 1));
	json_object_set_new(p, "version", json_pack("{s:s, s:i}", "type", "integer", "minimum", 1));
	json_object_set_new(p, "created_at", json_pack("{s:s, s:s}", "type", "string", "format", "date-time"));
	json_object_set_new(p, "updated_at", json_pack("{s:s, s:s}", "type", "string", "format", "date-time"));
	json_t *req = json_object_get(schema, "required");
	if (!req) {
		req = json_array();
		json_object_set_new(schema, "required", req);
	}
	const char *m[] = {"id", "version", "created_at", "updated_at"};
	for (int i = 0; i < 4; i++)
		json_array_append_new(req, json_string(m[i]));
	return schema;
}

static json_t *list_schema(json_t *item)
{
	return json_pack("{s:s, s:b, s:[s,s], s:{s:{s:s, s:o}, s:{s:[s,s]}}}", "type", "object",
			 "additionalProperties", 0, "required", "items", "next_after", "properties",
			 "items", "type", "array", "items", item, "next_after", "type", "integer", "null");
}

static json_t *param(const char *name, const char *in, const char *type, bool required,
		     const char *desc)
{
	return json_pack("{s:s, s:s, s:b, s:{s:s}, s:s}", "name", name, "in", in, "required",
			 required, "schema", "type", type, "description", desc);
}

/* Output schemas written by hand (queue status, live figures): an object
 * whose every property is required and no other is allowed. */
static json_t *closed_object(json_t *props)
{
	json_t *req = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(props, k, v)
		json_array_append_new(req, json_string(k));
	return json_pack("{s:s, s:b, s:o, s:o}", "type", "object", "additionalProperties", 0,
			 "required", req, "properties", props);
}

static json_t *count_schema(void)
{
	return json_pack("{s:s, s:i}", "type", "integer", "minimum", 0);
}

static json_t *per_channel(void)
{
	return closed_object(json_pack("{s:o, s:o, s:o, s:o}", "voice", count_schema(), "chat",
				       count_schema(), "email", count_schema(), "messaging",
				       count_schema()));
}

json_t *schema_openapi(void)
{
	json_t *paths = json_object(), *schemas = json_object();

	json_object_set_new(schemas, "Problem",
			    json_pack("{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
				      "type", "object", "required", "type", "title", "status",
				      "properties", "type", "type", "string", "title", "type",
				      "string", "status", "type", "integer", "detail", "type",
				      "string", "field", "type", "string"));

	for (size_t i = 0; i < api_resources_count; i++) {
		const struct api_resource *r = &api_resources[i];
		char in_name[64], list_name[64], path[96], item_path[112];
		snprintf(in_name, sizeof(in_name), "%sInput", r->title);
		snprintf(list_name, sizeof(list_name), "%sList", r->title);
		json_object_set_new(schemas, in_name, object_schema(r->fields, true));
		json_object_set_new(schemas, r->title, meta_props(object_schema(r->fields, false)));
		json_object_set_new(schemas, list_name, list_schema(ref(r->title)));

		json_t *put_in = object_schema(r->fields, true);
		json_object_set_new(json_object_get(put_in, "properties"), "version",
				    json_pack("{s:s, s:i, s:s}", "type", "integer", "minimum", 1,
					      "description", "The version last read; 409 if it changed since"));
		json_array_append_new(json_object_get(put_in, "required"), json_string("version"));

		snprintf(path, sizeof(path), "/api/v1/%s", r->name);
		snprintf(item_path, sizeof(item_path), "/api/v1/%s/{id}", r->name);
		char s1[96], s2[96], s3[96], s4[96], s5[96];
		snprintf(s1, sizeof(s1), "List %s", r->name);
		snprintf(s2, sizeof(s2), "Create a %s", r->singular);
		snprintf(s3, sizeof(s3), "Get a %s", r->singular);
		snprintf(s4, sizeof(s4), "Replace a %s (needs the current version)", r->singular);
		snprintf(s5, sizeof(s5), "Delete a %s", r->singular);

		json_t *lparams = json_pack("[o,o]",
					    param("limit", "query", "integer", false, "1-200, default 50"),
					    param("after", "query", "integer", false, "Return ids greater than this"));
		if (strcmp(r->name, "customers") == 0) {
			json_array_append_new(lparams, param("phone", "query", "string", false, "Exact phone identity"));
			json_array_append_new(lparams, param("email", "query", "string", false, "Exact email identity"));
			json_array_append_new(lparams, param("q", "query", "string", false, "Name prefix, case-insensitive"));
		}
		json_object_set_new(paths, path, json_pack("{s:o, s:o}",
			"get", op(s1, r->name, NULL, resp("A page", ref(list_name)), "200", err_read, lparams),
			"post", op(s2, r->name, ref(in_name), resp("Created", ref(r->title)), "201", err_write, NULL)));
		json_object_set_new(paths, item_path, json_pack("{s:o, s:o, s:o, s:o}",
			"parameters", json_pack("[o]", param("id", "path", "integer", true, "Resource id")),
			"get", op(s3, r->name, NULL, resp("The resource", ref(r->title)), "200", err_read, NULL),
			"put", op(s4, r->name, put_in, resp("Updated", ref(r->title)), "200", err_write, NULL),
			"delete", op(s5, r->name, NULL, resp("Deleted", NULL), "204", err_write, NULL)));
	}

	/* Authentication, tokens, events, operations. */
	json_object_set_new(schemas, "LoginInput",
			    json_pack("{s:s, s:b, s:[s,s], s:{s:{s:s}, s:{s:s}}}", "type", "object",
				      "additionalProperties", 0, "required", "username", "password",
				      "properties", "username", "type", "string", "password", "type", "string"));
	json_object_set_new(schemas, "Session",
			    json_pack("{s:s, s:b, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:o}}",
				      "type", "object", "additionalProperties", 0, "required", "token",
				      "csrf_token", "expires_at", "user", "properties", "token", "type",
				      "string", "csrf_token", "type", "string", "expires_at", "type",
				      "string", "format", "date-time", "user", ref("User")));
	json_object_set_new(schemas, "Me",
			    json_pack("{s:s, s:b, s:[s,s], s:{s:o, s:{s:[s,s]}}}", "type", "object",
				      "additionalProperties", 0, "required", "user", "csrf_token",
				      "properties", "user", ref("User"), "csrf_token", "type", "string", "null"));
	json_object_set_new(schemas, "TokenInput",
			    json_pack("{s:s, s:b, s:[s], s:{s:{s:s, s:i, s:i}}}", "type", "object",
				      "additionalProperties", 0, "required", "name", "properties", "name",
				      "type", "string", "minLength", 1, "maxLength", 100));
	json_object_set_new(schemas, "Token",
			    json_pack("{s:s, s:b, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
				      "type", "object", "additionalProperties", 0, "required", "id", "name",
				      "created_at", "expires_at", "properties", "id", "type", "string",
				      "name", "type", "string", "token", "type", "string", "created_at",
				      "type", "string", "expires_at", "type", "string"));
	json_object_set_new(schemas, "TokenList",
			    json_pack("{s:s, s:[s], s:{s:{s:s, s:o}}}", "type", "object", "required",
				      "items", "properties", "items", "type", "array", "items", ref("Token")));
	json_object_set_new(schemas, "Event",
			    json_pack("{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:[s,s]}, s:{}}}",
				      "type", "object", "required", "id", "ts", "type", "payload",
				      "properties", "id", "type", "integer", "ts", "type", "string",
				      "type", "type", "string", "actor", "type", "integer", "null",
				      "interaction", "type", "integer", "null", "agent", "type",
				      "integer", "null", "queue", "type", "integer", "null", "payload"));
	json_object_set_new(schemas, "EventList", list_schema(ref("Event")));

	json_object_set_new(paths, "/api/v1/auth/login", json_pack("{s:o}", "post",
		op("Log in; sets the hl_session cookie", "auth", ref("LoginInput"),
		   resp("Logged in", ref("Session")), "200",
		   (const char *const[]){"400", "401", "413", "415", "422", "429", NULL}, NULL)));
	json_object_set_new(paths, "/api/v1/auth/logout", json_pack("{s:o}", "post",
		op("End this session", "auth", NULL, resp("Logged out", NULL), "204",
		   (const char *const[]){"401", "403", NULL}, NULL)));
	json_object_set_new(paths, "/api/v1/auth/me", json_pack("{s:o}", "get",
		op("Who am I", "auth", NULL, resp("The user", ref("Me")), "200",
		   (const char *const[]){"401", NULL}, NULL)));
	json_object_set_new(paths, "/api/v1/tokens", json_pack("{s:o, s:o}",
		"get", op("List API tokens", "tokens", NULL, resp("Tokens", ref("TokenList")), "200", err_read, NULL),
		"post", op("Create an API token (shown once)", "tokens", ref("TokenInput"),
			   resp("Created", ref("Token")), "201", err_write, NULL)));
	json_object_set_new(paths, "/api/v1/tokens/{id}", json_pack("{s:o, s:o}",
		"parameters", json_pack("[o]", param("id", "path", "string", true, "Token id")),
		"delete", op("Revoke an API token", "tokens", NULL, resp("Revoked", NULL), "204", err_write, NULL)));
	json_object_set_new(paths, "/api/v1/events", json_pack("{s:o}", "get",
		op("The event log (audit trail); with Upgrade: websocket, the live event stream",
		   "events", NULL, resp("A page of events", ref("EventList")), "200", err_read,
		   json_pack("[o,o,o,o,o]", param("after", "query", "integer", false, "Events after this id"),
			     param("interaction", "query", "integer", false,
				   "Only this task's (interaction's) events, routing decisions with their reasons included"),
			     param("limit", "query", "integer", false, "1-200, default 50"),
			     param("type", "query", "string", false, "Event type prefix"),
			     param("token", "query", "string", false, "WebSocket only: API or session token")))));
	/* Routing: tasks, offers, agent states (api_tasks.c, answered by the core). */
	{
		static const char *const err_task[] = {"400", "401", "403", "404", "409", "413",
						       "415", "422", "500", "503", NULL};
		static const char *const err_task_read[] = {"401", "403", "404", "500", "503", NULL};
		json_t *skill_req = json_pack(
			"{s:s, s:b, s:[s,s], s:{s:{s:s, s:i, s:i}, s:{s:s, s:i, s:i}}}", "type", "object",
			"additionalProperties", 0, "required", "skill_id", "min_level", "properties",
			"skill_id", "type", "integer", "minimum", 1, "maximum", 4095, "min_level", "type",
			"integer", "minimum", 1, "maximum", 5);
		json_t *chan = json_pack("{s:s, s:[s,s,s,s]}", "type", "string", "enum", "voice", "chat",
					 "email", "messaging");
		json_object_set_new(schemas, "TaskInput", json_pack(
			"{s:s, s:b, s:[s], s:{s:O, s:{s:s, s:i}, s:{s:s, s:i, s:i, s:s}, s:{s:s, s:o, s:i},"
			" s:{s:[s,s], s:i, s:i}, s:{s:[s,s], s:i}, s:{s:s, s:s}}}",
			"type", "object", "additionalProperties", 0, "required", "queue_id", "properties",
			"channel", chan, "queue_id", "type", "integer", "minimum", 1,
			"priority", "type", "integer", "minimum", 0, "maximum", 1000, "description",
			"0-1000, higher first; default the queue's priority",
			"skills", "type", "array", "items", json_incref(skill_req), "maxItems", 8,
			"language", "type", "string", "null", "minLength", 2, "maxLength", 16,
			"customer_id", "type", "integer", "null", "minimum", 1,
			"attributes", "type", "object", "description", "Free-form, echoed back (16 KiB at most)"));
		json_object_set_new(schemas, "Task", json_pack(
			"{s:s, s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s], s:{s:{s:s}, s:{s:s, s:[s,s,s,s,s,s,s,s,s]},"
			" s:o, s:{s:s}, s:{s:s}, s:{s:s, s:o}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:s},"
			" s:{s:[s,s]}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:s, s:s}, s:{s:s, s:i},"
			" s:{s:[s,s], s:s}}}",
			"type", "object", "required", "id", "state", "channel", "queue_id", "priority",
			"skills", "language", "customer_id", "attributes", "agent_id", "disposition",
			"notes", "created_at", "position", "properties",
			"id", "type", "integer",
			"state", "type", "string", "enum", "queued", "offered", "accepted", "wrapup", "done",
			"abandoned", "cancelled", "timed_out", "overflowed",
			"channel", chan, "queue_id", "type", "integer", "priority", "type", "integer",
			"skills", "type", "array", "items", skill_req,
			"language", "type", "string", "null", "customer_id", "type", "integer", "null",
			"attributes", "type", "object", "agent_id", "type", "integer", "null",
			"disposition", "type", "string", "null", "notes", "type", "string", "null",
			"created_at", "type", "string", "format", "date-time",
			"position", "type", "integer", "minimum", 0,
			"estimated_wait_seconds", "type", "integer", "null", "description",
			"While queued: AHT x position / serving slots; null if nobody serves the queue"));
		json_object_set_new(schemas, "OfferAnswer", json_pack(
			"{s:s, s:b, s:[s], s:{s:{s:s, s:i}}}", "type", "object", "additionalProperties", 0,
			"required", "version", "properties", "version", "type", "integer", "minimum", 1));
		json_object_set_new(schemas, "TaskCancel", json_pack(
			"{s:s, s:b, s:{s:{s:s, s:i}}}", "type", "object", "additionalProperties", 0,
			"properties", "reason", "type", "string", "maxLength", 200));
		json_object_set_new(schemas, "Wrapup", json_pack(
			"{s:s, s:b, s:{s:{s:s, s:i, s:s}, s:{s:s, s:i}}}", "type", "object",
			"additionalProperties", 0, "properties", "disposition",
			"type", "string", "maxLength", 64, "description",
			"One of the queue's wrap_up_codes when it has any; required when the queue "
			"says disposition_required", "notes", "type", "string", "maxLength", 2000));
		json_object_set_new(schemas, "AgentStateInput", json_pack(
			"{s:s, s:b, s:[s], s:{s:{s:s, s:[s,s,s]}, s:{s:s, s:i}}}", "type", "object",
			"additionalProperties", 0, "required", "state", "properties", "state", "type",
			"string", "enum", "available", "away", "offline", "reason", "type", "string",
			"maxLength", 64));
		json_object_set_new(schemas, "AgentState", json_pack(
			"{s:s, s:[s,s,s,s,s], s:{s:{s:s}, s:{s:s, s:[s,s,s,s,s]}, s:{s:s, s:[s,s,s]},"
			" s:{s:[s,s]}, s:{s:s}, s:{s:s}}}",
			"type", "object", "required", "agent_id", "state", "requested", "reason", "misses",
			"properties", "agent_id", "type", "integer", "state", "type", "string", "enum",
			"offline", "available", "away", "busy", "wrapup", "requested", "type", "string",
			"enum", "offline", "available", "away", "reason", "type", "string", "null",
			"misses", "type", "integer", "used", "type", "object"));
		json_t *idp = param("id", "path", "integer", true, "Task id");
		json_object_set_new(paths, "/api/v1/tasks", json_pack("{s:o}", "post",
			op("Create a task and route it (answered once task.created is durable)", "routing",
			   ref("TaskInput"), resp("Created", ref("Task")), "201", err_task, NULL)));
		json_object_set_new(paths, "/api/v1/tasks/{id}", json_pack("{s:[O], s:o}",
			"parameters", idp, "get",
			op("A task: state, position and estimated wait", "routing", NULL,
			   resp("The task", ref("Task")), "200", err_task_read, NULL)));
		json_object_set_new(paths, "/api/v1/tasks/{id}/cancel", json_pack("{s:[O], s:o}",
			"parameters", idp, "post",
			op("Cancel a waiting or offered task (admin, supervisor)", "routing",
			   ref("TaskCancel"), resp("Cancelled", ref("Task")), "200", err_task, NULL)));
		json_object_set_new(paths, "/api/v1/tasks/{id}/complete", json_pack("{s:[O], s:o}",
			"parameters", idp, "post",
			op("End accepted work; wrap-up follows per the queue", "routing",
			   ref("TaskCancel"), resp("Completed", ref("Task")), "200", err_task, NULL)));
		json_object_set_new(paths, "/api/v1/tasks/{id}/wrapup", json_pack("{s:[O], s:o}",
			"parameters", idp, "post",
			op("Finish wrap-up with a disposition code and notes", "routing", ref("Wrapup"),
			   resp("Wrapped up", ref("Task")), "200", err_task, NULL)));
		json_decref(idp);
		json_t *oid = param("id", "path", "integer", true, "Offer id (from the offer message)");
		json_object_set_new(paths, "/api/v1/offers/{id}/accept", json_pack("{s:[O], s:o}",
			"parameters", oid, "post",
			op("Accept an offer made to you; 409 when stale or withdrawn", "routing",
			   ref("OfferAnswer"), resp("Accepted", ref("Task")), "200", err_task, NULL)));
		json_object_set_new(paths, "/api/v1/offers/{id}/reject", json_pack("{s:[O], s:o}",
			"parameters", oid, "post",
			op("Decline an offer made to you; the task goes back to its place", "routing",
			   ref("OfferAnswer"), resp("Rejected", ref("Task")), "200", err_task, NULL)));
		json_decref(oid);
		json_object_set_new(paths, "/api/v1/agents/{id}/state", json_pack("{s:[o], s:o, s:o}",
			"parameters", param("id", "path", "integer", true, "Agent id"),
			"get", op("An agent's routing state", "routing", NULL,
				  resp("The state", ref("AgentState")), "200", err_task_read, NULL),
			"put", op("Request available, away or offline (own agent, or admin/supervisor)",
				  "routing", ref("AgentStateInput"), resp("The state", ref("AgentState")),
				  "200", err_task, NULL)));

		/* The customer left; queue status; the supervisor's live figures. */
		json_object_set_new(paths, "/api/v1/tasks/{id}/abandon", json_pack("{s:[o], s:o}",
			"parameters", param("id", "path", "integer", true, "Task id"), "post",
			op("The customer left while the task waited or was offered (admin, supervisor); "
			   "409 once accepted", "routing", ref("TaskCancel"),
			   resp("Abandoned", ref("Task")), "200", err_task, NULL)));
		json_t *chans = json_pack("{s:s, s:{s:s, s:[s,s,s,s]}}", "type", "array", "items", "type",
					  "string", "enum", "voice", "chat", "email", "messaging");
		json_object_set_new(schemas, "QueueStatus", closed_object(json_pack("{s:{s:s, s:o}}",
			"queues", "type", "array", "items", closed_object(json_pack(
				"{s:{s:s}, s:{s:s}, s:o, s:{s:s, s:s}, s:o, s:o, s:o}",
				"id", "type", "integer", "name", "type", "string", "channels", chans,
				"open", "type", "boolean", "description",
				"Within the queue's business hours (its own time zone) now",
				"agents_logged_in", count_schema(), "agents_available", count_schema(),
				"waiting", count_schema())))));
		json_object_set_new(paths, "/api/v1/queue-status", json_pack("{s:o}", "get",
			op("Is a queue open by its business hours, who is logged in and available, how many "
			   "wait (any logged-in user; every queue without ?queue)", "routing", NULL,
			   resp("Status", ref("QueueStatus")), "200",
			   (const char *const[]){"401", "404", "422", "500", "503", NULL},
			   json_pack("[o]", param("queue", "query", "integer", false, "Queue id")))));
		json_t *live_queue = closed_object(json_pack(
			"{s:{s:s}, s:{s:s}, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:[s,s], s:i, s:i, s:s}, s:o}",
			"id", "type", "integer", "name", "type", "string", "waiting", count_schema(),
			"longest_wait_seconds", count_schema(), "offered_today", count_schema(),
			"answered_today", count_schema(), "abandoned_today", count_schema(),
			"answered_in_sl_today", count_schema(), "service_level_today", "type", "number",
			"null", "minimum", 0, "maximum", 1, "description",
			"answered_in_sl_today / (answered_today + abandoned_today), 0-1; null before any",
			"target", closed_object(json_pack("{s:{s:s}, s:{s:s}}", "percent", "type", "integer",
							  "seconds", "type", "integer"))));
		json_t *live_agent = closed_object(json_pack(
			"{s:{s:s}, s:{s:s}, s:{s:[s,s]}, s:{s:s, s:[s,s,s,s,s]}, s:{s:[s,s]},"
			" s:{s:s, s:s}, s:o, s:o, s:{s:s, s:{s:s}}}",
			"agent_id", "type", "integer", "name", "type", "string", "user_id", "type", "integer",
			"null", "state", "type", "string", "enum", "offline", "available", "away", "busy",
			"wrapup", "reason", "type", "string", "null", "since", "type", "string", "format",
			"date-time", "used", per_channel(), "capacity", per_channel(), "tasks", "type",
			"array", "items", "type", "integer"));
		json_object_set_new(schemas, "LiveStats", closed_object(json_pack(
			"{s:{s:s, s:o}, s:{s:s, s:o}}", "queues", "type", "array", "items", live_queue,
			"agents", "type", "array", "items", live_agent)));
		json_object_set_new(paths, "/api/v1/live", json_pack("{s:o}", "get",
			op("The supervisor's live figures: per queue waiting, longest wait and today's "
			   "counts since local midnight; per agent state, load and tasks (admin, supervisor)",
			   "routing", NULL, resp("The figures", ref("LiveStats")), "200",
			   (const char *const[]){"401", "403", "500", "503", NULL}, NULL)));
	}

	json_object_set_new(schemas, "ErlangInput",
			    json_pack("{s:s, s:b, s:[s,s,s], s:{s:{s:s, s:[s,s,s]}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
				      "type", "object", "additionalProperties", 0, "required", "model",
				      "calls", "aht_seconds", "properties", "model", "type", "string",
				      "enum", "a", "b", "c", "calls", "type", "number", "period_seconds",
				      "type", "number", "aht_seconds", "type", "number",
				      "patience_seconds", "type", "number", "sl_seconds", "type", "number",
				      "agents", "type", "integer", "target_sl", "type", "number",
				      "shrinkage", "type", "number"));
	json_object_set_new(schemas, "ErlangResult",
			    json_pack("{s:s, s:[s,s], s:{s:{s:s, s:[s,s,s,s,s,s]}, s:{s:s, s:{s:s, s:[s,s,s,s,s], s:{s:{s:s}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:[s,s]}}}}, s:{s:s}}}",
				      "type", "object", "required", "result", "curve", "properties",
				      "result", "type", "object", "required", "agents", "traffic_erlangs",
				      "p_wait", "mean_wait_seconds", "service_level", "occupancy", "curve",
				      "type", "array", "items", "type", "object", "required", "agents",
				      "service_level", "mean_wait_seconds", "occupancy", "p_abandon",
				      "properties", "agents", "type", "integer", "service_level", "type",
				      "number", "null", "mean_wait_seconds", "type", "number", "null",
				      "occupancy", "type", "number", "null", "p_abandon", "type", "number",
				      "null", "scheduled_agents", "type", "integer"));
	json_object_set_new(paths, "/api/v1/wfm/erlang", json_pack("{s:o}", "post",
		op("Erlang B/C/A: evaluate a staff level or find the fewest agents for a service level, "
		   "with a curve for charts", "wfm", ref("ErlangInput"), resp("The figures", ref("ErlangResult")),
		   "200", (const char *const[]){"400", "401", "403", "413", "415", "422", NULL}, NULL)));
	json_object_set_new(paths, "/api/v1/wfm/simulate", json_pack("{s:o}", "post",
		op("Run the what-if simulator on a scenario (format: docs/WFM.md) with the real routing "
		   "engine; per-interval figures with confidence intervals",
		   "wfm", json_pack("{s:s}", "type", "object"),
		   resp("The report", json_pack("{s:s, s:[s,s,s,s]}", "type", "object", "required",
						"replications", "intervals", "queues", "occupancy")),
		   "200", (const char *const[]){"400", "401", "403", "413", "415", "422", NULL}, NULL)));
	api_wfm_openapi(paths, schemas); /* api_wfm_schema.c: forecast, staffing, schedules, adherence */
	api_chat_openapi(paths, schemas); /* api_chat.c */
	api_calls_openapi(paths, schemas); /* api_calls.c */
	api_sip_openapi(paths, schemas); /* api_sip.c: users/{id}/sip_password */
	json_object_set_new(paths, "/api/v1/openapi.json", json_pack("{s:o}", "get",
		op("This document", "meta", NULL, resp("OpenAPI 3.1", json_pack("{s:s}", "type", "object")),
		   "200", (const char *const[]){NULL}, NULL)));
	json_object_set_new(paths, "/healthz", json_pack("{s:o}", "get",
		op("Liveness", "meta", NULL,
		   resp("Healthy", json_pack("{s:s, s:[s,s], s:{s:{s:s}, s:{s:s}}}", "type", "object",
					     "required", "status", "store", "properties", "status",
					     "type", "string", "store", "type", "string")),
		   "200", (const char *const[]){NULL}, NULL)));
	json_object_set_new(paths, "/metrics", json_pack("{s:o}", "get",
		op("Prometheus metrics (text)", "meta", NULL,
		   json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "Prometheus text format", "content",
			     "text/plain", "schema", "type", "string"),
		   "200", (const char *const[]){NULL}, NULL)));

	return json_pack("{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:o, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}}, s:[{s:[]}, {s:[]}]}",
			 "openapi", "3.1.0", "info", "title", "Hotline API", "version", HL_VERSION,
			 "description", "Contact-center server: REST and WebSocket API",
			 "paths", paths, "components", "schemas", schemas, "securitySchemes",
			 "cookie", "type", "apiKey", "in", "cookie", "name", "hl_session", "bearer",
			 "type", "http", "scheme", "bearer", "bearerFormat", "opaque token",
			 "security", "cookie", "bearer");
}
