/*
 * fuzz_body.c: request-body validation for every resource, create and
 * update. The first byte picks the resource and mode; the rest is the
 * body. Any input must end in a status of 0, 400 or 422 with a detail.
 */
#include "api/api.h"

#include <stdint.h>
#include <string.h>

static const char *const resources[] = {"users", "skills", "teams", "queues", "agents", "customers"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *res = resources[data[0] % 6];
	int create = (data[0] / 6) % 2;
	char detail[512];
	int status = api_validate_body(res, (const char *)data + 1, size - 1, create, detail,
				       sizeof(detail));
	if (status != 0 && status != 400 && status != 422)
		__builtin_trap();
	if (status && !detail[0])
		__builtin_trap(); /* every refusal says why */
	return 0;
}
