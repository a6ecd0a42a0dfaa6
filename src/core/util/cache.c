#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "cn_util.h"

typedef struct entry_t {
    const char *sig;
    cn_text_t value;
} entry_t;

struct cn_text_cache_t {
    apr_thread_mutex_t *lock;
    apr_pool_t *pool;  /* the entries' memory; cleared when the cache starts over */
    apr_hash_t *map;   /* key -> entry_t * */
    unsigned max;
    unsigned puts;     /* since the last start-over: bounds the pool's growth */
};

static void start_over(cn_text_cache_t *c)
{
    apr_pool_clear(c->pool);
    c->map = apr_hash_make(c->pool);
    c->puts = 0;
}

apr_status_t cn_text_cache_make(apr_pool_t *pool, unsigned max, cn_text_cache_t **out)
{
    cn_text_cache_t *c = apr_pcalloc(pool, sizeof(*c));
    apr_status_t rv;
    if ((rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, pool)) != APR_SUCCESS
        || (rv = apr_pool_create(&c->pool, pool)) != APR_SUCCESS) {
        return rv;
    }
    c->map = apr_hash_make(c->pool);
    c->max = max;
    *out = c;
    return APR_SUCCESS;
}

int cn_text_cache_get_many(cn_text_cache_t *c, apr_pool_t *pool, int n,
                           const char *const *keys, const char *const *sigs, cn_text_t *out)
{
    int i, found = 0;
    apr_thread_mutex_lock(c->lock);
    for (i = 0; i < n; ++i) {
        entry_t *e = apr_hash_get(c->map, keys[i], APR_HASH_KEY_STRING);
        if (e && !strcmp(e->sig, sigs[i])) {
            out[i].text = apr_pstrmemdup(pool, e->value.text, e->value.len);
            out[i].len = e->value.len;
            ++found;
        }
        else {
            out[i].text = NULL;
            out[i].len = 0;
        }
    }
    apr_thread_mutex_unlock(c->lock);
    return found;
}

void cn_text_cache_put(cn_text_cache_t *c, const char *key, const char *sig,
                       const cn_text_t *text)
{
    entry_t *e;
    apr_thread_mutex_lock(c->lock);
    /* Every put allocates from the pool (replaced texts stay there), so the
     * cache starts over after 2 * MAX of them as well as when it is full. */
    if (apr_hash_count(c->map) >= c->max || ++c->puts > 2 * c->max) {
        start_over(c);
        c->puts = 1;
    }
    e = apr_hash_get(c->map, key, APR_HASH_KEY_STRING);
    if (!e) {
        e = apr_palloc(c->pool, sizeof(*e));
        apr_hash_set(c->map, apr_pstrdup(c->pool, key), APR_HASH_KEY_STRING, e);
    }
    e->sig = apr_pstrdup(c->pool, sig);
    e->value.text = apr_pstrmemdup(c->pool, text->text, text->len);
    e->value.len = text->len;
    apr_thread_mutex_unlock(c->lock);
}
