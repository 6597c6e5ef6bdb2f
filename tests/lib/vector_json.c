/* vector_json.c - see vector_json.h. */
#include "vector_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char data_path[4096];

const char *vectors_data_path(const char *name)
{
	const char *dir = getenv("NEO_TEST_DATA");

	snprintf(data_path, sizeof(data_path), "%s/%s", dir ? dir : "tests/data", name);
	return data_path;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes hex into a new buffer; NULL on bad input. */
static uint8_t *from_hex(const char *hex, size_t *size)
{
	size_t n = strlen(hex);
	uint8_t *out;

	if (n % 2)
		return NULL;
	out = malloc(n / 2 + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*size = n / 2;
	return out;
}

static int parse_line(json_t *json, int line, struct vector *v)
{
	const char *hex = json_string_value(json_object_get(json, "hex"));

	memset(v, 0, sizeof(*v));
	v->json = json;
	v->line = line;
	v->handshake = json_is_true(json_object_get(json, "handshake"));
	if (!v->handshake) {
		v->packet = json_string_value(json_object_get(json, "packet"));
		v->code = (uint16_t)json_integer_value(json_object_get(json, "code"));
		v->msg_id = (uint32_t)json_integer_value(json_object_get(json, "msg_id"));
		v->args = json_object_get(json, "args");
		if (v->packet == NULL || !json_is_array(v->args))
			return -1;
	}
	if (hex == NULL)
		return -1;
	v->bytes = from_hex(hex, &v->size);
	return v->bytes ? 0 : -1;
}

int vectors_load(const char *path, struct vector **out)
{
	FILE *f = fopen(path, "r");
	struct vector *list = NULL;
	int count = 0, line = 0;
	char *buf = NULL;
	size_t cap = 0;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	while (getline(&buf, &cap, f) > 0) {
		json_error_t error;
		json_t *json;
		struct vector *grown;

		line++;
		json = json_loads(buf, 0, &error);
		grown = realloc(list, (count + 1) * sizeof(*list));
		if (json == NULL || grown == NULL || parse_line(json, line, &grown[count])) {
			fprintf(stderr, "%s:%d: cannot read vector\n", path, line);
			json_decref(json);
			list = grown ? grown : list;
			vectors_free(list, count);
			free(buf);
			fclose(f);
			return -1;
		}
		list = grown;
		count++;
	}
	free(buf);
	fclose(f);
	*out = list;
	return count;
}

void vectors_free(struct vector *v, int count)
{
	for (int i = 0; i < count; i++) {
		free(v[i].bytes);
		json_decref(v[i].json);
	}
	free(v);
}

static const char *enum_names[] = {
	"CellStates", "ClusterStates", "ErrorCodes", "NodeStates", "NodeTypes"
};

static int enum_code(const char *name)
{
	for (int i = 0; i < 5; i++)
		if (strcmp(enum_names[i], name) == 0)
			return i;
	return -1;
}

static int pack_bin_hex(msgpack_packer *pk, const char *hex, bool as_str)
{
	size_t size = 0;
	uint8_t *bytes = from_hex(hex, &size);
	int r;

	if (bytes == NULL)
		return -1;
	if (as_str)
		r = msgpack_pack_str(pk, size) || msgpack_pack_str_body(pk, bytes, size);
	else
		r = msgpack_pack_bin(pk, size) || (size && msgpack_pack_bin_body(pk, bytes, size));
	free(bytes);
	return r;
}

int vector_pack_arg(msgpack_packer *pk, json_t *arg)
{
	const char *key;
	json_t *value;

	if (json_is_null(arg))
		return msgpack_pack_nil(pk);
	if (json_object_size(arg) != 1)
		return -1;
	json_object_foreach(arg, key, value) {
		if (strcmp(key, "bin") == 0)
			return pack_bin_hex(pk, json_string_value(value), false);
		if (strcmp(key, "str") == 0)
			return msgpack_pack_str_with_body(pk, json_string_value(value),
							  strlen(json_string_value(value)));
		if (strcmp(key, "int") == 0)
			return msgpack_pack_int64(pk, json_integer_value(value));
		if (strcmp(key, "float") == 0)
			return msgpack_pack_double(pk, json_real_value(value));
		if (strcmp(key, "bool") == 0)
			return json_is_true(value) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
		if (strcmp(key, "enum") == 0) {
			int code = enum_code(json_string_value(json_array_get(value, 0)));
			int item = (int)json_integer_value(json_array_get(value, 2));
			char payload[1] = { (char)item };

			/* Values in the vectors are all small: a fixext 1. */
			if (code < 0 || item < 0 || item > 0x7f)
				return -1;
			return msgpack_pack_ext_with_body(pk, payload, 1, (int8_t)code);
		}
		if (strcmp(key, "array") == 0) {
			size_t i;
			json_t *item;

			if (msgpack_pack_array(pk, json_array_size(value)))
				return -1;
			json_array_foreach(value, i, item)
				if (vector_pack_arg(pk, item))
					return -1;
			return 0;
		}
		if (strcmp(key, "map") == 0) {
			size_t i;
			json_t *pair;

			if (msgpack_pack_map(pk, json_array_size(value)))
				return -1;
			json_array_foreach(value, i, pair)
				if (vector_pack_arg(pk, json_array_get(pair, 0)) ||
				    vector_pack_arg(pk, json_array_get(pair, 1)))
					return -1;
			return 0;
		}
	}
	return -1;
}

static bool differ(char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "%s", what);
	return false;
}

static bool match_bin(const msgpack_object *o, const char *hex, char *why, size_t whylen)
{
	size_t size = 0;
	uint8_t *bytes = from_hex(hex, &size);
	bool same = bytes && o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == size &&
		    (size == 0 || memcmp(o->via.bin.ptr, bytes, size) == 0);

	free(bytes);
	return same ? true : differ(why, whylen, "bin differs");
}

static bool match_int(const msgpack_object *o, json_int_t want, char *why, size_t whylen)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && want >= 0 &&
	    o->via.u64 == (uint64_t)want)
		return true;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 == want)
		return true;
	return differ(why, whylen, "int differs");
}

