/*
 * Validate the structure of untrusted msgpack bytes before handing them to
 * msgpack-c, whose unpacker allocates memory for the element count an
 * array or map header declares before it has seen the elements.
 */
#ifndef FF_MPCHECK_H
#define FF_MPCHECK_H

#include <stddef.h>
#include <stdint.h>

/*
 * Walk exactly one msgpack object at buf[0..len). It is accepted when
 * every length fits in the bytes that remain, every declared element count
 * could fit (at least one byte per element), nesting is at most max_depth
 * and the total number of objects is at most max_objects. On success
 * returns 0 and sets *used to the object's size in bytes (which may be
 * less than len). Returns FF_ETRUNC when the bytes end early, FF_EPROTO
 * for reserved type bytes, FF_ELIMIT when depth or object count is
 * exceeded.
 */
int mp_check(const uint8_t *buf, size_t len, unsigned max_depth,
    size_t max_objects, size_t *used);

#endif
