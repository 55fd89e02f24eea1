/*
 * test_wfm_sim.c: unit tests of the what-if simulator (src/wfm/wfm_sim.c)
 * and its JSON scenario loader and command (wfm_sim_cli.c), run from
 * test_wfm's main() through wfm_sim_tests() (wfm_tests.h).
 *
 * The main evidence: on one queue the simulation, which routes every call
 * through the real engine, agrees with the exact Erlang C (infinite
 * patience) and Erlang A (exponential patience) values of wfm_evaluate()
 * within its own confidence intervals. The tests use the 99% intervals so
 * that the handful of comparisons fail by chance rarely; the seeds are
 * fixed, so a run is reproducible either way. Scenario sizes keep the whole
 * file to a few seconds under ASan.
 */
#include "wfm/wfm.h"
#include "wfm/wfm_int.h"
#include "test.h"
#include "wfm_tests.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

/* |sim - exact| within the confidence half-width (and a sanity bound on
 * the width, so that a useless interval cannot pass). */
#define CHECK_IN_CI(stat, exact, max_hw)                                      \
	do {                                                                  \
		struct wfm_sim_stat s_ = (stat);                              \
		double x_ = (exact);                                          \
		if (!(fabs(s_.mean - x_) <= s_.half_width &&                  \
		      s_.half_width <= (max_hw))) {                           \
			fprintf(stderr, "%s:%d: %s = %.5f ± %.5f vs exact %.5f\n", \
				__FILE__, __LINE__, #stat, s_.mean,           \
				s_.half_width, x_);                           \
			test_failed_checks++;                                 \
		}                                                             \
	} while (0)

struct one_queue {
	struct wfm_sim_scenario sc;
	struct wfm_sim_queue q;
	struct wfm_sim_group g;
	double calls;
	unsigned agents;
	uint32_t qid;
};

/* One queue, one group of n agents, one long interval after a warm-up. */
static void one_queue_init(struct one_queue *o, double erlangs, double aht,
			   unsigned n, double patience, double sl, double hours)
{
	memset(o, 0, sizeof(*o));
	wfm_sim_scenario_init(&o->sc);
	wfm_sim_queue_init(&o->q);
	o->qid = 7;
	o->q.id = 7;
	o->q.aht_s = aht;
	o->q.patience_s = patience;
	o->q.sl_s = sl;
	o->calls = erlangs / aht * hours * 3600.0;
	o->q.calls = &o->calls;
	o->agents = n;
	o->g.agents = &o->agents;
	o->g.queues = &o->qid;
	o->g.n_queues = 1;
	o->sc.interval_s = hours * 3600.0;
	o->sc.n_intervals = 1;
	o->sc.warmup_s = 3600.0;
	o->sc.replications = 30;
	o->sc.seed = 2024;
	o->sc.confidence = 0.99;
	o->sc.queues = &o->q;
	o->sc.n_queues = 1;
	o->sc.groups = &o->g;
	o->sc.n_groups = 1;
}

static void test_t_quantile(void)
{
	/* Student t table values */
	CHECK_NEAR(wfm_t_quantile(0.975, 1), 12.706, 1e-3, 0);
	CHECK_NEAR(wfm_t_quantile(0.975, 2), 4.303, 1e-3, 0);
	CHECK_NEAR(wfm_t_quantile(0.975, 3), 3.182, 5e-3, 0);
	CHECK_NEAR(wfm_t_quantile(0.975, 5), 2.571, 1e-3, 0);
	CHECK_NEAR(wfm_t_quantile(0.975, 9), 2.262, 1e-3, 0);
	CHECK_NEAR(wfm_t_quantile(0.995, 11), 3.106, 1e-3, 0);
	CHECK_NEAR(wfm_t_quantile(0.95, 30), 1.697, 1e-3, 0);
	CHECK_NEAR(wfm_t_quantile(0.975, 1e6), 1.960, 1e-3, 0);
	CHECK(isnan(wfm_t_quantile(1.0, 5)));
}

