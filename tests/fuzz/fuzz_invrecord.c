/*
 * libFuzzer target: the controller's inventory records as read back from
 * LMDB (inv_node_decode, inv_token_decode), which must survive a damaged
 * database. Checked, else abort: a record that decodes has a valid name,
 * a parsable address, at most WIRE_LABELS_MAX valid labels, and encodes
 * and decodes again to the same struct.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "controller/inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	inv_node_t *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	inv_token_t ta, tb;
	char *buf, host[WIRE_ADDR_MAX + 1];
	size_t len;
	uint16_t cp, qp;

	if (a == NULL || b == NULL)
		goto out;
	if (inv_node_decode(data, size, a) == 0) {
		if (!wire_name_ok(a->name) || a->nlabels > WIRE_LABELS_MAX ||
		    wire_node_addr_parse(a->address, host, sizeof(host), &cp,
		    &qp) != 0)
			abort();
		for (size_t i = 0; i < a->nlabels; i++)
			if (!wire_label_ok(a->labels[i]))
				abort();
		if (inv_node_encode(a, &buf, &len) == 0) {
			if (inv_node_decode(buf, len, b) != 0 ||
			    memcmp(a, b, sizeof(*a)) != 0)
				abort();
			free(buf);
		}
	}
	if (inv_token_decode(data, size, &ta) == 0) {
		if (!wire_name_ok(ta.name))
			abort();
		if (inv_token_encode(&ta, &buf, &len) == 0) {
			if (inv_token_decode(buf, len, &tb) != 0 ||
			    memcmp(&ta, &tb, sizeof(ta)) != 0)
				abort();
			free(buf);
		}
	}
out:
	free(a);
	free(b);
	return 0;
}
