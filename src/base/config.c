/*
 * config.c: a strict INI-style parser for hotline.conf. It only splits the
 * text into (section, key, value, line); the caller decides which keys
 * exist, so that every error can name the file, the line and what was
 * expected. Input is untrusted (fuzzed by tests/fuzz/fuzz_config.c): it is
 * read with explicit lengths and never past len.
 */
#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define CFG_MAX_TOKEN 1024

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static int is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

/* Parse one line [p, end). Returns 0 or -EINVAL with err filled. */
static int parse_line(const char *p, const char *end, int lineno, char *section,
		      const char *filename, base_config_h *h, void *arg, char *err, size_t errsz)
{
	char key[CFG_MAX_TOKEN], value[CFG_MAX_TOKEN];
	size_t kn = 0, vn = 0;

	while (p < end && is_space(*p))
		p++;
	if (p == end || *p == '#' || *p == ';')
		return 0;

	if (*p == '[') {
		p++;
		while (p < end && is_space(*p))
			p++;
		while (p < end && is_key_char(*p)) {
			if (kn + 1 >= CFG_MAX_TOKEN)
				goto too_long;
			key[kn++] = *p++;
		}
		while (p < end && is_space(*p))
			p++;
		if (kn == 0 || p == end || *p != ']') {
			snprintf(err, errsz, "%s:%d: expected '[section]' with a name of letters, digits, '_', '-' or '.'",
				 filename, lineno);
			return -EINVAL;
		}
		p++;
		while (p < end && is_space(*p))
			p++;
		if (p != end && *p != '#' && *p != ';') {
			snprintf(err, errsz, "%s:%d: expected end of line after ']'", filename, lineno);
			return -EINVAL;
		}
		memcpy(section, key, kn);
		section[kn] = '\0';
		return 0;
	}

	while (p < end && is_key_char(*p)) {
		if (kn + 1 >= CFG_MAX_TOKEN)
			goto too_long;
		key[kn++] = *p++;
	}
	key[kn] = '\0';
	while (p < end && is_space(*p))
		p++;
	if (kn == 0 || p == end || *p != '=') {
		snprintf(err, errsz, "%s:%d: expected 'key = value', '[section]' or a comment",
			 filename, lineno);
		return -EINVAL;
	}
	p++;
	while (p < end && is_space(*p))
		p++;

	if (p < end && *p == '"') {
		p++;
		for (;;) {
			if (p == end) {
				snprintf(err, errsz, "%s:%d: expected a closing '\"'", filename, lineno);
				return -EINVAL;
			}
			char c = *p++;
			if (c == '"')
				break;
			if (c == '\\') {
				if (p == end || (*p != '"' && *p != '\\')) {
					snprintf(err, errsz, "%s:%d: expected \\\" or \\\\ after '\\' in a quoted value",
						 filename, lineno);
					return -EINVAL;
				}
				c = *p++;
			}
			if (c == '\0') {
				snprintf(err, errsz, "%s:%d: NUL byte in value", filename, lineno);
				return -EINVAL;
			}
			if (vn + 1 >= CFG_MAX_TOKEN)
				goto too_long;
			value[vn++] = c;
		}
		while (p < end && is_space(*p))
			p++;
		if (p != end && *p != '#' && *p != ';') {
			snprintf(err, errsz, "%s:%d: expected end of line after the quoted value",
				 filename, lineno);
			return -EINVAL;
		}
	} else {
		const char *vend = p;
		/* An unquoted value ends at a comment; trailing blanks are dropped. */
		while (vend < end && *vend != '#' && *vend != ';')
			vend++;
		while (vend > p && is_space(vend[-1]))
			vend--;
		for (; p < vend; p++) {
			if (*p == '\0') {
				snprintf(err, errsz, "%s:%d: NUL byte in value", filename, lineno);
				return -EINVAL;
			}
			if (vn + 1 >= CFG_MAX_TOKEN)
				goto too_long;
			value[vn++] = *p;
		}
	}
	value[vn] = '\0';

	struct base_config_item it = {.section = section, .key = key, .value = value, .line = lineno};
	char msg[512] = "";
	int r = h(&it, msg, sizeof(msg), arg);
	if (r) {
		snprintf(err, errsz, "%s:%d: %s", filename, lineno, msg[0] ? msg : "invalid setting");
		return r < 0 ? r : -EINVAL;
	}
	return 0;

too_long:
	snprintf(err, errsz, "%s:%d: expected a name or value shorter than %d bytes", filename,
		 lineno, CFG_MAX_TOKEN);
	return -EINVAL;
}

int base_config_parse(const char *text, size_t len, const char *filename, base_config_h *h,
		      void *arg, char *err, size_t errsz)
{
	char section[CFG_MAX_TOKEN] = "";
	const char *p = text, *end = text + len;
	int lineno = 1;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		int r = parse_line(p, le, lineno, section, filename, h, arg, err, errsz);
		if (r)
			return r;
		p = eol ? eol + 1 : end;
		lineno++;
	}
	return 0;
}
