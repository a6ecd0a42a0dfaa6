/* The shared cache (ConnectCache): a mod_socache provider behind the core's
 * cache seam (cn_cache_seam_t). Values live across the server's processes
 * (shmcb, the default) or across nodes (memcache, redis). One global mutex,
 * "Mutex connect-cache", serialises the calls: shmcb needs it (it is not
 * safe across processes by itself), and a counter's read-add-write must not
 * interleave with another process's. Across nodes a counter is exact only as
 * far as the provider makes it so (memcache and redis do not lock). */
#include <ap_socache.h>
#include <ap_provider.h>
#include <util_mutex.h>

#include "cn_httpd.h"

#define CN_CACHE_MUTEX "connect-cache"
#define CN_CACHE_DEFAULT "shmcb"
/* Keys as the provider sees them: our namespace first (a memcached or redis
 * server may be shared); long or odd keys are hashed. mod_socache_memcache
 * and mod_socache_redis send a key as hex after their own tag, in at most
 * 253 characters: ours stay within 100 bytes (8 + 64 when hashed). */
#define CN_CACHE_PREFIX "connect:"
#define CN_CACHE_KEY_MAX 100
/* The largest value the core keeps there. */
#define CN_CACHE_VALUE_MAX 8192

struct cn_socache_t {
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
    server_rec *s;
    const char *spec;
    cn_cache_seam_t seam;
};

static apr_global_mutex_t *cache_lock;
static const char *cache_lock_file;

int cn_socache_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    return ap_mutex_register(pconf, CN_CACHE_MUTEX, NULL, CN_LOCK_MECH, 0) == APR_SUCCESS
               ? OK
               : HTTP_INTERNAL_SERVER_ERROR;
}

static const char *provider_key(apr_pool_t *pool, const char *key, apr_size_t *len)
{
    const char *c, *k;
    int plain = strlen(key) <= CN_CACHE_KEY_MAX;
    for (c = key; plain && *c; ++c) {
        plain = *c > 0x20 && *c < 0x7f;
    }
    k = plain ? apr_pstrcat(pool, CN_CACHE_PREFIX, key, NULL)
              : apr_pstrcat(pool, CN_CACHE_PREFIX "#", cn_sha256_hex(pool, key, strlen(key)),
                            NULL);
    *len = strlen(k);
    return k;
}

static void lock(void)
{
    if (cache_lock) {
        apr_global_mutex_lock(cache_lock);
    }
}

static void unlock(void)
{
    if (cache_lock) {
        apr_global_mutex_unlock(cache_lock);
    }
}

/* Unlocked: the value under KEY into a new buffer of POOL (NUL-terminated). */
static apr_status_t retrieve(struct cn_socache_t *c, apr_pool_t *pool, const char *key,
                             const char **val, apr_size_t *len)
{
    apr_size_t klen;
    const char *k = provider_key(pool, key, &klen);
    unsigned char *buf = apr_palloc(pool, CN_CACHE_VALUE_MAX + 1);
    unsigned int n = CN_CACHE_VALUE_MAX;
    apr_status_t rv = c->provider->retrieve(c->instance, c->s, (const unsigned char *)k,
                                            (unsigned int)klen, buf, &n, pool);
    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_NOTFOUND(rv) ? APR_NOTFOUND : rv;
    }
    buf[n] = '\0';
    *val = (const char *)buf;
    if (len) {
        *len = n;
    }
    return APR_SUCCESS;
}

static apr_status_t store(struct cn_socache_t *c, apr_pool_t *pool, const char *key,
                          const char *val, apr_size_t len, apr_time_t expiry)
{
    apr_size_t klen;
    const char *k = provider_key(pool, key, &klen);
    if (len > CN_CACHE_VALUE_MAX) {
        return APR_ENOSPC;
    }
    return c->provider->store(c->instance, c->s, (const unsigned char *)k, (unsigned int)klen,
                              expiry, (unsigned char *)apr_pmemdup(pool, val, len),
                              (unsigned int)len, pool);
}

static apr_status_t seam_get(void *baton, apr_pool_t *pool, const char *key, const char **val,
                             apr_size_t *len)
{
    apr_status_t rv;
    lock();
    rv = retrieve(baton, pool, key, val, len);
    unlock();
    return rv;
}

static apr_status_t seam_put(void *baton, apr_pool_t *pool, const char *key, const char *val,
                             apr_size_t len, apr_int64_t ttl)
{
    apr_status_t rv;
    lock();
    rv = store(baton, pool, key, val, len, apr_time_now() + apr_time_from_sec(ttl));
    unlock();
    return rv;
}

static apr_status_t seam_remove(void *baton, apr_pool_t *pool, const char *key)
{
    struct cn_socache_t *c = baton;
    apr_size_t klen;
    const char *k = provider_key(pool, key, &klen);
    apr_status_t rv;
    lock();
    rv = c->provider->remove(c->instance, c->s, (const unsigned char *)k, (unsigned int)klen,
                             pool);
    unlock();
    return APR_STATUS_IS_NOTFOUND(rv) ? APR_SUCCESS : rv;
}

