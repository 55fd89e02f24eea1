/*
 * fuzz_voiceconf.c: any bytes as the voice configuration files
 * (src/voice/voice_conf.c): DATA/voice_numbers, DATA/voice_menus and
 * DATA/voice_trunks, and as one target ("queue:12", "menu:NAME", ...). The
 * first byte picks the parser. Then every number's target is looked up
 * again and every menu found by name, so what the parser stored is read
 * back. It must never crash, leak or read out of bounds.
 */
#include "voice/voice_int.h"
#include "base/base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct voice *v;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!v) {
		base_log_set_level(BASE_LOG_ERROR);
		if (libre_init() || voice_alloc_detached(&v, NULL))
			abort();
	}
	if (!size || size > 65536)
		return 0;
	char *text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1); /* the file's text: NUL-terminated */
	text[size - 1] = 0;
	struct voice_target t;
	switch (data[0] % 4) {
	case 0:
		voice_call_set_numbers(v, text);
		break;
	case 1:
		voice_call_set_menus(v, text);
		break;
	case 2:
		voice_call_set_trunks(v, text);
		break;
	default:
		(void)voice_target_parse(text, &t);
		break;
	}
	for (unsigned i = 0; i < v->n_numbers; i++) {
		struct pl num;
		pl_set_str(&num, v->numbers_tab[i].num);
		if (!voice_number_target(v, &num))
			abort(); /* a stored number is found again */
	}
	for (unsigned i = 0; i < v->n_menus; i++)
		if (voice_menu_find(v, v->menus_tab[i].name) != &v->menus_tab[i])
			abort(); /* names are unique */
	free(text);
	return 0;
}