static bool match_enum(const msgpack_object *o, json_t *value, char *why, size_t whylen)
{
	int code = enum_code(json_string_value(json_array_get(value, 0)));
	json_int_t item = json_integer_value(json_array_get(value, 2));

	if (o->type != MSGPACK_OBJECT_EXT || o->via.ext.type != code ||
	    o->via.ext.size != 1 || (unsigned char)o->via.ext.ptr[0] != item)
		return differ(why, whylen, "enum differs");
	return true;
}

static bool match_array(const msgpack_object *o, json_t *value, char *why, size_t whylen)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != json_array_size(value))
		return differ(why, whylen, "array size differs");
	for (uint32_t i = 0; i < o->via.array.size; i++)
		if (!vector_match_arg(&o->via.array.ptr[i], json_array_get(value, i), why, whylen))
			return false;
	return true;
}

static bool match_map(const msgpack_object *o, json_t *value, char *why, size_t whylen)
{
	if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != json_array_size(value))
		return differ(why, whylen, "map size differs");
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		json_t *pair = json_array_get(value, i);

		if (!vector_match_arg(&o->via.map.ptr[i].key, json_array_get(pair, 0), why, whylen) ||
		    !vector_match_arg(&o->via.map.ptr[i].val, json_array_get(pair, 1), why, whylen))
			return false;
	}
	return true;
}

bool vector_match_arg(const msgpack_object *o, json_t *arg, char *why, size_t whylen)
{
	const char *key;
	json_t *value;

	if (json_is_null(arg))
		return o->type == MSGPACK_OBJECT_NIL ? true : differ(why, whylen, "expected nil");
	json_object_foreach(arg, key, value) {
		if (strcmp(key, "bin") == 0)
			return match_bin(o, json_string_value(value), why, whylen);
		if (strcmp(key, "int") == 0)
			return match_int(o, json_integer_value(value), why, whylen);
		if (strcmp(key, "float") == 0)
			return (o->type == MSGPACK_OBJECT_FLOAT64 &&
				o->via.f64 == json_real_value(value)) ? true :
				differ(why, whylen, "float differs");
		if (strcmp(key, "bool") == 0)
			return (o->type == MSGPACK_OBJECT_BOOLEAN &&
				o->via.boolean == json_is_true(value)) ? true :
				differ(why, whylen, "bool differs");
		if (strcmp(key, "enum") == 0)
			return match_enum(o, value, why, whylen);
		if (strcmp(key, "array") == 0)
			return match_array(o, value, why, whylen);
		if (strcmp(key, "map") == 0)
			return match_map(o, value, why, whylen);
	}
	return differ(why, whylen, "unknown argument type in vector");
}
