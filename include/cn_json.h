/* JSON helpers over jansson. Every json_t handed out here is owned by an APR
 * pool: a cleanup drops the reference when the pool goes. */
#ifndef CN_JSON_H
#define CN_JSON_H

#include <apr_pools.h>
#include <jansson.h>

/* A JSON text as jansson dumped it, and its length. */
typedef struct cn_text_t {
    const char *text;
    apr_size_t len;
} cn_text_t;

/* Tie J to POOL (json_decref at pool cleanup) and return it. NULL-safe. */
json_t *cn_json_own(apr_pool_t *pool, json_t *j);

/* Parse BUF[LEN] as a JSON document; NUL bytes are refused. On failure
 * returns NULL and, when ERR is given, a short description in POOL. */
json_t *cn_json_parse(apr_pool_t *pool, const char *buf, apr_size_t len, const char **err);

/* Compact serialisation into POOL (NUL-terminated); NULL on failure. */
const char *cn_json_dump(apr_pool_t *pool, const json_t *j);
/* The same, with its length in *LEN (may be NULL). */
const char *cn_json_dump_len(apr_pool_t *pool, const json_t *j, apr_size_t *len);

/* SKELETON dumped by jansson with the N texts of ITEMS spliced into the empty
 * array that is SKELETON's first member (whose key has no ':'), e.g.
 * {"data":[],"limit":50} and two items -> {"data":[ITEM0,ITEM1],"limit":50}.
 * Each item must itself be a JSON text jansson dumped (a cached rendering):
 * only the commas between them are written here. NULL on failure. */
const char *cn_json_splice_array(apr_pool_t *pool, const json_t *skeleton, const cn_text_t *items,
                                 int n, apr_size_t *len);

/* Typed field access on an object. A missing key is not an error; a key of
 * the wrong type is (returns APR_EINVAL). Out-values are untouched when the
 * key is missing. */
apr_status_t cn_json_get_string(const json_t *obj, const char *key, const char **out);
apr_status_t cn_json_get_int(const json_t *obj, const char *key, long long *out);
apr_status_t cn_json_get_object(const json_t *obj, const char *key, json_t **out);
apr_status_t cn_json_get_bool(const json_t *obj, const char *key, int *out);

/* KEY must be an array of strings, each at most MAXLEN bytes, at most MAXN of
 * them. APR_EINVAL otherwise. */
apr_status_t cn_json_get_string_array(const json_t *obj, const char *key, apr_size_t maxn,
                                      apr_size_t maxlen, json_t **out);

/* The first key of OBJ that is not in the NULL-terminated list ALLOWED, or NULL. */
const char *cn_json_unknown_key(const json_t *obj, const char *const *allowed);

/* At most MAX bytes of TEXT if they are valid UTF-8 (cut back to a character
 * boundary), else NULL: for header values that end up in JSON. */
const char *cn_json_utf8_prefix(apr_pool_t *pool, const char *text, apr_size_t max);

/* Parse TEXT stored by us (a JSON array or object); NULL on failure. */
json_t *cn_json_load_stored(apr_pool_t *pool, const char *text);

#endif
