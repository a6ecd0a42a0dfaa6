/* Mint a token for an app-permission grant. A grant made with an
 * adminconsent credential (Microsoft) or a serviceaccount credential (Google)
 * has no refresh token: POST /grants/{id}/access_token asks the provider for
 * a new access token the way the grant was made (client credentials at the
 * consented tenant; a new assertion for the grant's user), under the same
 * refresh lease as a refresh, so one mint per grant is in flight. */
#include <string.h>
#include <apr_strings.h>

#include "cn_proto.h"
#include "flow.h"

/* The tenant whose directory a Microsoft credential's app reads: the one
 * whose admin consented, else the integration's own when it names one. */
static const char *consented_tenant(const cn_integration_t *it, const cn_credential_t *cred)
{
    const char *t = cn_oauth_tenant(it);
    if (cred->consented_tenant) {
        return cred->consented_tenant;
    }
    return strcasecmp(t, "common") && strcasecmp(t, "organizations") && strcasecmp(t, "consumers")
               ? t : NULL;
}

apr_status_t cn_app_tokens(cn_ctx_t *ctx, const cn_integration_t *it, const cn_credential_t *cred,
                           const char *user, json_t *scope, cn_tokens_t **out)
{
    if (!strcmp(cred->type, CN_CRED_ADMINCONSENT)) {
        return cn_oauth_client_credentials(ctx, it, consented_tenant(it, cred), out);
    }
    if (!strcmp(cred->type, CN_CRED_SERVICEACCOUNT)) {
        return cn_oauth_service_account(ctx, cred->data, user, scope, out);
    }
    return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                   "a credential of type %s gives no app permissions", cred->type);
}

/* A refusal that no retry will change: the grant needs making again. */
static int refused(const cn_result_t *res)
{
    if (!res->event) {
        return 0;
    }
    switch (res->event->id) {
    case CN_EV_INVALID_GRANT:
    case CN_EV_INVALID_CLIENT:
    case CN_EV_OAUTH_FAILED:
    case CN_EV_CREDENTIAL_NOT_FOUND:
    case CN_EV_CREDENTIAL_MISSING_PARAM:
        return 1;
    default:
        return 0;
    }
}

/* G cannot be minted any more: invalid, grant_expired recorded. */
static apr_status_t give_up(cn_ctx_t *ctx, cn_grant_t *g)
{
    cn_log(ctx, CN_LOG_WARNING, CNLOGNO(04001) "grant %s: its app-permission token was refused "
           "(%s): the grant is now invalid", g->id,
           ctx->res.description ? ctx->res.description : ctx->res.event->type);
    if (cn_grant_invalidate(ctx, g) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return cn_fail(ctx->pool, &ctx->res, CN_EV_GRANT_EXPIRED,
                   "the provider no longer grants this app permission: make the grant again "
                   "(POST /grants with its credential)");
}

apr_status_t cn_app_token_mint(cn_ctx_t *ctx, cn_grant_t *g, apr_int64_t until,
                               const char **token)
{
    const char *cred_id = NULL;
    cn_integration_t *it = NULL;
    cn_credential_t *cred = NULL;
    cn_tokens_t *t = NULL;
    apr_status_t rv;

    if (cn_grant_credential_id(ctx, g, &cred_id) != APR_SUCCESS) {
        goto released;
    }
    if (!cred_id) {
        return APR_ENOTIMPL;
    }
    if (cn_integration_require(ctx, g->provider, &it) != APR_SUCCESS) {
        goto released;
    }
    if (cn_credential_use(ctx, it, cred_id, &cred) != APR_SUCCESS) {
        if (refused(&ctx->res)) {
            return give_up(ctx, g); /* the credential was deleted */
        }
        goto released;
    }
    if (!strcmp(cred->type, CN_CRED_INTEGRATION)) {
        return APR_ENOTIMPL; /* a refresh token, refreshed by the credential's client */
    }
    if (!(it = cn_integration_with(ctx->pool, it, cred))) {
        cn_fail(ctx->pool, &ctx->res, CN_EV_CREDENTIAL_MISSING_PARAM,
                "the grant's credential has no client_id and client_secret");
        return give_up(ctx, g);
    }
    cn_ctx_db_close(ctx);
    /* Google: a token for the grant's user (its address is its provider_user_id);
     * Microsoft: the tenant's app-only token, which reads the grant's mailbox. */
    rv = cn_app_tokens(ctx, it, cred, g->provider_user_id ? g->provider_user_id : g->email,
                       g->scope, &t);
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL; /* the lease runs out by itself */
    }
    if (rv == APR_SUCCESS) {
        if (cn_grant_tokens_refreshed(ctx, g, t) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        cn_log(ctx, CN_LOG_INFO, CNLOGNO(04002) "grant %s: app-permission token minted (%s)",
               g->id, cred->type);
        *token = t->access_token;
        return APR_SUCCESS;
    }
    if (refused(&ctx->res)) {
        return give_up(ctx, g);
    }
    cn_log(ctx, CN_LOG_WARNING, CNLOGNO(04003) "grant %s: minting its app-permission token "
           "failed: %s", g->id, ctx->res.description ? ctx->res.description : "?");
    if (ctx->res.event && (ctx->res.event->id == CN_EV_PROVIDER_NOT_RESPONDING
                           || ctx->res.event->id == CN_EV_OAUTH_PROVIDER_ERROR
                           || ctx->res.event->id == CN_EV_SERVICE_UNAVAILABLE)) {
        cn_fail(ctx->pool, &ctx->res, CN_EV_SERVICE_UNAVAILABLE,
                "the provider did not mint an access token; try again later");
    }
released:
    {
        cn_result_t res = ctx->res;
        cn_grant_lease_release(ctx, g, until);
        ctx->res = res;
    }
    return APR_EGENERAL;
}