/* M/M/10 at 8 Erlangs, AHT 60 s, 20 s threshold. */
static void test_agrees_with_erlang_c(void)
{
	struct one_queue o;
	one_queue_init(&o, 8.0, 60.0, 10, INFINITY, 20.0, 8.0);
	struct wfm_sim_report r;
	REQUIRE(wfm_simulate(&o.sc, &r) == 0);
	struct wfm_load l = {WFM_ERLANG_C, o.calls, o.sc.interval_s, 60.0, 0, 20.0};
	struct wfm_result ex;
	REQUIRE(wfm_evaluate(&l, 10, &ex) == 0);
	const struct wfm_sim_cell *c = &r.cells[0], *day = &r.cells[1];
	CHECK_IN_CI(c->service_level, ex.service_level, 0.05);
	CHECK_IN_CI(c->mean_wait_s, ex.mean_wait_s, 4.0);
	CHECK_IN_CI(r.occupancy[0], ex.occupancy, 0.02);
	CHECK_IN_CI(c->offered, o.calls, 0.05 * o.calls);
	CHECK(c->p_abandon.mean == 0.0);
	/* one interval: the day is that interval */
	CHECK(day->service_level.mean == c->service_level.mean);
	CHECK_EQ_INT(r.replications, 30);
	CHECK(r.events > 30 * 3 * (unsigned long)o.calls);
	wfm_sim_report_free(&r);
}

/* M/M/10+M at 10 Erlangs (critically loaded), patience 120 s. */
static void test_agrees_with_erlang_a(void)
{
	struct one_queue o;
	one_queue_init(&o, 10.0, 60.0, 10, 120.0, 20.0, 8.0);
	struct wfm_sim_report r;
	REQUIRE(wfm_simulate(&o.sc, &r) == 0);
	struct wfm_load l = {WFM_ERLANG_A, o.calls, o.sc.interval_s, 60.0, 120.0, 20.0};
	struct wfm_result ex;
	REQUIRE(wfm_evaluate(&l, 10, &ex) == 0);
	const struct wfm_sim_cell *c = &r.cells[0];
	CHECK_IN_CI(c->service_level, ex.sl_answered, 0.03);
	CHECK_IN_CI(c->p_abandon, ex.p_abandon, 0.02);
	CHECK_IN_CI(c->mean_wait_s, ex.mean_wait_s, 3.0);
	CHECK_IN_CI(r.occupancy[0], ex.occupancy, 0.02);
	wfm_sim_report_free(&r);

	/* Fewer agents, impatient callers: the same, well into overload. */
	one_queue_init(&o, 12.0, 60.0, 9, 30.0, 10.0, 8.0);
	REQUIRE(wfm_simulate(&o.sc, &r) == 0);
	l = (struct wfm_load){WFM_ERLANG_A, o.calls, o.sc.interval_s, 60.0, 30.0, 10.0};
	REQUIRE(wfm_evaluate(&l, 9, &ex) == 0);
	c = &r.cells[0];
	CHECK_IN_CI(c->service_level, ex.sl_answered, 0.03);
	CHECK_IN_CI(c->p_abandon, ex.p_abandon, 0.02);
	CHECK_IN_CI(c->mean_wait_s, ex.mean_wait_s, 2.0);
	CHECK_IN_CI(r.occupancy[0], ex.occupancy, 0.02);
	wfm_sim_report_free(&r);
}

/* Same seed, same report; another seed, another report. */
static void test_deterministic(void)
{
	struct one_queue o;
	one_queue_init(&o, 5.0, 120.0, 6, 200.0, 20.0, 0.5);
	o.sc.replications = 3;
	struct wfm_sim_report a, b, c;
	REQUIRE(wfm_simulate(&o.sc, &a) == 0);
	REQUIRE(wfm_simulate(&o.sc, &b) == 0);
	o.sc.seed++;
	REQUIRE(wfm_simulate(&o.sc, &c) == 0);
	CHECK(a.cells[0].offered.mean == b.cells[0].offered.mean);
	CHECK(a.cells[0].mean_wait_s.mean == b.cells[0].mean_wait_s.mean);
	CHECK(a.occupancy[0].mean == b.occupancy[0].mean);
	CHECK(a.events == b.events);
	CHECK(a.cells[0].mean_wait_s.mean != c.cells[0].mean_wait_s.mean);
	wfm_sim_report_free(&a);
	wfm_sim_report_free(&b);
	wfm_sim_report_free(&c);
	wfm_sim_report_free(NULL);
}

/* Agents answer after a fixed 5 s ring: every answered call waits >= 5 s. */
static void test_accept_delay_and_fixed_handle(void)
{
	struct one_queue o;
	one_queue_init(&o, 2.0, 100.0, 40, INFINITY, 4.0, 1.0);
	o.q.handle_dist = WFM_SIM_FIXED;
	o.sc.accept_delay_s = 5.0;
	o.sc.replications = 3;
	struct wfm_sim_report r;
	REQUIRE(wfm_simulate(&o.sc, &r) == 0);
	CHECK(r.cells[0].service_level.mean == 0.0);
	CHECK_NEAR(r.cells[0].mean_wait_s.mean, 5.0, 1e-9, 0);
	/* busy = 5 s ring + 100 s handle per call */
	double occ = o.calls * 105.0 / (40 * 3600.0);
	CHECK_NEAR(r.occupancy[0].mean, occ, 0, 0.15);
	wfm_sim_report_free(&r);
	o.q.sl_s = 6.0;
	REQUIRE(wfm_simulate(&o.sc, &r) == 0);
	CHECK(r.cells[0].service_level.mean == 1.0);
	wfm_sim_report_free(&r);
}

