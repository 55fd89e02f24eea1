/*
 * fuzz_chat.c: the web chat's own parsers: attachment type sniffing, the
 * file-name cleaner (percent-decoding, path and quote stripping, UTF-8
 * cut-back) and the widget's start/message frame validation.
 */
#include "api/api.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	api_chat_fuzz(data, size);
	return 0;
}
