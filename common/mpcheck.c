#include "err.h"
#include "mpcheck.h"
#include "util.h"

/*
 * Iterative walk: `pending` counts the objects still to read at each
 * nesting level, so hostile nesting costs no C stack.
 */
int
mp_check(const uint8_t *buf, size_t len, unsigned max_depth,
    size_t max_objects, size_t *used)
{
	uint64_t pending[64];
	unsigned depth = 0;
	size_t off = 0, objects = 0;

	if (max_depth > 63)
		max_depth = 63;
	pending[0] = 1;
	for (;;) {
		uint8_t t;
		uint64_t skip = 0, count = 0;

		while (pending[depth] == 0) {
			if (depth == 0) {
				*used = off;
				return 0;
			}
			depth--;
		}
		pending[depth]--;
		if (++objects > max_objects)
			return FF_ELIMIT;
		if (off >= len)
			return FF_ETRUNC;
		t = buf[off++];

		if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 ||
		    t == 0xc3) {
			continue;	/* fixint, nil, bool */
		} else if (t >= 0xa0 && t <= 0xbf) {
			skip = t & 0x1f;	/* fixstr */
		} else if (t >= 0x90 && t <= 0x9f) {
			count = t & 0x0f;	/* fixarray */
		} else if (t >= 0x80 && t <= 0x8f) {
			count = (uint64_t)(t & 0x0f) * 2;	/* fixmap */
		} else {
			size_t n;

			switch (t) {
			case 0xc4: case 0xd9:	/* bin8, str8 */
				n = 1;
				break;
			case 0xc5: case 0xda:	/* bin16, str16 */
				n = 2;
				break;
			case 0xc6: case 0xdb:	/* bin32, str32 */
				n = 4;
				break;
			case 0xcc: case 0xd0:
				skip = 1;
				n = 0;
				break;
			case 0xcd: case 0xd1:
				skip = 2;
				n = 0;
				break;
			case 0xca: case 0xce: case 0xd2:
				skip = 4;
				n = 0;
				break;
			case 0xcb: case 0xcf: case 0xd3:
				skip = 8;
				n = 0;
				break;
			case 0xd4: skip = 2; n = 0; break;	/* fixext1 */
			case 0xd5: skip = 3; n = 0; break;
			case 0xd6: skip = 5; n = 0; break;
			case 0xd7: skip = 9; n = 0; break;
			case 0xd8: skip = 17; n = 0; break;
			case 0xc7: case 0xc8: case 0xc9: {	/* ext */
				size_t ln = t == 0xc7 ? 1 : t == 0xc8 ? 2 : 4;

				if (len - off < ln)
					return FF_ETRUNC;
				skip = beN(buf + off, ln) + 1;	/* + type */
				off += ln;
				n = 0;
				break;
			}
			case 0xdc: case 0xdd: {		/* array16/32 */
				size_t ln = t == 0xdc ? 2 : 4;

				if (len - off < ln)
					return FF_ETRUNC;
				count = beN(buf + off, ln);
				off += ln;
				n = 0;
				goto container;
			}
			case 0xde: case 0xdf: {		/* map16/32 */
				size_t ln = t == 0xde ? 2 : 4;

				if (len - off < ln)
					return FF_ETRUNC;
				count = beN(buf + off, ln) * 2;
				off += ln;
				n = 0;
				goto container;
			}
			default:
				return FF_EPROTO;	/* 0xc1: never used */
			}
			if (n > 0) {
				if (len - off < n)
					return FF_ETRUNC;
				skip = beN(buf + off, n);
				off += n;
			}
		}
		if (count > 0)
			goto container;
		if (len - off < skip)
			return FF_ETRUNC;
		off += (size_t)skip;
		continue;
container:
		if (count == 0)
			continue;
		/* each element needs at least one byte */
		if (count > len - off)
			return FF_ETRUNC;
		if (depth + 1 > max_depth)
			return FF_ELIMIT;
		pending[++depth] = count;
	}
}
