#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "cn_cache.h"

typedef struct entry_t {
    const char *sig;
    json_t *value;
} entry_t;

struct cn_json_cache_t {
    apr_thread_mutex_t *lock;
    apr_pool_t *pool;  /* the entries' memory; cleared when the cache starts over */
    apr_hash_t *map;   /* key -> entry_t * */
    unsigned max;
    unsigned puts;     /* since the last start-over: bounds the pool's growth */
};

static void drop_all(cn_json_cache_t *c)
{
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(NULL, c->map); hi; hi = apr_hash_next(hi)) {
        entry_t *e = apr_hash_this_val(hi);
        json_decref(e->value);
    }
    apr_pool_clear(c->pool);
    c->map = apr_hash_make(c->pool);
    c->puts = 0;
}

static apr_status_t cache_cleanup(void *data)
{
    drop_all(data);
    return APR_SUCCESS;
}

apr_status_t cn_json_cache_make(apr_pool_t *pool, unsigned max, cn_json_cache_t **out)
{
    cn_json_cache_t *c = apr_pcalloc(pool, sizeof(*c));
    apr_status_t rv;
    if ((rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, pool)) != APR_SUCCESS
        || (rv = apr_pool_create(&c->pool, pool)) != APR_SUCCESS) {
        return rv;
    }
    c->map = apr_hash_make(c->pool);
    c->max = max;
    /* A pre-cleanup: it must run while the entries' subpool still exists. */
    apr_pool_pre_cleanup_register(pool, c, cache_cleanup);
    *out = c;
    return APR_SUCCESS;
}

static json_t *lookup(cn_json_cache_t *c, const char *key, const char *sig)
{
    entry_t *e = apr_hash_get(c->map, key, APR_HASH_KEY_STRING);
    return e && !strcmp(e->sig, sig) ? json_incref(e->value) : NULL;
}

json_t *cn_json_cache_get(cn_json_cache_t *c, const char *key, const char *sig)
{
    json_t *v;
    apr_thread_mutex_lock(c->lock);
    v = lookup(c, key, sig);
    apr_thread_mutex_unlock(c->lock);
    return v;
}

void cn_json_cache_get_many(cn_json_cache_t *c, int n, const char *const *keys,
                            const char *const *sigs, json_t **out)
{
    int i;
    apr_thread_mutex_lock(c->lock);
    for (i = 0; i < n; ++i) {
        out[i] = lookup(c, keys[i], sigs[i]);
    }
    apr_thread_mutex_unlock(c->lock);
}

void cn_json_cache_put(cn_json_cache_t *c, const char *key, const char *sig, json_t *value)
{
    entry_t *e;
    apr_thread_mutex_lock(c->lock);
    /* Every put allocates from the pool (replaced signatures stay there), so
     * the cache starts over after 2 * MAX of them as well as when it is full. */
    if (apr_hash_count(c->map) >= c->max || ++c->puts > 2 * c->max) {
        drop_all(c);
        c->puts = 1;
    }
    e = apr_hash_get(c->map, key, APR_HASH_KEY_STRING);
    if (e) {
        json_decref(e->value); /* a newer rendering of the same key */
    }
    else {
        e = apr_palloc(c->pool, sizeof(*e));
        apr_hash_set(c->map, apr_pstrdup(c->pool, key), APR_HASH_KEY_STRING, e);
    }
    e->sig = apr_pstrdup(c->pool, sig);
    e->value = json_incref(value);
    apr_thread_mutex_unlock(c->lock);
}