/*
 * Three queues, skills and staffing by interval: sales (skill 1) has its
 * own team and the juniors' help; support needs skill 2 at level 3, its
 * only team (the juniors) is at level 2 and there is no overflow step, so
 * every support caller abandons; billing has nobody in interval 0.
 */
static const char multi_json[] =
	"{\"interval_seconds\": 900, \"intervals\": 3, \"replications\": 4,\n"
	" \"seed\": 5, \"accept_delay_seconds\": 0,\n"
	" \"queues\": [\n"
	"  {\"id\": 1, \"name\": \"sales\", \"calls\": [40, 60, 40], \"aht_seconds\": 180,\n"
	"   \"sl_seconds\": 20, \"skills\": [{\"id\": 1, \"level\": 1}]},\n"
	"  {\"id\": 2, \"name\": \"support\", \"calls\": 30, \"aht_seconds\": 300,\n"
	"   \"patience_seconds\": 60, \"skills\": [{\"id\": 2, \"level\": 3}],\n"
	"   \"priority\": 5, \"strategy\": \"best_skill\", \"wrap_seconds\": 30},\n"
	"  {\"id\": 3, \"name\": \"billing\", \"calls\": [20, 20, 20], \"aht_seconds\": 120,\n"
	"   \"patience_seconds\": null, \"handle_time\": \"fixed\"}\n"
	" ],\n"
	" \"agents\": [\n"
	"  {\"name\": \"sales team\", \"count\": [12, 14, 12], \"queues\": [1],\n"
	"   \"skills\": [{\"id\": 1, \"level\": 3}]},\n"
	"  {\"name\": \"juniors\", \"count\": 5, \"queues\": [2, 1],\n"
	"   \"skills\": [{\"id\": 2, \"level\": 2}]},\n"
	"  {\"name\": \"billing\", \"count\": [0, 8, 8], \"queues\": [3]}\n"
	" ]}\n";

static void test_multi_queue_skills(void)
{
	struct wfm_sim_scenario *sc = NULL;
	char err[200];
	REQUIRE(wfm_sim_scenario_load(multi_json, sizeof(multi_json) - 1, &sc, err,
				      sizeof(err)) == 0);
	CHECK_EQ_INT(sc->n_intervals, 3);
	CHECK_EQ_INT(sc->n_queues, 3);
	CHECK_EQ_INT(sc->n_groups, 3);
	CHECK_EQ_STR(sc->queues[1].name, "support");
	CHECK(sc->queues[1].patience_s == 60.0 && isinf(sc->queues[2].patience_s));
	CHECK(sc->queues[0].calls[1] == 60.0 && sc->queues[1].calls[2] == 30.0);
	CHECK_EQ_INT(sc->groups[0].agents[1], 14);
	CHECK_EQ_INT(sc->groups[1].agents[2], 5);
	CHECK_EQ_INT(sc->queues[1].strategy, 2);
	CHECK_EQ_INT(sc->queues[2].handle_dist, WFM_SIM_FIXED);
	struct wfm_sim_report r;
	REQUIRE(wfm_simulate(sc, &r) == 0);
	unsigned ni = r.n_intervals;
	const struct wfm_sim_cell *sales = &r.cells[0], *support = &r.cells[ni + 1],
				  *billing = &r.cells[2 * (ni + 1)];
	/* support: nobody qualifies, so every caller abandons */
	CHECK(support[ni].answered.mean == 0.0);
	CHECK(support[ni].p_abandon.mean == 1.0);
	CHECK_NEAR(support[ni].mean_wait_s.mean, 60.0, 15.0, 0);
	/* sales: 12 agents for 8 Erlangs in interval 0 (Erlang C: 88% in 20
	 * s; the day starts empty); nobody abandons (infinite patience) */
	CHECK(sales[0].service_level.mean > 0.8);
	CHECK(sales[ni].p_abandon.mean == 0.0);
	/* billing: nobody in interval 0, so callers of interval 0 wait for
	 * interval 1 (service level 0); 8 agents for 2.7 Erlangs clear that
	 * backlog within interval 1, so interval 2 is served well */
	CHECK(billing[0].service_level.mean == 0.0);
	CHECK(billing[0].mean_wait_s.mean > 300.0);
	CHECK(billing[2].service_level.mean > 0.5);
	CHECK(billing[ni].answered.mean == billing[ni].offered.mean);
	for (unsigned q = 0; q < 3; q++)
		for (unsigned i = 0; i <= ni; i++) {
			const struct wfm_sim_cell *c = &r.cells[q * (ni + 1) + i];
			CHECK(c->answered.mean <= c->offered.mean);
		}
	for (unsigned i = 0; i <= ni; i++)
		CHECK(r.occupancy[i].mean >= 0.0 && r.occupancy[i].mean <= 1.0);
	wfm_sim_report_free(&r);
	wfm_sim_scenario_free(sc);
}

