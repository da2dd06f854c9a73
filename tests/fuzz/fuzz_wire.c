/*
 * libFuzzer target: the wire frame reader and message decoder, as a peer
 * on 2210/4210 would drive them. The input is a byte stream cut into
 * chunks of varying size (taken from the input itself); every complete
 * frame is decoded and its fields read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
touch_fields(const msgpack_object *body)
{
	static const char *keys[] = { "proto_min", "proto_max", "name",
	    "time_ms", "code", "msg", "qid", "part", "more", "t1" };
	char buf[64];

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		uint64_t u;
		int64_t s;
		int b;
		const char *str;
		const uint8_t *bin;
		size_t len;

		(void)wire_get_u64(body, keys[i], &u);
		(void)wire_get_i64(body, keys[i], &s);
		(void)wire_get_bool(body, keys[i], &b);
		(void)wire_get_str(body, keys[i], &str, &len);
		(void)wire_get_bin(body, keys[i], &bin, &len);
		(void)wire_get_strbuf(body, keys[i], buf, sizeof(buf));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wire_framer_t f;
	size_t off = 0;
	unsigned step = 1;

	/* a small cap so the over-cap path is reachable */
	wire_framer_init(&f, 4096);
	while (off < size) {
		size_t chunk = size - off < step ? size - off : step;
		size_t pos = 0;

		while (pos < chunk) {
			uint8_t *frame;
			size_t used, flen;
			int rc = wire_framer_feed(&f, data + off + pos,
			    chunk - pos, &used, &frame, &flen);

			pos += used;
			if (rc < 0) {
				wire_framer_free(&f);
				return 0;	/* the connection would close */
			}
			if (rc == 1) {
				wire_msg_t m;

				if (wire_msg_decode(frame, flen, &m) == 0) {
					(void)wire_type_name(m.type);
					touch_fields(&m.body);
					wire_msg_free(&m);
				}
				free(frame);
			}
			if (rc == 0)
				break;
		}
		off += chunk;
		step = step * 7 % 61 + 1;
	}
	wire_framer_free(&f);
	return 0;
}
