/*
 * fuzz_config.c: the config parser must accept or reject any bytes with a
 * message naming file and line, never read out of bounds.
 */
#include "base/base.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int accept_all(const struct base_config_item *it, char *err, size_t errsz, void *arg)
{
	(void)arg;
	/* Touch every string so that a missing terminator would be caught. */
	size_t n = strlen(it->section) + strlen(it->key) + strlen(it->value);
	if (n > 4000) {
		snprintf(err, errsz, "too long");
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	err[0] = '\0';
	int r = base_config_parse((const char *)data, size, "fuzz.conf", accept_all, NULL, err,
				  sizeof(err));
	if (r && strncmp(err, "fuzz.conf:", 10) != 0)
		__builtin_trap(); /* every error names the file and line */
	return 0;
}
