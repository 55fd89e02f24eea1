/*
 * test_base.c: unit tests for src/base: the config parser's accepted syntax
 * and its error messages (file, line, what was expected), the clocks'
 * formatting and the worker pool's run-everything-before-free rule.
 */
#include "base/base.h"
#include "test.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

struct collected {
	char text[2048];
	size_t n;
	int reject_key; /* reject a key named "bad" */
};

static int collect(const struct base_config_item *it, char *err, size_t errsz, void *arg)
{
	struct collected *c = arg;
	if (c->reject_key && strcmp(it->key, "bad") == 0) {
		snprintf(err, errsz, "unknown key 'bad' in [%s]; expected one of port, bind",
			 it->section);
		return -EINVAL;
	}
	int k = snprintf(c->text + c->n, sizeof(c->text) - c->n, "%s|%s|%s|%d;", it->section,
			 it->key, it->value, it->line);
	c->n += (size_t)k;
	return 0;
}

static int parse(const char *text, struct collected *c, char *err)
{
	memset(c->text, 0, sizeof(c->text));
	c->n = 0;
	return base_config_parse(text, strlen(text), "test.conf", collect, c, err, 256);
}

static void test_config_accepts_sections_comments_quotes(void)
{
	struct collected c = {0};
	char err[256] = "";
	const char *t = "# top comment\n"
			"top = 1\n"
			"[http]\n"
			"  port = 8080   # trailing comment\n"
			"bind=127.0.0.1\n"
			"; another comment\n"
			"\n"
			"[store]\r\n"
			"url = \"sqlite:/tmp/a # not a comment \\\"q\\\"\"\n";
	CHECK_EQ_INT(parse(t, &c, err), 0);
	CHECK_EQ_STR(c.text, "|top|1|2;http|port|8080|4;http|bind|127.0.0.1|5;"
			     "store|url|sqlite:/tmp/a # not a comment \"q\"|9;");
}

static void test_config_errors_name_file_and_line(void)
{
	struct collected c = {0};
	char err[256] = "";
	CHECK_EQ_INT(parse("[http]\nport 8080\n", &c, err), -EINVAL);
	CHECK_EQ_STR(err, "test.conf:2: expected 'key = value', '[section]' or a comment");

	CHECK_EQ_INT(parse("[http\n", &c, err), -EINVAL);
	CHECK(strncmp(err, "test.conf:1: expected '[section]'", 33) == 0);

	CHECK_EQ_INT(parse("a = \"open\n", &c, err), -EINVAL);
	CHECK_EQ_STR(err, "test.conf:1: expected a closing '\"'");

	c.reject_key = 1;
	CHECK_EQ_INT(parse("[http]\nport = 1\nbad = 2\n", &c, err), -EINVAL);
	CHECK_EQ_STR(err, "test.conf:3: unknown key 'bad' in [http]; expected one of port, bind");
}

static void test_config_handles_unterminated_and_binary(void)
{
	struct collected c = {0};
	char err[256];
	/* No final newline, embedded NUL inside the given length. */
	const char t[] = {'k', '=', 'v', '\0', 'x'};
	CHECK_EQ_INT(base_config_parse(t, sizeof(t), "b.conf", collect, &c, err, sizeof(err)),
		     -EINVAL);
	CHECK_EQ_STR(err, "b.conf:1: NUL byte in value");
	CHECK_EQ_INT(base_config_parse("k = v", 5, "b.conf", collect, &c, err, sizeof(err)), 0);
}

static void test_iso8601(void)
{
	char buf[32];
	CHECK_EQ_STR(base_iso8601(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
	CHECK_EQ_STR(base_iso8601(1795441440123LL, buf, sizeof(buf)), "2026-11-23T13:44:00.123Z");
}

static atomic_int work_done;
static void work_fn(void *arg)
{
	(void)arg;
	atomic_fetch_add(&work_done, 1);
}

static void test_workq_runs_everything_before_free(void)
{
	struct base_workq *wq;
	REQUIRE(base_workq_alloc(&wq, 3, "test") == 0);
	for (int i = 0; i < 1000; i++)
		CHECK_EQ_INT(base_workq_push(wq, work_fn, NULL), 0);
	base_workq_free(wq);
	CHECK_EQ_INT(atomic_load(&work_done), 1000);
}

static void test_log_level_parse(void)
{
	enum base_log_level l;
	CHECK_EQ_INT(base_log_level_parse("warn", &l), 0);
	CHECK_EQ_INT(l, BASE_LOG_WARN);
	CHECK_EQ_INT(base_log_level_parse("loud", &l), -EINVAL);
}

int main(void)
{
	TEST_RUN(test_config_accepts_sections_comments_quotes);
	TEST_RUN(test_config_errors_name_file_and_line);
	TEST_RUN(test_config_handles_unterminated_and_binary);
	TEST_RUN(test_iso8601);
	TEST_RUN(test_workq_runs_everything_before_free);
	TEST_RUN(test_log_level_parse);
	TEST_MAIN_END();
}
