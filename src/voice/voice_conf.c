/*
 * voice_conf.c: the voice configuration files, parsed (core thread; the
 * text arrives from voice_watch.c). docs/VOICE.md "Numbers, menus, trunks".
 *
 *   DATA/voice_numbers   "NUMBER TARGET" per line; TARGET is a queue id,
 *                        queue:ID, menu:NAME or user:USERNAME
 *   DATA/voice_menus     [NAME] sections of "key = value" lines: language,
 *                        greeting, greeting_file, timeout, retries, and one
 *                        line per digit ("1 = queue:2")
 *   DATA/voice_trunks    an IP address per line (calls from it need no
 *                        digest), or "outbound IP[:PORT] [USER PASSWORD]"
 *                        (where outbound calls and callbacks go, and the
 *                        digest credentials the provider may ask for)
 *
 * A bad line is logged as FILE:LINE and skipped; the rest of the file still
 * applies, so a typo never takes every number down.
 */
#include "voice/voice_int.h"
#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "voice"
#define NUMBERS_MAX 4096
#define MENUS_MAX 256
#define TRUNKS_MAX 256

/* Calls h(line, lineno) for each non-empty, non-comment line (trimmed). */
static void lines(char *text, void (*h)(struct voice *v, char *line, unsigned no), struct voice *v)
{
	unsigned no = 0;
	char *l = text;
	while (l) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = 0;
		no++;
		char *hash = strchr(l, '#');
		if (hash)
			*hash = 0;
		while (*l == ' ' || *l == '\t')
			l++;
		size_t e = strlen(l);
		while (e && (l[e - 1] == ' ' || l[e - 1] == '\t' || l[e - 1] == '\r'))
			l[--e] = 0;
		if (*l)
			h(v, l, no);
		l = nl ? nl + 1 : NULL;
	}
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) >= 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.' || *s == '+'))
			return false;
	return true;
}

int voice_target_parse(const char *s, struct voice_target *t)
{
	memset(t, 0, sizeof(*t));
	const char *id = s;
	if (!strncmp(s, "queue:", 6))
		id = s + 6;
	else if (!strncmp(s, "menu:", 5) || !strncmp(s, "user:", 5)) {
		if (!name_ok(s + 5))
			return -EINVAL;
		t->kind = s[0] == 'm' ? VOICE_T_MENU : VOICE_T_USER;
		snprintf(t->name, sizeof(t->name), "%s", s + 5);
		return 0;
	}
	char *end = NULL;
	errno = 0;
	unsigned long q = strtoul(id, &end, 10);
	if (errno || end == id || *end || !q || q > UINT32_MAX || *id == '-' || *id == '+')
		return -EINVAL;
	t->kind = VOICE_T_QUEUE;
	t->queue = (uint32_t)q;
	return 0;
}

/* ---- numbers ----------------------------------------------------------------- */

static void number_line(struct voice *v, char *l, unsigned no)
{
	char num[40], target[80], extra[2];
	struct voice_target t;
	int n = sscanf(l, "%39s %79s %1s", num, target, extra);
	if (n != 2 || voice_target_parse(target, &t) || v->n_numbers >= NUMBERS_MAX) {
		LOG_WARN(MOD, "%s:%u: line skipped (expected \"NUMBER TARGET\": a queue id, "
			 "queue:ID, menu:NAME or user:USERNAME)", v->numbers_path, no);
		return;
	}
	struct voice_number *nn = realloc(v->numbers_tab, (v->n_numbers + 1) * sizeof(*nn));
	if (!nn)
		return;
	v->numbers_tab = nn;
	snprintf(nn[v->n_numbers].num, sizeof(nn[0].num), "%s", num);
	nn[v->n_numbers].t = t;
	v->n_numbers++;
}

void voice_call_set_numbers(struct voice *v, const char *text)
{
	free(v->numbers_tab);
	v->numbers_tab = NULL;
	v->n_numbers = 0;
	char *t = text ? strdup(text) : NULL;
	if (t)
		lines(t, number_line, v);
	free(t);
	LOG_INFO(MOD, "%u service number(s) from %s", v->n_numbers,
		 v->numbers_path ? v->numbers_path : "(text)");
}

const struct voice_target *voice_number_target(const struct voice *v, const struct pl *num)
{
	for (unsigned i = 0; i < v->n_numbers; i++)
		if (!pl_strcmp(num, v->numbers_tab[i].num))
			return &v->numbers_tab[i].t;
	return NULL;
}

/* ---- menus ------------------------------------------------------------------- */

static void menus_clear(struct voice *v)
{
	for (unsigned i = 0; i < v->n_menus; i++) {
		free(v->menus_tab[i].greeting);
		free(v->menus_tab[i].greeting_file);
	}
	free(v->menus_tab);
	v->menus_tab = NULL;
	v->n_menus = 0;
}

static void menu_bad(struct voice *v, unsigned no, const char *what)
{
	LOG_WARN(MOD, "%s:%u: line skipped (expected %s)", v->menus_path ? v->menus_path : "menus", no,
		 what);
}

