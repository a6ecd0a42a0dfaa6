/* The tail every way in shares: from what a step proved to a stored grant. */
#include <string.h>
#include <apr_strings.h>

#include "cn_proto.h"
#include "flow.h"

apr_status_t cn_flow_connect(cn_ctx_t *ctx, const cn_integration_t *it, json_t *scope,
                             const char *state, const char *reauth_grant_id,
                             const cn_flow_proof_t *proof, cn_grant_t **grant, int *reauth)
{
    cn_identity_t *id = proof->id;
    cn_grant_secrets_t secrets = {proof->tokens, proof->password, proof->settings,
                                  it->credential_id};
    apr_status_t rv;
    if (!proof->tokens && !proof->password) {
        return cn_fail_internal(ctx, "a proof with neither tokens nor a password");
    }
    /* Who signed in: asked of the provider, so no database handle is held. */
    if (!id && (!proof->tokens || cn_oauth_identity(ctx, it, proof->tokens, &id) != APR_SUCCESS)) {
        return proof->tokens ? APR_EGENERAL
                             : cn_fail_internal(ctx, "a password proof without an identity");
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_grant_store(ctx, it, scope, state, reauth_grant_id, &secrets, id, grant, reauth);
    cn_ctx_db_close(ctx);
    return rv;
}

/* Native authentication with a refresh token (OAuth providers). */
static apr_status_t native_refresh(cn_ctx_t *ctx, json_t *body, cn_grant_t **grant, int *reauth)
{
    cn_integration_t *it;
    const char *secret, *refresh, *state;
    json_t *scope;
    cn_flow_proof_t proof = {0};
    apr_status_t rv;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_grant_native_prepare(ctx, body, &it, &secret, &refresh, &scope, &state);
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* A real refresh proves the token before anything is stored. */
    if (cn_oauth_token(ctx, it, secret, NULL, NULL, refresh, &proof.tokens) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!proof.tokens->refresh_token) {
        proof.tokens->refresh_token = refresh; /* providers that do not rotate keep the old one */
    }
    return cn_flow_connect(ctx, it, scope, state, NULL, &proof, grant, reauth);
}

/* A body whose settings name a credential (flow/app_grant.c). */
static int names_credential(json_t *body)
{
    return json_object_get(json_object_get(body, "settings"), "credential_id") != NULL;
}

/* The ways of native authentication, by what the provider can do and what
 * the body names (the first row that takes it). */
static const struct native_way_t {
    unsigned caps;
    int (*takes)(json_t *body); /* NULL: any body */
    apr_status_t (*run)(cn_ctx_t *ctx, json_t *body, cn_grant_t **grant, int *reauth);
} native_ways[] = {
    {CN_PROVIDER_OAUTH, names_credential, cn_flow_native_credential},
    {CN_PROVIDER_OAUTH, NULL, native_refresh},
    {CN_PROVIDER_PASSWORD, NULL, cn_flow_native_imap},
    {0, NULL, NULL}
};

apr_status_t cn_flow_native(cn_ctx_t *ctx, json_t *body, cn_grant_t **grant, int *reauth)
{
    const cn_provider_t *p = cn_provider(json_string_value(json_object_get(body, "provider")));
    const struct native_way_t *w;
    for (w = native_ways; p && w->run; ++w) {
        if ((p->caps & w->caps) && (!w->takes || w->takes(body))) {
            return w->run(ctx, body, grant, reauth);
        }
    }
    /* A missing or unknown provider: refused as a refresh token's body is. */
    return native_refresh(ctx, body, grant, reauth);
}

apr_status_t cn_grant_revoke(cn_ctx_t *ctx, const char *id)
{
    cn_grant_t *gone = NULL;
    cn_integration_t *it = NULL;
    const char *refresh = NULL;
    apr_status_t rv;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_grant_delete(ctx, id, &gone, &refresh);
    if (rv == APR_SUCCESS && refresh
        && cn_integration_load(ctx, gone->provider, &it) != APR_SUCCESS) {
        it = NULL;
    }
    cn_ctx_db_close(ctx);
    if (rv == APR_SUCCESS && it && refresh) {
        cn_oauth_revoke(ctx, it, refresh); /* best effort, after the local delete */
    }
    return rv;
}
