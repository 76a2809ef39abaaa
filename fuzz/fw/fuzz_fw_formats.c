/* fuzz_fw_formats: libFuzzer harness for the firmware store's parsers
 * (src/controller/fw/fw_format.c): manifest, update package, golden set,
 * slot pointer, sealed secret. The first byte picks the parser, so one
 * corpus covers all five; every accepted input must re-encode (where an
 * encoder exists) to exactly the bytes parsed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controller/fw/fw_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fw_package pkg;
	struct fw_golden g;
	struct fw_pointer p;
	struct fw_secret s;
	uint8_t out[1024];
	size_t n;
	char err[256];

	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		if (!fw_manifest_parse(data + 1, size - 1, &pkg.m, err, sizeof(err))) {
			if (pkg.m.body_len + 4 + FW_ED25519_SIG_LEN != size - 1 ||
			    pkg.m.n_images < 1 || pkg.m.n_images > FW_MAX_IMAGES)
				abort();
			for (unsigned i = 0; i < pkg.m.n_images; i++)
				if (strlen(pkg.m.img[i].name) < 1 || pkg.m.img[i].name[0] == '.' ||
				    strchr(pkg.m.img[i].name, '/'))
					abort();
		}
		break;
	case 1:
		if (!fw_package_parse(data + 1, size - 1, &pkg, err, sizeof(err)))
			for (unsigned i = 0; i < pkg.m.n_images; i++)
				if (pkg.image[i] < data || pkg.image[i] + pkg.m.img[i].size > data + size)
					abort();
		break;
	case 2:
		if (!fw_golden_parse(data + 1, size - 1, &g, err, sizeof(err))) {
			if (fw_golden_encode(&g, out, sizeof(out), &n) || n != size - 1 ||
			    memcmp(out, data + 1, n))
				abort();
		}
		break;
	case 3:
		if (!fw_pointer_parse(data + 1, size - 1, &p, err, sizeof(err))) {
			fw_pointer_encode(&p, out);
			if (memcmp(out, data + 1, FW_POINTER_LEN))
				abort();
		}
		break;
	case 4:
		if (!fw_secret_parse(data + 1, size - 1, &s)) {
			fw_secret_encode(&s, out);
			if (memcmp(out, data + 1, FW_SECRET_LEN))
				abort();
		}
		break;
	}
	return 0;
}
