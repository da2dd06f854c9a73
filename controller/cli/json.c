/*
 * The controller's answers (msgpack) as JSON, for --json. Strings go
 * through common/json.h's json_str, the one JSON string writer.
 */
#include <inttypes.h>

#include "common/json.h"
#include "cli.h"

void
cli_json_write(FILE *fp, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", fp);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", fp);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(fp, "%" PRIu64, o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(fp, "%" PRId64, o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		fprintf(fp, "%.17g", o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		json_str(fp, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		fputc('"', fp);
		for (uint32_t i = 0; i < o->via.bin.size; i++)
			fprintf(fp, "%02x", (unsigned char)o->via.bin.ptr[i]);
		fputc('"', fp);
		break;
	case MSGPACK_OBJECT_ARRAY:
		fputc('[', fp);
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i)
				fputc(',', fp);
			cli_json_write(fp, &o->via.array.ptr[i]);
		}
		fputc(']', fp);
		break;
	case MSGPACK_OBJECT_MAP:
		fputc('{', fp);
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];

			if (i)
				fputc(',', fp);
			if (kv->key.type == MSGPACK_OBJECT_STR)
				json_str(fp, kv->key.via.str.ptr,
				    kv->key.via.str.size);
			else
				json_str(fp, "?", 1);
			fputc(':', fp);
			cli_json_write(fp, &kv->val);
		}
		fputc('}', fp);
		break;
	default:
		fputs("null", fp);
	}
}

int
cli_json_print(const msgpack_object *o)
{
	cli_json_write(stdout, o);
	fputc('\n', stdout);
	return fflush(stdout) == 0 ? EX_OK : EX_FAILED;
}
