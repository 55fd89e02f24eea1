/*
 * test_core.c: the pure part of the core's routing projection
 * (src/core/core_conf.c): queue and agent documents, as the REST API stores
 * them, mapped into routing engine specs; language and reason tables.
 */
#include "test.h"
#include "core/core_int.h"

#include <jansson.h>

#include <errno.h>
#include <stdlib.h>

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

int main(void)
{
	TEST_RUN(test_table);
	TEST_RUN(test_enums);
	TEST_RUN(test_queue_doc);
	TEST_RUN(test_queue_overflow_and_sticky);
	TEST_RUN(test_agent_doc);
	TEST_MAIN_END();
}
