/*
 * fuzz_tz.c: the TZif parser behind business hours (src/base/tz.c). Any
 * bytes must parse or be refused with -EBADMSG/-ENOMEM, never read past
 * the buffer; a parsed zone must answer offsets within the 167 hours RFC 8536 allows.
 */
#include "base/base.h"

#include <errno.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct base_tz *z = NULL;
	int r = base_tz_parse(data, size, &z);
	if (r == 0) {
		static const int64_t ts[] = {INT64_MIN / 2, -2208988800LL, 0, 1700000000LL, 4102444800LL,
					     7258118400LL, INT64_MAX / 2};
		for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
			int32_t off = base_tz_offset(z, ts[i]);
			if (off < -168 * 3600 || off > 168 * 3600) /* RFC 8536 v3 footers: |hh| <= 167 */
				__builtin_trap();
		}
		base_tz_free(z);
	} else if (r != -EBADMSG && r != -ENOMEM) {
		__builtin_trap();
	}
	return 0;
}
