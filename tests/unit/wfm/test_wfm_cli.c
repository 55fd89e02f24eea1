/*
 * test_wfm_cli.c: tests of `hotline erlang` through wfm_cli_erlang_to(),
 * with stdout and stderr captured in memory streams, so the command is
 * checked before (and independently of) src/main.c dispatching to it.
 * The JSON output is parsed back with jansson and compared with the
 * library, so the CLI cannot drift from the math.
 */
#include "wfm/wfm.h"
#include "test.h"

#include <jansson.h>
#include <stdlib.h>

struct run {
	int rc;
	char *out, *err;
};

static struct run run_cli(const char *const *args)
{
	struct run r = {0};
	size_t olen = 0, elen = 0;
	FILE *out = open_memstream(&r.out, &olen);
	FILE *err = open_memstream(&r.err, &elen);
	int argc = 0;
	char *argv[64];
	while (args[argc] && argc < 63) {
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	r.rc = wfm_cli_erlang_to(out, err, argc, argv);
	fclose(out);
	fclose(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static double jget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (json_is_integer(v))
		return (double)json_integer_value(v);
	return json_is_real(v) ? json_real_value(v) : NAN;
}

/* The Mitan example (see test_wfm.c) through the CLI, as JSON. */
static void test_cli_c_evaluate_json(void)
{
	const char *args[] = {"erlang", "c", "--calls", "360", "--period", "1800",
			      "--aht", "240", "--agents", "55", "--sl-seconds", "15",
			      "--json", NULL};
	struct run r = run_cli(args);
	CHECK_EQ_INT(r.rc, 0);
	json_error_t e;
	json_t *j = json_loads(r.out, 0, &e);
	REQUIRE(j != NULL);
	CHECK_EQ_INT(jget(j, "agents"), 55);
	CHECK_NEAR(jget(j, "traffic_erlangs"), 48.0, 1e-12, 0);
	CHECK_NEAR(jget(j, "p_wait"), 0.2387, 5e-5, 0);
	CHECK_NEAR(jget(j, "mean_wait_seconds"), 8.184, 5e-4, 0);
	CHECK_NEAR(jget(j, "service_level"), 0.8459, 5e-5, 0);
	CHECK_NEAR(jget(j, "occupancy"), 0.8727, 5e-5, 0);
	CHECK(json_object_get(j, "p_abandon") == NULL);
	CHECK(json_object_get(j, "p_block") == NULL);
	CHECK_EQ_STR(r.err, "");
	json_decref(j);
	run_free(&r);
}

static void test_cli_a_json_matches_library(void)
{
	const char *args[] = {"erlang", "a", "--calls=400", "--period=1800",
			      "--aht=240", "--patience=120", "--agents=50",
			      "--sl-seconds=20", "--json", NULL};
	struct run r = run_cli(args);
	CHECK_EQ_INT(r.rc, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	struct wfm_load l = {WFM_ERLANG_A, 400, 1800, 240, 120, 20};
	struct wfm_result w;
	REQUIRE(wfm_evaluate(&l, 50, &w) == 0);
	CHECK(jget(j, "p_wait") == w.p_wait);
	CHECK(jget(j, "p_abandon") == w.p_abandon);
	CHECK(jget(j, "mean_wait_seconds") == w.mean_wait_s);
	CHECK(jget(j, "sl_answered") == w.sl_answered);
	CHECK(jget(j, "sl_excluding_short_abandons") == w.sl_excluding_short_abandons);
	CHECK(jget(j, "sl_wait_le_t") == w.sl_wait_le_t);
	CHECK(jget(j, "service_level") == jget(j, "sl_answered"));
	CHECK(jget(j, "occupancy") == w.occupancy);
	json_decref(j);
	run_free(&r);
}

/* Call Centre Helper example: 14 agents, 20 scheduled at 30% shrinkage. */
static void test_cli_c_staffing_text(void)
{
	const char *args[] = {"erlang", "c", "--calls", "100", "--period", "1800",
			      "--aht", "180", "--target-sl", "0.8", "--shrinkage",
			      "0.3", NULL};
	struct run r = run_cli(args);
	CHECK_EQ_INT(r.rc, 0);
	CHECK(strstr(r.out, "agents needed            14\n") != NULL);
	CHECK(strstr(r.out, "scheduled staff          20 ") != NULL);
	CHECK(strstr(r.out, "service level            88.84% answered within 20 s") != NULL);
	run_free(&r);

	const char *jargs[] = {"erlang", "c", "--calls", "100", "--period", "1800",
			       "--aht", "180", "--target-sl", "0.8", "--shrinkage",
			       "0.3", "--json", NULL};
	r = run_cli(jargs);
	json_t *j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_INT(jget(j, "agents"), 14);
	CHECK_EQ_INT(jget(j, "scheduled_staff"), 20);
	json_decref(j);
	run_free(&r);
}

static void test_cli_b_and_overload(void)
{
	const char *args[] = {"erlang", "b", "--calls", "1200", "--period", "3600",
			      "--aht", "100", "--agents", "45", "--target-block",
			      "0.01", "--json", NULL};
	struct run r = run_cli(args);
	CHECK_EQ_INT(r.rc, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK(jget(j, "p_block") < 0.01);
	CHECK(json_is_true(json_object_get(j, "meets_targets")));
	CHECK(jget(j, "max_calls") >= 1200);
	json_decref(j);
	run_free(&r);

	/* Erlang C with traffic above staff: mean wait unbounded -> null */
	const char *o[] = {"erlang", "c", "--calls", "500", "--period", "1800",
			   "--aht", "240", "--agents", "60", "--json", NULL};
	r = run_cli(o);
	CHECK_EQ_INT(r.rc, 0);
	j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK(json_is_null(json_object_get(j, "mean_wait_seconds")));
	CHECK(jget(j, "p_wait") == 1.0);
	json_decref(j);
	run_free(&r);

	const char *t[] = {"erlang", "c", "--calls", "500", "--period", "1800",
			   "--aht", "240", "--agents", "60", NULL};
	r = run_cli(t);
	CHECK(strstr(r.out, "unbounded") != NULL);
	run_free(&r);
}

static void expect_usage(const char *const *args, const char *needle)
{
	struct run r = run_cli(args);
	CHECK_EQ_INT(r.rc, 2);
	CHECK(strstr(r.err, needle) != NULL);
	if (!strstr(r.err, needle))
		fprintf(stderr, "  stderr was: %s\n", r.err);
	CHECK_EQ_STR(r.out, "");
	run_free(&r);
}

static void test_cli_usage_errors(void)
{
	const char *a1[] = {"erlang", NULL};
	expect_usage(a1, "missing the model");
	const char *a2[] = {"erlang", "x", "--calls", "1", NULL};
	expect_usage(a2, "unknown model 'x'");
	const char *a3[] = {"erlang", "c", "--calls", "abc", "--period", "1800", "--aht", "180", "--agents", "3", NULL};
	expect_usage(a3, "--calls: expected");
	const char *a4[] = {"erlang", "c", "--calls", "100", "--aht", "180", "--agents", "3", NULL};
	expect_usage(a4, "--period is required");
	const char *a5[] = {"erlang", "a", "--calls", "100", "--period", "1800", "--aht", "180", "--agents", "3", NULL};
	expect_usage(a5, "--patience is required");
	const char *a6[] = {"erlang", "c", "--calls", "100", "--period", "1800", "--aht", "180", "--target-sl", "80", NULL};
	expect_usage(a6, "--target-sl: expected a fraction");
	const char *a7[] = {"erlang", "c", "--calls", "100", "--period", "1800", "--aht", "180", NULL};
	expect_usage(a7, "give --agents");
	const char *a8[] = {"erlang", "c", "--calls", "100", "--period", "1800", "--aht", "180", "--agents", "2.5", NULL};
	expect_usage(a8, "--agents: expected a whole number");
	const char *a9[] = {"erlang", "c", "--calls", "100", "--period", "1800", "--aht", "180", "--agents", NULL};
	expect_usage(a9, "--agents: missing value");
	const char *a10[] = {"erlang", "c", "--bogus", "1", NULL};
	expect_usage(a10, "unknown option '--bogus'");
	const char *a11[] = {"erlang", "c", "--calls", "100", "--period", "1800", "--aht", "180", "--patience", "60", "--agents", "3", NULL};
	expect_usage(a11, "--patience applies to Erlang A only");
	const char *a12[] = {"erlang", "c", "--calls", "100", "--period", "-5", "--aht", "180", "--agents", "3", NULL};
	expect_usage(a12, "--period: expected seconds > 0");
	const char *a13[] = {"erlang", "a", "--calls", "100", "--period", "1800", "--aht", "180", "--patience", "60", "--target-sl", "0.8", "--sl-definition", "nope", NULL};
	expect_usage(a13, "--sl-definition: expected");
	const char *a14[] = {"erlang", "c", "--calls", "1e400", "--period", "1800", "--aht", "180", "--agents", "3", NULL};
	expect_usage(a14, "--calls: expected");
}

static void test_cli_help_and_unreachable(void)
{
	const char *h[] = {"erlang", "--help", NULL};
	struct run r = run_cli(h);
	CHECK_EQ_INT(r.rc, 0);
	CHECK(strstr(r.out, "usage: hotline erlang") != NULL);
	run_free(&r);

	/* Erlang A staffing with a chosen service-level definition */
	const char *a[] = {"erlang", "a", "--calls", "400", "--period", "1800",
			   "--aht", "240", "--patience", "120", "--target-sl", "0.8",
			   "--sl-definition", "wait-le-t", "--json", NULL};
	r = run_cli(a);
	CHECK_EQ_INT(r.rc, 0);
	json_t *j = json_loads(r.out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK(jget(j, "sl_wait_le_t") >= 0.8);
	long n = (long)jget(j, "agents");
	struct wfm_load l = {WFM_ERLANG_A, 400, 1800, 240, 120, 20};
	struct wfm_result w;
	REQUIRE(wfm_evaluate(&l, n - 1, &w) == 0);
	CHECK(w.sl_wait_le_t < 0.8);
	json_decref(j);
	run_free(&r);
}

int main(void)
{
	TEST_RUN(test_cli_c_evaluate_json);
	TEST_RUN(test_cli_a_json_matches_library);
	TEST_RUN(test_cli_c_staffing_text);
	TEST_RUN(test_cli_b_and_overload);
	TEST_RUN(test_cli_usage_errors);
	TEST_RUN(test_cli_help_and_unreachable);
	TEST_MAIN_END();
}
