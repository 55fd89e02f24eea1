/*
 * main.c: the `hotline` command line. Parses arguments and the optional
 * config file into core_opts and hands over to the core (serve), the user
 * administration (user add|passwd) or the workforce calculator (erlang).
 *
 * Precedence: built-in defaults < config file < command-line flags.
 */
#include "api/api.h"
#include "base/base.h"
#include "core/core.h"
#include "store/store.h"
#include "wfm/wfm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct settings {
	struct core_opts core;
	char data[1024], web[1024], store[1024], bind[128];
	enum base_log_level log_level;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hotline serve [--config FILE] [--data DIR] [--http-port N] [--sip-port N]\n"
		"                     [--store URL] [--bind ADDR] [--web DIR] [--log-level LEVEL]\n"
		"       hotline user add NAME ROLE     (password from HOTLINE_PASSWORD or stdin)\n"
		"       hotline user passwd NAME       (password from HOTLINE_PASSWORD or stdin)\n"
		"       hotline erlang b|c|a ...       (staffing calculator; --help for options)\n"
		"       hotline simulate --scenario FILE.json [--json] [--replications N] [--seed N]\n"
		"       hotline version\n"
		"\n"
		"Defaults: HTTP port 8080, SIP port 5060 (0 turns SIP off), data in ./var,\n"
		"store sqlite:<data>/hotline.db (or postgresql://...), UI from the web/ folder.\n"
		"Config file (INI): [server] data, web, log_level; [http] port, bind;\n"
		"[sip] port; [store] url.\n");
}

static int parse_port(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 65535)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

static int config_item(const struct base_config_item *it, char *err, size_t errsz, void *arg)
{
	struct settings *s = arg;
	const char *sec = it->section, *k = it->key, *v = it->value;
#define IS(a, b) (strcmp(sec, a) == 0 && strcmp(k, b) == 0)
	if (IS("server", "data"))
		snprintf(s->data, sizeof(s->data), "%s", v);
	else if (IS("server", "web"))
		snprintf(s->web, sizeof(s->web), "%s", v);
	else if (IS("server", "log_level")) {
		if (base_log_level_parse(v, &s->log_level)) {
			snprintf(err, errsz, "log_level: expected debug, info, warn or error, not '%s'", v);
			return -EINVAL;
		}
	} else if (IS("http", "port") || IS("sip", "port")) {
		int *dst = sec[0] == 'h' ? &s->core.http_port : &s->core.sip_port;
		if (parse_port(v, dst)) {
			snprintf(err, errsz, "port: expected a number from 0 to 65535, not '%s'", v);
			return -EINVAL;
		}
	} else if (IS("http", "bind"))
		snprintf(s->bind, sizeof(s->bind), "%s", v);
	else if (IS("store", "url"))
		snprintf(s->store, sizeof(s->store), "%s", v);
	else {
		if (strcmp(sec, "server") && strcmp(sec, "http") && strcmp(sec, "sip") && strcmp(sec, "store"))
			snprintf(err, errsz, "unknown section [%s]; expected [server], [http], [sip] or [store]", sec);
		else
			snprintf(err, errsz, "unknown key '%s' in [%s]", k, sec);
		return -EINVAL;
	}
#undef IS
	return 0;
}

static int load_config(const char *path, struct settings *s)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "hotline: %s: cannot open the config file: %s\n", path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t cap = 0, len = 0, n;
	char chunk[4096];
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n > 1024 * 1024) {
			fprintf(stderr, "hotline: %s: the config file is larger than 1 MiB\n", path);
			free(text);
			fclose(f);
			return -1;
		}
		if (len + n > cap) {
			cap = (len + n) * 2;
			char *nt = realloc(text, cap);
			if (!nt) {
				free(text);
				fclose(f);
				return -1;
			}
			text = nt;
		}
		memcpy(text + len, chunk, n);
		len += n;
	}
	fclose(f);
	char err[1400];
	int r = base_config_parse(text ? text : "", len, path, config_item, s, err, sizeof(err));
	free(text);
	if (r) {
		fprintf(stderr, "hotline: %s\n", err);
		return -1;
	}
	return 0;
}

static void default_web_dir(char *out, size_t size)
{
	/* build/hotline -> <source>/web, so `make run` works from any directory */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char cand[PATH_MAX + 32];
			int k = snprintf(cand, sizeof(cand), "%s/../web", exe);
			if (k > 0 && (size_t)k < size && strlen(cand) + 12 < sizeof(cand)) {
				char index[PATH_MAX + 64];
				snprintf(index, sizeof(index), "%s/index.html", cand);
				if (stat(index, &st) == 0) {
					memcpy(out, cand, (size_t)k + 1);
					return;
				}
			}
		}
	}
	snprintf(out, size, "web");
}