/* A counter is stored as "COUNT EXPIRY" (decimal; EXPIRY in apr_time_t), so
 * that an increment keeps the lifetime the first one gave it. */
static apr_status_t seam_incr(void *baton, apr_pool_t *pool, const char *key, long delta,
                              apr_int64_t ttl, long *out)
{
    struct cn_socache_t *c = baton;
    const char *val, *text;
    char *end;
    long count = 0;
    apr_int64_t expiry = 0;
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    lock();
    if (retrieve(c, pool, key, &val, NULL) == APR_SUCCESS) {
        count = strtol(val, &end, 10);
        if (*end == ' ') {
            expiry = apr_strtoi64(end + 1, NULL, 10);
        }
    }
    if (expiry <= now) { /* none, unreadable, or past its lifetime */
        count = 0;
        expiry = now + apr_time_from_sec(ttl);
    }
    count += delta;
    text = apr_psprintf(pool, "%ld %" APR_INT64_T_FMT, count, expiry);
    rv = store(c, pool, key, text, strlen(text), expiry);
    unlock();
    if (rv == APR_SUCCESS) {
        *out = count;
    }
    return rv;
}

const char *cn_socache_set(cmd_parms *cmd, void *dc, const char *spec)
{
    cn_server_conf_t *sc = ap_get_module_config(cmd->server->module_config, &connect_module);
    (void)dc;
    sc->cache_spec = spec;
    sc->configured = 1;
    return NULL;
}

/* The instance of server S (its ConnectCache, else the default). */
static apr_status_t cache_make(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                               const char *spec, struct cn_socache_t **out)
{
    static const struct ap_socache_hints hints = {64, 256, 60 * APR_USEC_PER_SEC};
    struct cn_socache_t *c = apr_pcalloc(pconf, sizeof(*c));
    const char *name = apr_pstrdup(ptemp, spec), *args = NULL, *err;
    char *colon = strchr((char *)name, ':');
    apr_status_t rv;
    if (colon) {
        *colon = '\0';
        args = colon + 1;
    }
    c->spec = spec;
    c->s = s;
    c->provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (!c->provider) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, CNLOGNO(00040) CN_DIR_CACHE
                     ": %s: no such mod_socache provider (is mod_socache_%s loaded?)", spec, name);
        return APR_EGENERAL;
    }
    if ((err = c->provider->create(&c->instance, args, ptemp, pconf))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, CNLOGNO(00041) CN_DIR_CACHE ": %s: %s", spec,
                     err);
        return APR_EGENERAL;
    }
    if ((rv = c->provider->init(c->instance, "mod_connect-cache", &hints, s, pconf))
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, CNLOGNO(00042) CN_DIR_CACHE
                     ": %s: the cache cannot be set up", spec);
        return rv;
    }
    c->seam.get = seam_get;
    c->seam.put = seam_put;
    c->seam.remove = seam_remove;
    c->seam.incr = seam_incr;
    c->seam.baton = c;
    *out = c;
    return APR_SUCCESS;
}

static apr_status_t cache_destroy(void *data)
{
    struct cn_socache_t *c = data;
    c->provider->destroy(c->instance, c->s);
    return APR_SUCCESS;
}

apr_status_t cn_socache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    cn_server_conf_t *main_sc = ap_get_module_config(s->module_config, &connect_module);
    apr_status_t rv;
    cache_lock = NULL;
    cache_lock_file = NULL;
    for (vs = s; vs; vs = vs->next) {
        cn_server_conf_t *sc = ap_get_module_config(vs->module_config, &connect_module);
        const char *spec = sc->cache_spec ? sc->cache_spec : CN_CACHE_DEFAULT;
        if (vs != s && main_sc->cache && !strcmp(spec, main_sc->cache->spec)) {
            sc->cache = main_sc->cache; /* one cache for the hosts that name the same */
            continue;
        }
        if ((rv = cache_make(pconf, ptemp, vs, spec, &sc->cache)) != APR_SUCCESS) {
            return rv;
        }
        apr_pool_cleanup_register(pconf, sc->cache, cache_destroy, apr_pool_cleanup_null);
    }
    /* ap_global_mutex_create logs its own failure. */
    return ap_global_mutex_create(&cache_lock, &cache_lock_file, CN_CACHE_MUTEX, NULL, s, pconf,
                                  0);
}

void cn_socache_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (cache_lock
        && apr_global_mutex_child_init(&cache_lock, cache_lock_file, pchild) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     CNLOGNO(00043) "cannot attach to the " CN_CACHE_MUTEX " lock; "
                     "the shared cache is off in this process");
        cache_lock = NULL;
        cn_socache_disable(s);
    }
}

void cn_socache_disable(server_rec *s)
{
    server_rec *vs;
    for (vs = s; vs; vs = vs->next) {
        cn_server_conf_t *sc = ap_get_module_config(vs->module_config, &connect_module);
        sc->cache = NULL;
    }
}

const cn_cache_seam_t *cn_socache_seam(const struct cn_socache_t *c)
{
    return c ? &c->seam : NULL;
}