static void expect_load_error(const char *json, const char *needle)
{
	struct wfm_sim_scenario *sc = (void *)1;
	char err[200];
	int rc = wfm_sim_scenario_load(json, strlen(json), &sc, err, sizeof(err));
	CHECK_EQ_INT(rc, -EINVAL);
	CHECK(sc == NULL);
	if (!strstr(err, needle)) {
		fprintf(stderr, "error '%s' does not name '%s'\n", err, needle);
		test_failed_checks++;
	}
}

static void test_loader_errors(void)
{
	expect_load_error("", "JSON");
	expect_load_error("[]", "scenario");
	expect_load_error("{\"queues\": []}", "queues");
	expect_load_error("{\"queues\": [{\"calls\": 1}], \"bogus\": 1}", "bogus");
	expect_load_error("{\"queues\": [{\"calls\": 1, \"colour\": 2}]}",
			  "queues[0].colour");
	expect_load_error("{\"intervals\": 2, \"queues\": [{\"calls\": [1, 2, 3]}]}",
			  "queues[0].calls");
	expect_load_error("{\"queues\": [{\"calls\": -1}]}", "queues[0].calls");
	expect_load_error("{\"queues\": [{\"calls\": 1, \"strategy\": \"fastest\"}]}",
			  "strategy");
	expect_load_error("{\"queues\": [{\"calls\": 1, \"aht_seconds\": 0}]}",
			  "aht_seconds");
	expect_load_error("{\"queues\": [{\"id\": 3, \"calls\": 1}, {\"id\": 3, \"calls\": 1}]}",
			  "queues[1]");
	expect_load_error("{\"queues\": [{\"calls\": 1}], \"agents\": [{\"count\": 1, \"queues\": [9]}]}",
			  "agents[0]");
	expect_load_error("{\"queues\": [{\"calls\": 1}], \"agents\": [{\"count\": 1, \"queues\": [1, 1]}]}",
			  "agents[0].queues: duplicate");
	expect_load_error("{\"queues\": [{\"calls\": 1}], \"agents\": [{\"count\": 1.5, \"queues\": [1]}]}",
			  "agents[0].count");
	expect_load_error("{\"queues\": [{\"calls\": 1, \"skills\": [{\"id\": 1, \"level\": 6}]}]}",
			  "queues[0].skills[0]");
	expect_load_error("{\"queues\": [{\"calls\": 1}], \"confidence\": 1}", "confidence");
	expect_load_error("{\"queues\": [{\"calls\": 1}], \"replications\": 0}",
			  "replications");
	expect_load_error("{\"queues\": [{\"calls\": 1}], \"seed\": 1, \"seed\": 2}", "JSON");
	/* minimal valid scenario: defaults */
	struct wfm_sim_scenario *sc = NULL;
	const char *ok = "{\"queues\": [{\"calls\": 3}]}";
	REQUIRE(wfm_sim_scenario_load(ok, strlen(ok), &sc, NULL, 0) == 0);
	CHECK_EQ_INT(sc->n_intervals, 1);
	CHECK_EQ_INT(sc->n_groups, 0);
	CHECK_EQ_INT(sc->queues[0].id, 1);
	CHECK(sc->interval_s == 900.0 && sc->confidence == 0.95);
	/* no agents: every caller waits until the drain ends */
	sc->replications = 2;
	sc->drain_s = 60.0;
	struct wfm_sim_report r;
	REQUIRE(wfm_simulate(sc, &r) == 0);
	CHECK(r.cells[1].answered.mean == 0.0);
	CHECK(isnan(r.occupancy[1].mean));
	wfm_sim_report_free(&r);
	wfm_sim_scenario_free(sc);
	wfm_sim_scenario_free(NULL);
}

struct run {
	int rc;
	char *out, *err;
};

