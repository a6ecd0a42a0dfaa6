/* The upstream step of OAuth 2.0 providers: the browser goes to the
 * provider's authorize endpoint (S256 PKCE, the flow's state), and comes
 * back with a code, exchanged for tokens without a database handle held. */
#include <string.h>
#include <apr_strings.h>

#include "cn_proto.h"
#include "flow.h"

static apr_status_t oauth2_start(cn_ctx_t *ctx, const cn_flow_t *flow,
                                 const cn_flow_origin_t *origin, const char **location)
{
    unsigned char digest[32];
    const char *challenge;
    if (!json_array_size(origin->scope)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_NO_LOGIN_SCOPES, NULL);
    }
    cn_sha256(flow->verifier, strlen(flow->verifier), digest);
    challenge = cn_b64url_encode(ctx->pool, digest, sizeof(digest));
    *location = cn_oauth_authorize_url(ctx, origin->it, origin->scope, flow->state, challenge,
                                       origin->login_hint);
    if (!*location) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_PROBLEM,
                       "the integration's tenant is not valid");
    }
    return APR_SUCCESS;
}

static apr_status_t oauth2_finish(cn_ctx_t *ctx, const cn_flow_t *flow,
                                  const cn_flow_origin_t *origin, const apr_table_t *query,
                                  cn_flow_proof_t *proof)
{
    const char *code = apr_table_get(query, "code"), *error = apr_table_get(query, "error");
    const char *secret = NULL, *missing;
    cn_tokens_t *tokens;
    if (error) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_OAUTH_FAILED,
                       "the provider answered error=%.64s", error);
    }
    if (!code || !*code || strlen(code) > 4096) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST, "the provider sent no code");
    }
    cn_log(ctx, CN_LOG_DEBUG, CNLOGNO(00204) "exchanging the %s code at %s", origin->it->provider,
           cn_oauth_endpoint(ctx, origin->it->provider, "token", cn_oauth_tenant(origin->it)));
    if (cn_integration_secret(ctx, origin->it, &secret) != APR_SUCCESS
        || cn_oauth_token(ctx, origin->it, secret, code, flow->verifier, NULL, &tokens)
               != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!tokens->refresh_token) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_CODE_REQUEST_FAILED,
                       "offline access was asked for but no refresh token came back");
    }
    if ((missing = cn_oauth_missing_scope(ctx->pool, origin->it->provider, origin->scope,
                                          tokens->scope))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_SCOPES_CONFLICT, "scope %.200s was not granted",
                       missing);
    }
    proof->tokens = tokens;
    return APR_SUCCESS;
}

const cn_flow_step_t cn_flow_step_oauth2 = {
    "oauth2", CN_PROVIDER_OAUTH, 0, oauth2_start, oauth2_finish
};
