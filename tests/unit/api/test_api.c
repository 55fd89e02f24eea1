/*
 * test_api.c: the request validator and the OpenAPI document built from the
 * same resource tables (src/api/api_schema.c): field errors name the dotted
 * path, defaults are applied, write-only fields never reach the document,
 * and every resource has its paths in the OpenAPI document.
 */
#include "api/api.h"
#include "api/api_schema.h"
#include "test.h"

static int v(const char *res, const char *body, int create, char *detail)
{
	return api_validate_body(res, body, strlen(body), create, detail, 256);
}

static void test_valid_bodies_pass(void)
{
	char d[256];
	CHECK_EQ_INT(v("skills", "{\"name\":\"Billing\"}", 1, d), 0);
	CHECK_EQ_INT(v("queues", "{\"name\":\"Sales\",\"channels\":[\"chat\"],\"service_level\":{\"percent\":90,\"seconds\":30},"
			       "\"business_hours\":{\"weekly\":[{\"day\":\"mon\",\"open\":\"08:00\",\"close\":\"24:00\"}]}}", 1, d), 0);
	CHECK_EQ_INT(v("agents", "{\"name\":\"Ann\",\"skills\":[{\"skill_id\":3,\"level\":5}],\"capacity\":{\"chat\":4}}", 1, d), 0);
	CHECK_EQ_INT(v("customers", "{\"name\":\"<b>x</b>' OR 1=1 --\",\"identities\":[{\"type\":\"email\",\"value\":\"a@b.c\"}]}", 1, d), 0);
	/* updates may carry the version and echo read-only fields */
	CHECK_EQ_INT(v("skills", "{\"name\":\"B\",\"version\":2,\"id\":5,\"created_at\":\"x\"}", 0, d), 0);
}

static void test_field_errors_name_the_path(void)
{
	char d[256];
	CHECK_EQ_INT(v("skills", "{}", 1, d), 422);
	CHECK_EQ_STR(d, "name: required field is missing");
	CHECK_EQ_INT(v("skills", "{\"name\":\"a\",\"colour\":1}", 1, d), 422);
	CHECK_EQ_STR(d, "colour: unknown field");
	CHECK_EQ_INT(v("skills", "{\"name\":5}", 1, d), 422);
	CHECK_EQ_STR(d, "name: expected a string");
	CHECK_EQ_INT(v("agents", "{\"name\":\"A\",\"capacity\":{\"chat\":99}}", 1, d), 422);
	CHECK_EQ_STR(d, "capacity.chat: expected an integer from 0 to 20");
	CHECK_EQ_INT(v("agents", "{\"name\":\"A\",\"skills\":[{\"skill_id\":1,\"level\":1},{\"skill_id\":2,\"level\":6}]}", 1, d), 422);
	CHECK_EQ_STR(d, "skills[1].level: expected an integer from 1 to 5");
	CHECK_EQ_INT(v("queues", "{\"name\":\"Q\",\"strategy\":\"random\"}", 1, d), 422);
	CHECK_EQ_STR(d, "strategy: expected one of: longest_idle, least_occupied, best_skill, round_robin, ring_all");
	CHECK_EQ_INT(v("queues", "{\"name\":\"Q\",\"business_hours\":{\"weekly\":[{\"day\":\"mon\",\"open\":\"8am\",\"close\":\"17:00\"}]}}", 1, d), 422);
	CHECK_EQ_STR(d, "business_hours.weekly[0].open: expected a time \"HH:MM\" between 00:00 and 24:00");
	CHECK_EQ_INT(v("queues", "{\"name\":\"Q\",\"channels\":[\"chat\",\"chat\"]}", 1, d), 422);
	CHECK_EQ_STR(d, "channels[1]: duplicate item");
	CHECK_EQ_INT(v("users", "{\"username\":\"Bad Name\",\"role\":\"agent\"}", 1, d), 422);
	CHECK(strncmp(d, "username: only these characters are allowed: ", 45) == 0);
	CHECK_EQ_INT(v("skills", "[1,2]", 1, d), 422);
	CHECK_EQ_INT(v("skills", "{\"name\":\"\"}", 1, d), 422);
	CHECK_EQ_STR(d, "name: expected a string of 1 to 100 characters");
	/* rules across queue fields */
	CHECK_EQ_INT(v("queues", "{\"name\":\"Q\",\"overflow_steps\":[{\"after_seconds\":30,\"action\":\"add_queue\"}]}", 1, d), 422);
	CHECK_EQ_STR(d, "overflow_steps[0].queue_id: required when action is add_queue");
	CHECK_EQ_INT(v("queues", "{\"name\":\"Q\",\"overflow_steps\":[{\"after_seconds\":60,\"action\":\"drop_language\"},"
			       "{\"after_seconds\":30,\"action\":\"offer_callback\"}]}", 1, d), 422);
	CHECK_EQ_STR(d, "overflow_steps[1].after_seconds: steps must be in order of after_seconds");
	CHECK_EQ_INT(v("queues", "{\"name\":\"Q\",\"max_wait_seconds\":60,\"max_wait_action\":\"queue\"}", 1, d), 422);
	CHECK_EQ_STR(d, "max_wait_queue_id: required when max_wait_action is queue");
	CHECK_EQ_INT(v("queues", "{\"name\":\"Q\",\"overflow_steps\":[{\"after_seconds\":30,\"action\":\"lower_level\",\"levels\":1},"
			       "{\"after_seconds\":60,\"action\":\"add_queue\",\"queue_id\":2}],\"max_wait_seconds\":120,"
			       "\"max_wait_action\":\"timeout\",\"sticky_agent\":{\"window_minutes\":30}}", 1, d), 0);
}

