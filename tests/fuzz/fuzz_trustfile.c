/*
 * libFuzzer target: the node's controller pin file, STATE/controller.pin
 * (trust_state_parse). Checked, else abort: on success the fingerprint is
 * "" or canonical and the joined hash "" or 64 lowercase hex digits; on
 * failure nothing is returned and the bad line lies within the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "node/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char fp[WIRE_FP_LEN], canon[WIRE_FP_LEN], joined[TRUST_JOINED_LEN];
	size_t lines = 1;
	int bad;

	for (size_t i = 0; i < size; i++)
		if (data[i] == '\n')
			lines++;
	if (trust_state_parse((const char *)data, size, fp, joined, &bad) !=
	    0) {
		if (fp[0] != '\0' || joined[0] != '\0' || bad < 0 ||
		    (size_t)bad > lines)
			abort();
		return 0;
	}
	if (fp[0] != '\0' && (wire_fp_parse(fp, canon) != 0 ||
	    strcmp(fp, canon) != 0))
		abort();
	if (joined[0] != '\0' && (strlen(joined) != TRUST_JOINED_LEN - 1 ||
	    strspn(joined, "0123456789abcdef") != TRUST_JOINED_LEN - 1))
		abort();
	return 0;
}