static struct run run_cli(int argc, const char **args)
{
	struct run r = {0};
	size_t ol = 0, el = 0;
	FILE *out = open_memstream(&r.out, &ol), *err = open_memstream(&r.err, &el);
	r.rc = wfm_cli_simulate_to(out, err, argc, (char **)args);
	fclose(out);
	fclose(err);
	return r;
}

static void test_cli(void)
{
	char path[] = "/tmp/hl_wfm_scenario_XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs(multi_json, f);
	fclose(f);
	const char *a1[] = {"simulate", "--scenario", path, "--json", "--replications", "2", NULL};
	struct run r = run_cli(6, a1);
	CHECK_EQ_INT(r.rc, 0);
	json_error_t je;
	json_t *j = json_loads(r.out, 0, &je);
	CHECK(j != NULL);
	if (j) {
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "replications")), 2);
		json_t *qs = json_object_get(j, "queues");
		CHECK_EQ_INT(json_array_size(qs), 3);
		json_t *sup = json_array_get(qs, 1);
		CHECK_EQ_STR(json_string_value(json_object_get(sup, "name")), "support");
		CHECK_EQ_INT(json_array_size(json_object_get(sup, "intervals")), 3);
		json_t *pab = json_object_get(json_object_get(json_object_get(sup, "day"),
							      "p_abandon"),
					      "mean");
		CHECK(json_real_value(pab) == 1.0);
		CHECK_EQ_INT(json_array_size(json_object_get(j, "occupancy")), 3);
		json_decref(j);
	}
	free(r.out);
	free(r.err);

	const char *a2[] = {"simulate", "--scenario=", NULL};
	char arg[80];
	snprintf(arg, sizeof(arg), "--scenario=%s", path);
	a2[1] = arg;
	r = run_cli(2, a2);
	CHECK_EQ_INT(r.rc, 0);
	CHECK(strstr(r.out, "support") && strstr(r.out, "day"));
	free(r.out);
	free(r.err);

	const char *a3[] = {"simulate", NULL};
	r = run_cli(1, a3);
	CHECK_EQ_INT(r.rc, 2);
	CHECK(strstr(r.err, "--scenario"));
	free(r.out);
	free(r.err);

	const char *a4[] = {"simulate", "--scenario", path, "--replications", "0", NULL};
	r = run_cli(5, a4);
	CHECK_EQ_INT(r.rc, 2);
	CHECK(strstr(r.err, "--replications"));
	free(r.out);
	free(r.err);

	f = fopen(path, "w");
	fputs("{\"queues\": [{\"calls\": 1, \"aht_seconds\": -3}]}", f);
	fclose(f);
	const char *a5[] = {"simulate", "--scenario", path, NULL};
	r = run_cli(3, a5);
	CHECK_EQ_INT(r.rc, 2);
	CHECK(strstr(r.err, "queues[0]") && strstr(r.err, "aht_seconds"));
	free(r.out);
	free(r.err);
	unlink(path);

	r = run_cli(3, a5);
	CHECK_EQ_INT(r.rc, 2);
	free(r.out);
	free(r.err);
}

/* The example of docs/WFM.md (kept in tests/unit/wfm/scenarios, also a
 * fuzz seed) loads and runs through the command. */
static void test_docs_example(void)
{
	const char *a[] = {"simulate", "--scenario",
			   "tests/unit/wfm/scenarios/example.json", "--json",
			   "--replications", "3", NULL};
	struct run r = run_cli(6, a);
	CHECK_EQ_INT(r.rc, 0);
	json_error_t je;
	json_t *j = json_loads(r.out ? r.out : "", 0, &je);
	CHECK(j != NULL);
	if (j) {
		json_t *qs = json_object_get(j, "queues");
		CHECK_EQ_INT(json_array_size(qs), 2);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "intervals")), 4);
		json_t *sl = json_object_get(json_object_get(json_object_get(
			json_array_get(qs, 0), "day"), "service_level"), "mean");
		CHECK(json_real_value(sl) > 0.0 && json_real_value(sl) <= 1.0);
		json_decref(j);
	}
	if (r.rc)
		fprintf(stderr, "%s", r.err);
	free(r.out);
	free(r.err);
}

int wfm_sim_tests(int *passed, int *failed)
{
	TEST_RUN(test_t_quantile);
	TEST_RUN(test_agrees_with_erlang_c);
	TEST_RUN(test_agrees_with_erlang_a);
	TEST_RUN(test_deterministic);
	TEST_RUN(test_accept_delay_and_fixed_handle);
	TEST_RUN(test_multi_queue_skills);
	TEST_RUN(test_loader_errors);
	TEST_RUN(test_cli);
	TEST_RUN(test_docs_example);
	*passed += test_passed;
	*failed += test_failed;
	return test_failed;
}