static void test_malformed_json_is_400_with_position(void)
{
	char d[256];
	CHECK_EQ_INT(v("skills", "{\"name\": \"a\",\n \"x\": }", 1, d), 400);
	CHECK(strncmp(d, "line 2, column", 14) == 0);
	CHECK_EQ_INT(v("skills", "{\"name\":\"a\",\"name\":\"b\"}", 1, d), 400);
	CHECK_EQ_INT(api_validate_body("skills", "{\"name\":\"\xff\"}", 12, 1, d, sizeof(d)), 400);
}

static void test_lengths_count_characters_not_bytes(void)
{
	char d[256], body[600];
	/* 100 two-byte characters: allowed; 101: refused */
	size_t n = (size_t)snprintf(body, sizeof(body), "{\"name\":\"");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n, "\xc3\xa5");
	snprintf(body + n, sizeof(body) - n, "\"}");
	CHECK_EQ_INT(v("skills", body, 1, d), 0);
	snprintf(body + n, sizeof(body) - n, "\xc3\xa5\"}");
	CHECK_EQ_INT(v("skills", body, 1, d), 422);
}

static void test_defaults_and_write_only(void)
{
	json_t *in = json_pack("{s:s, s:s, s:s}", "username", "ann", "role", "agent", "password", "secret-pass");
	struct schema_result sr;
	json_t *doc = schema_validate(schema_resource("users"), in, false, NULL, &sr);
	REQUIRE(doc != NULL);
	CHECK(json_object_get(doc, "password") == NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(doc, "language")), "en");
	json_decref(doc);
	json_decref(in);

	in = json_pack("{s:s}", "name", "Q");
	doc = schema_validate(schema_resource("queues"), in, false, NULL, &sr);
	REQUIRE(doc != NULL);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(doc, "service_level"), "percent")), 80);
	CHECK_EQ_STR(json_string_value(json_object_get(doc, "strategy")), "longest_idle");
	CHECK_EQ_INT(json_array_size(json_object_get(doc, "channels")), 4);
	json_decref(doc);
	json_decref(in);
}

static void test_refs_are_collected(void)
{
	json_t *in = json_pack("{s:s, s:[{s:i, s:i}], s:[i]}", "name", "A", "skills", "skill_id", 7, "level", 2, "queues", 9);
	struct schema_result sr;
	json_t *doc = schema_validate(schema_resource("agents"), in, false, NULL, &sr);
	REQUIRE(doc != NULL);
	CHECK_EQ_INT(sr.nrefs, 2);
	CHECK_EQ_STR(sr.refs[0].table, "skills");
	CHECK_EQ_STR(sr.refs[0].path, "skills[0].skill_id");
	CHECK_EQ_INT(sr.refs[1].id, 9);
	json_decref(doc);
	json_decref(in);
}

static void test_openapi_covers_every_resource(void)
{
	json_t *doc = schema_openapi();
	json_t *paths = json_object_get(doc, "paths");
	for (size_t i = 0; i < api_resources_count; i++) {
		char p[96];
		snprintf(p, sizeof(p), "/api/v1/%s", api_resources[i].name);
		CHECK(json_object_get(paths, p) != NULL);
		snprintf(p, sizeof(p), "/api/v1/%s/{id}", api_resources[i].name);
		CHECK(json_object_get(json_object_get(paths, p), "put") != NULL);
	}
	json_t *user = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "User");
	CHECK(json_object_get(json_object_get(user, "properties"), "password") == NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
	json_decref(doc);
}

int main(void)
{
	TEST_RUN(test_valid_bodies_pass);
	TEST_RUN(test_field_errors_name_the_path);
	TEST_RUN(test_malformed_json_is_400_with_position);
	TEST_RUN(test_lengths_count_characters_not_bytes);
	TEST_RUN(test_defaults_and_write_only);
	TEST_RUN(test_refs_are_collected);
	TEST_RUN(test_openapi_covers_every_resource);
	TEST_MAIN_END();
}
