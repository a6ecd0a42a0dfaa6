/* mod_session glue: the browser-side state of the flows, one value each,
 * sealed by the core (cn_flow_seal), in the session cookie. */
#include <apr_optional.h>
#include <mod_session.h>

#include "cn_httpd.h"
#include "cn_session.h"

static APR_OPTIONAL_FN_TYPE(ap_session_load) *load_fn;
static APR_OPTIONAL_FN_TYPE(ap_session_get) *get_fn;
static APR_OPTIONAL_FN_TYPE(ap_session_set) *set_fn;

int cn_session_functions_present(void)
{
    load_fn = APR_RETRIEVE_OPTIONAL_FN(ap_session_load);
    get_fn = APR_RETRIEVE_OPTIONAL_FN(ap_session_get);
    set_fn = APR_RETRIEVE_OPTIONAL_FN(ap_session_set);
    return load_fn && get_fn && set_fn;
}

static session_rec *session_of(request_rec *r)
{
    session_rec *z = NULL;
    if (load_fn(r, &z) != APR_SUCCESS) {
        return NULL;
    }
    return z;
}

typedef struct flow_keys_t {
    apr_array_header_t *keys;
} flow_keys_t;

static int collect_flow_key(void *baton, const char *key, const char *value)
{
    flow_keys_t *fk = baton;
    if (!strncmp(key, CN_FLOW_SESSION_PREFIX, sizeof(CN_FLOW_SESSION_PREFIX) - 1) && value
        && *value) {
        APR_ARRAY_PUSH(fk->keys, const char *) = key;
    }
    return 1;
}

/* Make room for one more flow: the oldest go (a value that no longer opens
 * first of all). */
static void evict(request_rec *r, cn_ctx_t *ctx, session_rec *z, const char *keep)
{
    flow_keys_t fk;
    fk.keys = apr_array_make(r->pool, CN_FLOWS_PER_SESSION + 1, sizeof(const char *));
    apr_table_do(collect_flow_key, &fk, z->entries, NULL);
    while (fk.keys->nelts >= CN_FLOWS_PER_SESSION) {
        int i, oldest = -1;
        apr_int64_t oldest_at = 0;
        for (i = 0; i < fk.keys->nelts; ++i) {
            const char *key = APR_ARRAY_IDX(fk.keys, i, const char *), *v = NULL;
            cn_flow_t *f;
            cn_result_t saved = ctx->res;
            if (!strcmp(key, keep)) {
                continue;
            }
            get_fn(r, z, key, &v);
            if (cn_flow_unseal(ctx, key, v, &f) != APR_SUCCESS) {
                ctx->res = saved;
                oldest = i;
                break;
            }
            if (oldest < 0 || f->created < oldest_at) {
                oldest = i;
                oldest_at = f->created;
            }
        }
        if (oldest < 0) {
            return;
        }
        set_fn(r, z, APR_ARRAY_IDX(fk.keys, oldest, const char *), NULL);
        APR_ARRAY_IDX(fk.keys, oldest, const char *) =
            APR_ARRAY_IDX(fk.keys, fk.keys->nelts - 1, const char *);
        --fk.keys->nelts;
    }
}

apr_status_t cn_session_flow_put(request_rec *r, cn_ctx_t *ctx, const cn_flow_t *flow)
{
    session_rec *z = session_of(r);
    const char *key, *sealed;
    if (!z) {
        return APR_EGENERAL;
    }
    if (cn_flow_seal(ctx, flow, &key, &sealed) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    evict(r, ctx, z, key);
    return set_fn(r, z, key, sealed);
}

const char *cn_session_flow_get(request_rec *r, const char *key, int take)
{
    session_rec *z = session_of(r);
    const char *v = NULL;
    if (!z || get_fn(r, z, key, &v) != APR_SUCCESS || !v || !*v) {
        return NULL;
    }
    v = apr_pstrdup(r->pool, v);
    if (take) {
        set_fn(r, z, key, NULL);
    }
    return v;
}

void cn_session_flow_drop(request_rec *r, const char *key)
{
    session_rec *z = session_of(r);
    if (z) {
        set_fn(r, z, key, NULL);
    }
}
