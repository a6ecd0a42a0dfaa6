/* A grant's settings: a JSON object the application keeps with the grant,
 * bounded in size, whose secret-bearing values are sealed where they stand. */
#include <string.h>
#include <apr_strings.h>

#include "cn_model.h"
#include "cn_util.h"

/* The keys whose values are secrets, wherever settings are taken. */
static const char *const secret_keys[] = {
    "refresh_token", "access_token", "password", "imap_password", "smtp_password",
    "client_secret", NULL
};

int cn_grant_setting_is_secret(const char *key)
{
    const char *const *k;
    for (k = secret_keys; *k; ++k) {
        if (!strcasecmp(key, *k)) {
            return 1;
        }
    }
    return 0;
}

const char *cn_grant_setting_aad(apr_pool_t *pool, const char *grant_id, const char *key)
{
    return cn_crypto_aad(pool, "grants", apr_pstrcat(pool, "settings.", key, NULL), grant_id);
}

/* The first secret-bearing key inside V (below the top level of settings),
 * as a path below PATH; NULL when there is none. */
static const char *nested_secret(apr_pool_t *pool, const json_t *v, const char *path)
{
    const char *key, *found;
    json_t *item;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, item) {
            const char *below = apr_pstrcat(pool, path, ".", key, NULL);
            if (cn_grant_setting_is_secret(key)) {
                return below;
            }
            if ((found = nested_secret(pool, item, below))) {
                return found;
            }
        }
    }
    else if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            if ((found = nested_secret(pool, item, apr_psprintf(pool, "%s[%" APR_SIZE_T_FMT "]",
                                                                 path, (apr_size_t)i)))) {
                return found;
            }
        }
    }
    return NULL;
}

apr_status_t cn_grant_settings_merge(apr_pool_t *pool, const cn_keyring_t *ring,
                                     const char *grant_id, const json_t *stored,
                                     const json_t *patch, apr_size_t max, json_t **merged,
                                     const char **refresh, const char **why)
{
    json_t *out = cn_json_own(pool, json_is_object(stored) ? json_deep_copy(stored)
                                                             : json_object()), *v;
    const char *key, *sealed, *path;
    apr_size_t len = 0;
    *refresh = NULL;
    *why = NULL;
    if (!out) {
        return APR_EGENERAL;
    }
    json_object_foreach((json_t *)patch, key, v) {
        if ((path = nested_secret(pool, v, apr_pstrcat(pool, "settings.", key, NULL)))) {
            *why = apr_pstrcat(pool, path, ": a secret is taken only as a top-level setting",
                               NULL);
            return APR_EINVAL;
        }
        if (!cn_grant_setting_is_secret(key)) {
            json_object_set(out, key, v);
            continue;
        }
        if (!json_is_string(v) || !json_string_length(v)) {
            *why = apr_pstrcat(pool, "settings.", key, " must be a non-empty string", NULL);
            return APR_EINVAL;
        }
        if (!strcmp(key, "refresh_token")) {
            *refresh = json_string_value(v); /* sealed in its own column */
            continue;
        }
        if (cn_crypto_seal(pool, ring, json_string_value(v), json_string_length(v),
                           cn_grant_setting_aad(pool, grant_id, key), &sealed)
            != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        json_object_set_new(out, key, json_string(sealed));
    }
    if (!cn_json_dump_len(pool, out, &len)) {
        return APR_EGENERAL;
    }
    if (len > max) {
        *why = apr_psprintf(pool, "settings would be %" APR_SIZE_T_FMT " bytes; at most %"
                            APR_SIZE_T_FMT " are kept", len, max);
        return APR_ENOSPC;
    }
    *merged = out;
    return APR_SUCCESS;
}

apr_status_t cn_grant_settings_reseal(apr_pool_t *pool, const cn_keyring_t *ring,
                                      const char *grant_id, json_t *settings, int *changed,
                                      const char **why)
{
    const char *key, *value, *plain, *sealed, *aad;
    apr_size_t len;
    json_t *v;
    *changed = 0;
    *why = NULL;
    json_object_foreach(settings, key, v) {
        if (!cn_grant_setting_is_secret(key) || !json_is_string(v)) {
            continue;
        }
        value = json_string_value(v);
        aad = cn_grant_setting_aad(pool, grant_id, key);
        if (!cn_crypto_is_sealed(value)) {
            plain = value; /* kept before secrets in settings were sealed */
            len = json_string_length(v);
        }
        else if (!cn_crypto_needs_rekey(ring, value)) {
            continue;
        }
        else if (cn_crypto_open(pool, ring, value, aad, &plain, &len) != APR_SUCCESS) {
            *why = apr_pstrcat(pool, "settings.", key, NULL);
            return APR_EINVAL;
        }
        if (cn_crypto_seal(pool, ring, plain, len, aad, &sealed) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        json_object_set_new(settings, key, json_string(sealed));
        ++*changed;
    }
    return APR_SUCCESS;
}
