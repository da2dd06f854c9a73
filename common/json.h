/*
 * JSON output: the one writer every program's --json and the query
 * results use. It streams to a FILE as it goes (a listing of a million
 * flows is never held as a document in memory), so it is not a tree
 * builder; the callers write the punctuation ({, :, ,) themselves and
 * hand every string to json_str().
 */
#ifndef FF_JSON_H
#define FF_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * Write the n bytes of s as one JSON string (RFC 8259), quotes included:
 * '"' and '\\' backslash-escaped, newline as \n, every other control
 * character and DEL as \u00XX. Other bytes pass as they are (UTF-8 stays
 * UTF-8).
 */
void json_str(FILE *fp, const char *s, size_t n);

/* json_str() of a NUL-terminated string. */
void json_strz(FILE *fp, const char *s);

#endif
