/*
 * fuzz_media.c: any bytes through the voice channel's pure media code
 * (src/voice/voice_media.c): RFC 4733 payloads, the DTMF detector fed a mix
 * of telephone-event packets and µ-law audio, G.711, and the phrases with
 * arbitrary languages, values and (small) buffers. It must never crash,
 * leak or read or write out of bounds, and a few properties are checked:
 * G.711 decode-encode is the identity (but µ-law's -0), a phrase is valid
 * UTF-8 of the returned length, and no more digits come back than asked.
 *
 * Input: a sequence of records, each starting with a tag byte:
 *   tag % 4 == 0: a telephone event: 4-byte RTP timestamp, 1-byte length
 *                 (0-15), that many payload bytes
 *   tag % 4 == 1: audio: 1-byte length L, then L*4 µ-law bytes (or what is
 *                 left), decoded and given to the detector; tag >> 2 is max
 *   tag % 4 == 2: a phrase: phrase, a, b (1 byte each), buffer size (0-80),
 *                 a language of up to 8 bytes (a length byte first)
 *   tag % 4 == 3: a clock jump of tag >> 2 times 50 ms
 * The clock advances 20 ms per record.
 */
#include "voice/voice_media.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		int k = p[i] < 0x80 ? 0 : (p[i] & 0xE0) == 0xC0 ? 1 : (p[i] & 0xF0) == 0xE0 ? 2
			: (p[i] & 0xF8) == 0xF0 ? 3 : -1;
		if (k < 0 || (size_t)k > n - i - 1)
			return false;
		i++;
		for (int j = 0; j < k; j++, i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
		}
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The whole input as one payload, too. */
	struct voice_te te;
	if (voice_te_parse(data, size, &te) == 0 && te.event < 16 && !te.digit)
		abort();

	for (int c = 0; c < 256; c++) {
		if (voice_lin2alaw(voice_alaw2lin((uint8_t)c)) != c ||
		    (c != 0x7F && voice_lin2ulaw(voice_ulaw2lin((uint8_t)c)) != c))
			abort();
	}

	struct voice_dtmf *d;
	if (voice_dtmf_alloc(&d))
		return 0;
	uint64_t now = 1000;
	size_t i = 0;
	int16_t pcm[1020];
	while (i < size) {
		uint8_t tag = data[i++];
		now += 20;
		switch (tag % 4) {
		case 0: {
			if (size - i < 5)
				goto done;
			uint32_t ts = (uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
				      (uint32_t)data[i + 2] << 8 | data[i + 3];
			size_t len = data[i + 4] % 16;
			i += 5;
			if (len > size - i)
				len = size - i;
			char dg = voice_dtmf_event(d, ts, data + i, len, now);
			if (dg && !strchr("0123456789*#ABCD", dg))
				abort();
			i += len;
			break;
		}
		case 1: {
			if (i >= size)
				goto done;
			size_t len = (size_t)data[i++] * 4;
			if (len > size - i)
				len = size - i;
			voice_g711_decode(false, data + i, pcm, len);
			/* the same bytes as A-law must decode without trouble */
			int16_t alaw[1020];
			voice_g711_decode(true, data + i, alaw, len);
			uint8_t enc[1020];
			voice_g711_encode(true, alaw, enc, len);
			if (memcmp(enc, data + i, len) != 0)
				abort();
			size_t max = tag >> 2;
			char out[64];
			size_t k = voice_dtmf_audio(d, pcm, len, now, out, max);
			if (k > max)
				abort();
			i += len;
			break;
		}
		case 2: {
			if (size - i < 5)
				goto done;
			enum voice_phrase ph = (enum voice_phrase)data[i];
			unsigned a = data[i + 1], b = (unsigned)data[i + 2] * 7;
			size_t bufsize = data[i + 3] % 81;
			size_t llen = data[i + 4] % 9;
			i += 5;
			if (llen > size - i)
				llen = size - i;
			char lang[9];
			memcpy(lang, data + i, llen);
			lang[llen] = '\0';
			i += llen;
			/* exactly bufsize bytes, so ASan sees any overrun */
			char *out = bufsize ? malloc(bufsize) : NULL;
			if (bufsize && !out)
				goto done;
			size_t n = voice_phrase_text(lang, ph, a, b, out, bufsize);
			if (bufsize == 0 ? n != 0
					 : (n >= bufsize || strlen(out) != n || !utf8_valid(out, n)))
				abort();
			free(out);
			break;
		}
		default:
			now += (uint64_t)(tag >> 2) * 50;
			break;
		}
	}
done:
	voice_dtmf_free(d);
	return 0;
}
