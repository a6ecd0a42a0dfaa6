/* mod_session glue: the browser-side state of the hosted dance, under keys
 * prefixed "connect-", in the (encrypted) session cookie. */
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

/* Values are sealed by the module itself (AES-256-GCM, bound to their key),
 * whether or not mod_session_crypto also encrypts the whole cookie: the PKCE
 * verifier and the state never travel in the clear. */
static const char *aad_of(request_rec *r, const char *name)
{
    return apr_pstrcat(r->pool, "session.", name, NULL);
}

const char *cn_session_get(request_rec *r, const cn_keyring_t *ring, const char *key)
{
    session_rec *z = session_of(r);
    const char *name = apr_pstrcat(r->pool, CN_SESSION_PREFIX, key, NULL), *v = NULL, *plain;
    apr_size_t len;
    if (!z || get_fn(r, z, name, &v) != APR_SUCCESS || !v || !*v) {
        return NULL;
    }
    if (cn_crypto_open(r->pool, ring, v, aad_of(r, name), &plain, &len) != APR_SUCCESS) {
        return NULL;
    }
    return *plain ? plain : NULL;
}

apr_status_t cn_session_set(request_rec *r, const cn_keyring_t *ring, const char *key,
                            const char *value)
{
    session_rec *z = session_of(r);
    const char *name = apr_pstrcat(r->pool, CN_SESSION_PREFIX, key, NULL), *sealed = NULL;
    if (!z) {
        return APR_EGENERAL;
    }
    if (value && cn_crypto_seal(r->pool, ring, value, strlen(value), aad_of(r, name), &sealed)
                     != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return set_fn(r, z, name, sealed);
}