static void menu_line(struct voice *v, char *l, unsigned no)
{
	size_t n = strlen(l);
	if (l[0] == '[') {
		if (l[n - 1] != ']' || n < 3) {
			menu_bad(v, no, "[NAME]");
			return;
		}
		l[n - 1] = 0;
		if (!name_ok(l + 1) || voice_menu_find(v, l + 1) || v->n_menus >= MENUS_MAX) {
			menu_bad(v, no, "[NAME] with a new name of letters, digits, _ - . +");
			return;
		}
		struct voice_menu *m = realloc(v->menus_tab, (v->n_menus + 1) * sizeof(*m));
		if (!m)
			return;
		v->menus_tab = m;
		m = &m[v->n_menus++];
		memset(m, 0, sizeof(*m));
		snprintf(m->name, sizeof(m->name), "%s", l + 1);
		snprintf(m->lang, sizeof(m->lang), "en");
		m->timeout_s = 5;
		m->retries = 2;
		return;
	}
	if (!v->n_menus) {
		menu_bad(v, no, "a [NAME] section first");
		return;
	}
	struct voice_menu *m = &v->menus_tab[v->n_menus - 1];
	char *eq = strchr(l, '=');
	if (!eq) {
		menu_bad(v, no, "KEY = VALUE");
		return;
	}
	char *k = l, *val = eq + 1;
	*eq = 0;
	size_t kn = strlen(k);
	while (kn && (k[kn - 1] == ' ' || k[kn - 1] == '\t'))
		k[--kn] = 0;
	while (*val == ' ' || *val == '\t')
		val++;
	const char *kp = kn == 1 ? strchr(VOICE_MENU_KEYS, *k) : NULL;
	if (kp && *k) {
		if (voice_target_parse(val, &m->key[kp - VOICE_MENU_KEYS]))
			menu_bad(v, no, "DIGIT = queue:ID, menu:NAME or user:USERNAME");
	} else if (!strcmp(k, "language")) {
		if (strcmp(val, "en") && strcmp(val, "sv") && strcmp(val, "de") && strcmp(val, "hu") &&
		    strcmp(val, "lt"))
			menu_bad(v, no, "language = en, sv, de, hu or lt");
		else
			snprintf(m->lang, sizeof(m->lang), "%s", val);
	} else if (!strcmp(k, "greeting")) {
		free(m->greeting);
		m->greeting = *val && strlen(val) < 1000 ? strdup(val) : NULL;
	} else if (!strcmp(k, "greeting_file")) {
		free(m->greeting_file);
		m->greeting_file = NULL;
		if (!*val || strstr(val, "..") || strlen(val) > 200)
			menu_bad(v, no, "greeting_file = a WAV name under DATA/prompts, without ..");
		else
			m->greeting_file = strdup(val);
	} else if (!strcmp(k, "timeout") || !strcmp(k, "retries")) {
		char *end = NULL;
		long x = strtol(val, &end, 10);
		bool t = k[0] == 't';
		if (end == val || *end || x < (t ? 1 : 0) || x > (t ? 60 : 10))
			menu_bad(v, no, t ? "timeout = 1..60 (seconds)" : "retries = 0..10");
		else if (t)
			m->timeout_s = (unsigned)x;
		else
			m->retries = (unsigned)x;
	} else {
		menu_bad(v, no, "a digit, language, greeting, greeting_file, timeout or retries");
	}
}

void voice_call_set_menus(struct voice *v, const char *text)
{
	menus_clear(v);
	char *t = text ? strdup(text) : NULL;
	if (t)
		lines(t, menu_line, v);
	free(t);
	LOG_INFO(MOD, "%u menu(s) from %s", v->n_menus, v->menus_path ? v->menus_path : "(text)");
}

const struct voice_menu *voice_menu_find(const struct voice *v, const char *name)
{
	for (unsigned i = 0; i < v->n_menus; i++)
		if (!strcmp(v->menus_tab[i].name, name))
			return &v->menus_tab[i];
	return NULL;
}

/* ---- trunks ------------------------------------------------------------------ */

static void trunk_line(struct voice *v, char *l, unsigned no)
{
	struct sa sa;
	if (!strncmp(l, "outbound", 8) && (l[8] == ' ' || l[8] == '\t')) {
		char a[80], user[64] = "", pass[128] = "", extra[2];
		int n = sscanf(l + 9, "%79s %63s %127s %1s", a, user, pass, extra);
		if ((n != 1 && n != 3) || (sa_decode(&sa, a, strlen(a)) && sa_set_str(&sa, a, 5060))) {
			LOG_WARN(MOD, "%s:%u: line skipped (expected \"outbound IP[:PORT] [USER PASSWORD]\")",
				 v->trunks_path, no);
			return;
		}
		if (!sa_port(&sa))
			sa_set_port(&sa, 5060);
		v->out_trunk = sa;
		v->has_out_trunk = true;
		snprintf(v->out_user, sizeof(v->out_user), "%s", user);
		snprintf(v->out_pass, sizeof(v->out_pass), "%s", pass);
		return;
	}
	if (v->n_trunks >= TRUNKS_MAX || sa_set_str(&sa, l, 0)) {
		LOG_WARN(MOD, "%s:%u: line skipped (expected an IP address or \"outbound IP[:PORT]\")",
			 v->trunks_path, no);
		return;
	}
	v->trunks_tab[v->n_trunks++] = sa;
}

void voice_call_set_trunks(struct voice *v, const char *text)
{
	v->n_trunks = 0;
	v->has_out_trunk = false;
	v->out_user[0] = v->out_pass[0] = 0;
	char *t = text ? strdup(text) : NULL;
	if (t)
		lines(t, trunk_line, v);
	free(t);
	LOG_INFO(MOD, "%u trunk address(es)%s from %s", v->n_trunks,
		 v->has_out_trunk ? " and an outbound trunk" : "",
		 v->trunks_path ? v->trunks_path : "(text)");
}

bool voice_is_trunk(const struct voice *v, const struct sa *src)
{
	for (unsigned i = 0; i < v->n_trunks; i++)
		if (sa_cmp(&v->trunks_tab[i], src, SA_ADDR))
			return true;
	return false;
}

void voice_conf_free(struct voice *v)
{
	free(v->numbers_tab);
	v->numbers_tab = NULL;
	v->n_numbers = 0;
	menus_clear(v);
}
