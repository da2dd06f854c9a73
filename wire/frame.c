/*
 * Length-prefixed frames: 4 bytes big-endian length, then the payload.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "wire.h"

void
wire_framer_init(wire_framer_t *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void
wire_framer_free(wire_framer_t *f)
{
	free(f->buf);
	f->buf = NULL;
	f->hdr_have = f->have = f->len = 0;
}

int
wire_framer_feed(wire_framer_t *f, const uint8_t *data, size_t len,
    size_t *consumed, uint8_t **frame, size_t *frame_len)
{
	size_t off = 0;

	while (off < len) {
		if (f->hdr_have < 4) {
			size_t n = FF_MIN(4 - f->hdr_have, len - off);

			memcpy(f->hdr + f->hdr_have, data + off, n);
			f->hdr_have += n;
			off += n;
			if (f->hdr_have < 4)
				break;
			f->len = be32(f->hdr);
			/* the cap is checked before any allocation */
			if (f->len > f->max) {
				*consumed = off;
				return FF_ELIMIT;
			}
			if (f->len == 0) {
				*consumed = off;
				return FF_EPROTO;
			}
			if ((f->buf = malloc(f->len)) == NULL) {
				*consumed = off;
				return FF_ENOMEM;
			}
			f->have = 0;
		}
		{
			size_t n = FF_MIN(f->len - f->have, len - off);

			memcpy(f->buf + f->have, data + off, n);
			f->have += n;
			off += n;
		}
		if (f->have == f->len) {
			*frame = f->buf;
			*frame_len = f->len;
			f->buf = NULL;
			f->hdr_have = 0;
			f->have = f->len = 0;
			*consumed = off;
			return 1;
		}
	}
	*consumed = off;
	return 0;
}
