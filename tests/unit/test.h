/*
 * test.h: the unit-test harness shared by every tests/unit/<module> binary.
 *
 * A test is a function `static void test_xxx(void)` registered with
 * TEST_RUN(test_xxx) from main(). CHECK() records a failure and goes on;
 * REQUIRE() records it and returns from the test. TEST_MAIN_END() prints the
 * closing line "N passed, N failed" and returns the exit code, so that ctest
 * and a human both see the outcome.
 */
#ifndef HL_TEST_H
#define HL_TEST_H

#include <stdio.h>
#include <string.h>
#include <math.h>

static int test_failed_checks;
static int test_passed, test_failed;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                             \
			test_failed_checks++;                                 \
		}                                                             \
	} while (0)

#define REQUIRE(cond)                                                         \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n",        \
				__FILE__, __LINE__, #cond);                   \
			test_failed_checks++;                                 \
			return;                                               \
		}                                                             \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                    \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ != b_) {                                               \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);          \
			test_failed_checks++;                                 \
		}                                                             \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                    \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                      \
			fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
				__FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", \
				b_ ? b_ : "(null)");                          \
			test_failed_checks++;                                 \
		}                                                             \
	} while (0)

/* |a - b| <= tol_abs + tol_rel * |b| */
#define CHECK_NEAR(a, b, tol_abs, tol_rel)                                    \
	do {                                                                  \
		double a_ = (a), b_ = (b);                                    \
		if (!(fabs(a_ - b_) <= (tol_abs) + (tol_rel)*fabs(b_))) {     \
			fprintf(stderr, "%s:%d: %s ~ %s failed: %.17g vs %.17g\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);          \
			test_failed_checks++;                                 \
		}                                                             \
	} while (0)

#define TEST_RUN(fn)                                                          \
	do {                                                                  \
		int before_ = test_failed_checks;                             \
		fn();                                                         \
		if (test_failed_checks == before_) {                          \
			test_passed++;                                        \
		} else {                                                      \
			test_failed++;                                        \
			fprintf(stderr, "FAIL %s\n", #fn);                    \
		}                                                             \
	} while (0)

#define TEST_MAIN_END()                                                       \
	do {                                                                  \
		printf("%d passed, %d failed\n", test_passed, test_failed);   \
		return test_failed ? 1 : 0;                                   \
	} while (0)

#endif
