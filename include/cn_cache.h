/* A process-wide cache of rendered texts (a grant's JSON as jansson dumped
 * it), shared between threads. A text is found by its key and must carry the
 * same signature (the row text it was rendered from), so a changed row is
 * never answered from the cache. Readers get a copy in their own pool: an
 * entry may be replaced or dropped the moment the lock is released. */
#ifndef CN_CACHE_H
#define CN_CACHE_H

#include <apr_pools.h>

#include "cn_json.h" /* cn_text_t */

typedef struct cn_text_cache_t cn_text_cache_t;

/* MAX entries at most; when full, the cache starts over (no per-entry bookkeeping
 * on the hot path). */
apr_status_t cn_text_cache_make(apr_pool_t *pool, unsigned max, cn_text_cache_t **out);

/* For each of N keys under one lock: OUT[i] is a copy in POOL of the text
 * KEYS[i] was rendered to from SIGS[i], or {NULL, 0}. Returns the number found. */
int cn_text_cache_get_many(cn_text_cache_t *cache, apr_pool_t *pool, int n,
                           const char *const *keys, const char *const *sigs, cn_text_t *out);

/* Remember TEXT (copied) as KEY rendered from SIG. */
void cn_text_cache_put(cn_text_cache_t *cache, const char *key, const char *sig,
                       const cn_text_t *text);

#endif
