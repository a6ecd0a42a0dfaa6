/* OpenID Connect discovery: the metadata a relying party reads from
 * <issuer>/.well-known/openid-configuration to find everything else. */
#include <string.h>
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_proto.h"

/* Client authentication at /token and /revoke: HTTP Basic, the secret in
 * the body, or none (a public client with PKCE). */
static const char *const client_auth[] = {"client_secret_basic", "client_secret_post", "none",
                                          NULL};

static const struct {
    const char *name;
    const char *const values[12];
} lists[] = {
    {"response_types_supported", {"code", NULL}},
    {"response_modes_supported", {"query", NULL}},
    {"grant_types_supported", {"authorization_code", "refresh_token", NULL}},
    {"code_challenge_methods_supported", {"S256", "plain", NULL}},
    {"subject_types_supported", {"public", NULL}},
    {"scopes_supported", {"openid", "email", "offline_access", NULL}},
    {"claims_supported", {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "email",
                          "email_verified", "provider", NULL}},
};

/* The endpoints, below the issuer. */
static const struct {
    const char *name, *path;
} endpoints[] = {
    {"authorization_endpoint", "/auth"},
    {"token_endpoint", "/token"},
    {"revocation_endpoint", "/revoke"},
    {"jwks_uri", "/.well-known/jwks.json"},
};

static json_t *strings(const char *const *values)
{
    json_t *a = json_array();
    for (; a && *values; ++values) {
        if (json_array_append_new(a, json_string(*values))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *cn_oidc_discovery(apr_pool_t *pool, const char *base_url,
                          const cn_signing_keys_t *keys)
{
    json_t *doc, *algs = cn_jose_algs(pool, keys);
    char *base;
    apr_size_t i, n;
    int failed = 0;

    if (!base_url || !algs || !(doc = cn_json_own(pool, json_object()))) {
        return NULL;
    }
    /* The issuer exactly as configured (it is the id_tokens' iss); the
     * endpoints without a doubled slash when it ends with one. */
    base = apr_pstrdup(pool, base_url);
    n = strlen(base);
    while (n && base[n - 1] == '/') {
        base[--n] = '\0';
    }
    failed |= json_object_set_new(doc, "issuer", json_string(base_url));
    for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); ++i) {
        failed |= json_object_set_new(doc, endpoints[i].name,
                                      json_string(apr_pstrcat(pool, base, endpoints[i].path,
                                                              NULL)));
    }
    for (i = 0; i < sizeof(lists) / sizeof(lists[0]); ++i) {
        failed |= json_object_set_new(doc, lists[i].name, strings(lists[i].values));
    }
    failed |= json_object_set_new(doc, "token_endpoint_auth_methods_supported",
                                  strings(client_auth));
    failed |= json_object_set_new(doc, "revocation_endpoint_auth_methods_supported",
                                  strings(client_auth));
    /* From the keys: the first signs, the others' algorithms still verify
     * tokens signed before a rotation. Empty without ConnectSigningKey. */
    failed |= json_object_set(doc, "id_token_signing_alg_values_supported", algs);
    /* Discovery's default for request_uri_parameter_supported is true. */
    failed |= json_object_set_new(doc, "request_uri_parameter_supported", json_false());
    return failed ? NULL : doc;
}
