/* Stand-in for jansson.h, cut for Frama-C (declarations only, no
 * contracts): the parsers analysed so far that include it (the EC2 value
 * parsers, request.c's base64 decoder) reach no jansson call. A harness
 * that reaches one must add contracts or C models here first. */
#ifndef WARD_PROOFS_JANSSON_H
#define WARD_PROOFS_JANSSON_H
#include <stddef.h>
#include <stdint.h>

typedef struct json_t json_t;
#define JSON_REJECT_DUPLICATES 0x1
#define JSON_DISABLE_EOF_CHECK 0x2
#define JSON_DECODE_ANY 0x4
#define JSON_DECODE_INT_AS_REAL 0x8
#define JSON_ALLOW_NUL 0x10
typedef long long json_int_t;
typedef struct json_error_t {
	int line, column, position;
	char source[80];
	char text[160];
} json_error_t;

json_t *json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error);
void json_decref(json_t *json);
json_t *json_object(void);
json_t *json_array(void);
json_t *json_string(const char *value);
json_t *json_object_get(const json_t *object, const char *key);
size_t json_object_size(const json_t *object);
void *json_object_iter(json_t *object);
void *json_object_iter_next(json_t *object, void *iter);
const char *json_object_iter_key(void *iter);
json_t *json_object_iter_value(void *iter);
void *json_object_key_to_iter(const char *key);
size_t json_array_size(const json_t *array);
json_t *json_array_get(const json_t *array, size_t index);
int json_array_append_new(json_t *array, json_t *value);
const char *json_string_value(const json_t *string);
size_t json_string_length(const json_t *string);
json_int_t json_integer_value(const json_t *integer);
int json_is_object(const json_t *json);
int json_is_array(const json_t *json);
int json_is_string(const json_t *json);
int json_is_integer(const json_t *json);
int json_is_boolean(const json_t *json);
int json_is_true(const json_t *json);
int json_is_null(const json_t *json);

#define json_object_foreach(object, key, value)                                           \
	for (key = json_object_iter_key(json_object_iter(object));                        \
	     key && (value = json_object_iter_value(json_object_key_to_iter(key)));       \
	     key = json_object_iter_key(json_object_iter_next(object, json_object_key_to_iter(key))))
#define json_array_foreach(array, index, value)                                           \
	for (index = 0; index < json_array_size(array) && (value = json_array_get(array, index)); \
	     index++)
#endif
