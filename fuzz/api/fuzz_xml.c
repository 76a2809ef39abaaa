/* fuzz_xml: the XML writer's escaping (src/api/xml.c) — whatever bytes a
 * value holds, the output element contains no markup of its own and is
 * valid UTF-8 with only characters XML 1.0 allows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"

static void check(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			     (c & 0xf8) == 0xf0 ? 4 : 0;

		if (!len || i + len > n)
			abort();
		if (c < 0x20 && c != '\t' && c != '\n')
			abort();	/* CR must have become &#13; */
		for (size_t j = 1; j < len; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				abort();
		i += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), *out;
	size_t len;
	struct xml x;

	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	xml_init(&x);
	xml_text(&x, "V", in);
	if (xml_finish(&x, &out, &len) == 0) {
		const char *body = out + 3, *end = out + len - 4;

		if (memcmp(out, "<V>", 3) || strcmp(end, "</V>"))
			abort();
		for (const char *p = body; p < end; p++)
			if (*p == '<' || *p == '>' || *p == '"' || *p == '\'')
				abort();
		check((const uint8_t *)out, len);
		free(out);
	}
	free(in);
	return 0;
}
