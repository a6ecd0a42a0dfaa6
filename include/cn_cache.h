/* A process-wide cache of rendered JSON values, shared between threads. A
 * value is found by its key and must carry the same signature (the text it
 * was rendered from), so a changed row is never answered from the cache.
 * Cached values are immutable: callers only take references. */
#ifndef CN_CACHE_H
#define CN_CACHE_H

#include <apr_pools.h>
#include <jansson.h>

typedef struct cn_json_cache_t cn_json_cache_t;

/* MAX entries at most; when full, the cache starts over (no per-entry bookkeeping
 * on the hot path). */
apr_status_t cn_json_cache_make(apr_pool_t *pool, unsigned max, cn_json_cache_t **out);

/* A new reference to the value of KEY rendered from SIG, or NULL. */
json_t *cn_json_cache_get(cn_json_cache_t *cache, const char *key, const char *sig);

/* The same for N keys under one lock: OUT[i] is a new reference or NULL. */
void cn_json_cache_get_many(cn_json_cache_t *cache, int n, const char *const *keys,
                            const char *const *sigs, json_t **out);

/* Remember VALUE (a reference is taken) for KEY rendered from SIG. */
void cn_json_cache_put(cn_json_cache_t *cache, const char *key, const char *sig, json_t *value);

#endif