static int cmd_serve(int argc, char **argv)
{
	struct settings s;
	memset(&s, 0, sizeof(s));
	s.core.http_port = 8080;
	s.core.sip_port = 5060;
	s.log_level = BASE_LOG_INFO;
	snprintf(s.data, sizeof(s.data), "var");

	/* The config file first, so that flags override it. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "hotline: --config needs a FILE\n");
				return 2;
			}
			if (load_config(argv[i + 1], &s))
				return 2;
		}
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i];
		if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "hotline: unknown or incomplete option '%s'\n", f);
			usage(stderr);
			return 2;
		}
		const char *v = argv[++i];
		if (strcmp(f, "--config") == 0)
			continue;
		else if (strcmp(f, "--data") == 0)
			snprintf(s.data, sizeof(s.data), "%s", v);
		else if (strcmp(f, "--web") == 0)
			snprintf(s.web, sizeof(s.web), "%s", v);
		else if (strcmp(f, "--store") == 0)
			snprintf(s.store, sizeof(s.store), "%s", v);
		else if (strcmp(f, "--bind") == 0)
			snprintf(s.bind, sizeof(s.bind), "%s", v);
		else if (strcmp(f, "--http-port") == 0 || strcmp(f, "--sip-port") == 0) {
			int *dst = f[2] == 'h' ? &s.core.http_port : &s.core.sip_port;
			if (parse_port(v, dst)) {
				fprintf(stderr, "hotline: %s: expected a number from 0 to 65535, not '%s'\n", f, v);
				return 2;
			}
		} else if (strcmp(f, "--log-level") == 0) {
			if (base_log_level_parse(v, &s.log_level)) {
				fprintf(stderr, "hotline: --log-level: expected debug, info, warn or error\n");
				return 2;
			}
		} else {
			fprintf(stderr, "hotline: unknown option '%s'\n", f);
			usage(stderr);
			return 2;
		}
	}
	if (!s.web[0])
		default_web_dir(s.web, sizeof(s.web));
	base_log_set_level(s.log_level);
	s.core.data_dir = s.data;
	s.core.web_dir = s.web;
	s.core.store_url = s.store[0] ? s.store : NULL;
	s.core.bind = s.bind[0] ? s.bind : NULL;
	return core_run(&s.core);
}

static int read_password(char *buf, size_t size)
{
	const char *env = getenv("HOTLINE_PASSWORD");
	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return 0;
	}
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "password: ");
	if (!fgets(buf, (int)size, stdin))
		return -1;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static int cmd_user(int argc, char **argv)
{
	const char *data = "var", *store_url = NULL;
	int pos = 0;
	const char *args[3] = {0};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			data = argv[++i];
		else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
			store_url = argv[++i];
		else if (pos < 3)
			args[pos++] = argv[i];
		else
			pos++;
	}
	bool add = pos == 3 && strcmp(args[0], "add") == 0;
	bool passwd = pos == 2 && strcmp(args[0], "passwd") == 0;
	if (!add && !passwd) {
		usage(stderr);
		return 2;
	}
	char pw[300];
	if (read_password(pw, sizeof(pw))) {
		fprintf(stderr, "hotline: no password given (HOTLINE_PASSWORD or stdin)\n");
		return 2;
	}
	struct core_opts co = {.data_dir = data, .store_url = store_url};
	struct store *st;
	if (core_open_store(&co, &st))
		return 1;
	int r = add ? api_user_add(st, args[1], args[2], pw) : api_user_passwd(st, args[1], pw);
	store_close(st);
	if (r == -EEXIST)
		fprintf(stderr, "hotline: user '%s' exists already\n", args[1]);
	else if (r == -ENOENT)
		fprintf(stderr, "hotline: no user '%s'\n", args[1]);
	else if (r == -EINVAL)
		fprintf(stderr, "hotline: invalid user: username 1-64 of a-z 0-9 . _ -, role admin|supervisor|agent, password 8-256 characters\n");
	else if (r)
		fprintf(stderr, "hotline: failed (%d)\n", r);
	else
		printf("%s user '%s'\n", add ? "created" : "changed the password of", args[1]);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "user") == 0)
		return cmd_user(argc - 1, argv + 1);
	if (strcmp(cmd, "erlang") == 0)
		return wfm_cli_erlang(argc - 1, argv + 1);
	if (strcmp(cmd, "simulate") == 0)
		return wfm_cli_simulate(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("hotline %s\n", HL_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "hotline: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
