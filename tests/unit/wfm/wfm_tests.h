/*
 * wfm_tests.h: the test groups that test_wfm's main() runs besides its
 * own (each file keeps its own test.h counters and adds them to main's).
 */
#ifndef HL_WFM_TESTS_H
#define HL_WFM_TESTS_H

/* Run every test of the file; add the passed and failed counts. Return the
 * number failed. */
int wfm_forecast_tests(int *passed, int *failed);
int wfm_sim_tests(int *passed, int *failed);
int wfm_plan_tests(int *passed, int *failed);

#endif
