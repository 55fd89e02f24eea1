/*
 * fuzz_scenario.c: the what-if simulator's JSON scenario loader
 * (wfm_sim_scenario_load, src/wfm/wfm_sim_cli.c) must accept or reject any
 * bytes, with a message on rejection, never read out of bounds or leak;
 * what it accepts must pass wfm_sim_validate(). Small accepted scenarios
 * are also simulated (one replication, bounded work), so the simulator
 * and the routing engine see odd but valid input too.
 */
#include "wfm/wfm.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wfm_sim_scenario *sc = NULL;
	char err[256];
	int rc = wfm_sim_scenario_load((const char *)data, size, &sc, err, sizeof(err));
	if (rc) {
		if (sc || (rc == -EINVAL && err[0] == '\0'))
			abort();
		return 0;
	}
	if (!sc || wfm_sim_validate(sc, NULL, 0) != 0)
		abort();
	/* Bound the work: few intervals, agents and expected calls. */
	double calls = 0.0;
	unsigned agents = 0;
	for (unsigned q = 0; q < sc->n_queues; q++)
		for (unsigned i = 0; i < sc->n_intervals; i++)
			calls += sc->queues[q].calls[i];
	for (unsigned g = 0; g < sc->n_groups; g++)
		for (unsigned i = 0; i < sc->n_intervals; i++)
			agents += sc->groups[g].agents[i];
	if (sc->n_intervals <= 8 && agents <= 64 && calls <= 200.0 &&
	    sc->warmup_s <= sc->interval_s) {
		struct wfm_sim_report r;
		sc->replications = 1;
		if (sc->drain_s > 3600.0)
			sc->drain_s = 3600.0;
		if (wfm_simulate(sc, &r) == 0)
			wfm_sim_report_free(&r);
	}
	wfm_sim_scenario_free(sc);
	return 0;
}
