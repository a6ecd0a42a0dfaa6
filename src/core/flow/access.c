/* POST /grants/{id}/access_token: what an application needs to read a
 * mailbox now. For an OAuth grant, a current provider access token, refreshed
 * at the provider when it is about to expire: one refresh per grant in flight
 * across threads, processes and nodes (a lease in the grant's row, taken by a
 * conditional UPDATE); the others wait for it and read its token. No
 * database handle is held while the provider is asked. A provider failing
 * transiently is asked again after a backoff, within the call's budget;
 * when it still fails the grant cools down (in its row, so for every
 * process and node) and callers are told when to come back. The refresh
 * job refreshes grants unused for long through the same lease. */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "cn_proto.h"
#include "cn_metrics.h"
#include "flow.h"

/* The IMAP settings of OAuth grant G with access token TOKEN. */
static json_t *oauth_answer(cn_ctx_t *ctx, const cn_grant_t *g, const char *token)
{
    const char *host = cn_imap_oauth_host(g->provider);
    const char *xoauth2 = cn_imap_xoauth2(ctx->pool, g->email, token);
    json_t *imap = json_pack("{s:s?,s:i,s:s,s:s,s:s?}", "host", host, "port", 993, "username",
                             g->email, "security", "ssl", "xoauth2", xoauth2);
    return cn_json_own(ctx->pool,
                       json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:o}", "grant_id", g->id,
                                 "access_token", token, "expires_at",
                                 (json_int_t)g->access_expires_at, "token_type", "Bearer",
                                 "provider", g->provider, "email", g->email, "imap", imap));
}

/* The IMAP settings of password grant G; its password when asked. */
static apr_status_t imap_answer(cn_ctx_t *ctx, const cn_grant_t *g, int with_password,
                                json_t **out)
{
    json_t *settings = cn_json_load_stored(ctx->pool, g->settings_text), *imap;
    const char *password = NULL;
    if (with_password
        && cn_grant_secret_open(ctx, g, CN_GRANT_PASSWORD_AAD, g->refresh_token, &password)
               != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    imap = json_pack("{s:O?,s:O?,s:O?,s:O?}", "host", json_object_get(settings, "imap_host"),
                     "port", json_object_get(settings, "imap_port"), "username",
                     json_object_get(settings, "imap_username"), "security",
                     json_object_get(settings, "imap_security"));
    if (!imap) {
        return cn_fail_internal(ctx, "an IMAP grant's settings");
    }
    if (password) {
        json_object_set_new(imap, "password", json_string(password));
    }
    *out = cn_json_own(ctx->pool, json_pack("{s:s,s:s,s:s,s:o}", "grant_id", g->id, "provider",
                                            g->provider, "email", g->email, "imap", imap));
    return APR_SUCCESS;
}

static apr_status_t reauth_needed(cn_ctx_t *ctx)
{
    return cn_fail(ctx->pool, &ctx->res, CN_EV_GRANT_EXPIRED,
                   "the provider no longer accepts this grant: the user must authenticate again");
}

/* G's stored access token when it is valid beyond the margin: 1 and *TOKEN;
 * 0 when it needs a refresh; -1 when it does not open (in ctx->res). */
static int fresh(cn_ctx_t *ctx, const cn_grant_t *g, const char **token)
{
    if (!g->access_token || g->access_expires_at < ctx->now + CN_ACCESS_MARGIN) {
        return 0;
    }
    return cn_grant_secret_open(ctx, g, "access_token", g->access_token, token) == APR_SUCCESS
               ? 1 : -1;
}

apr_int64_t cn_refresh_cooldown(int failures)
{
    apr_int64_t t = CN_REFRESH_COOLDOWN;
    while (--failures > 0 && t < CN_REFRESH_COOLDOWN_MAX) {
        t *= 2;
    }
    return t < CN_REFRESH_COOLDOWN_MAX ? t : CN_REFRESH_COOLDOWN_MAX;
}

apr_interval_time_t cn_refresh_backoff(int attempt, apr_uint32_t rnd)
{
    apr_int64_t ms = (apr_int64_t)CN_REFRESH_BACKOFF_MS << (attempt > 1 ? attempt - 1 : 0);
    return apr_time_from_msec(ms + (apr_int64_t)(rnd % (apr_uint32_t)ms));
}

/* Whether asking again may help: no answer, a 5xx, an error the provider
 * did not name invalid_grant or invalid_client. */
static int transient(const cn_result_t *res)
{
    return res->event && (res->event->id == CN_EV_PROVIDER_NOT_RESPONDING
                          || res->event->id == CN_EV_OAUTH_PROVIDER_ERROR);
}

/* The provider's refresh with bounded retries: no handle held. */
static apr_status_t ask_provider(cn_ctx_t *ctx, const cn_grant_t *g, const cn_integration_t *it,
                                 const char *secret, const char *rt, cn_tokens_t **t)
{
    apr_time_t start = cn_ctx_time(ctx);
    apr_status_t rv;
    int attempt;
    for (attempt = 1;; ++attempt) {
        apr_interval_time_t wait;
        apr_uint32_t rnd = 0;
        rv = cn_oauth_token(ctx, it, secret, NULL, NULL, rt, t);
        if (rv == APR_SUCCESS || attempt >= CN_REFRESH_ATTEMPTS || !transient(&ctx->res)) {
            return rv;
        }
        (void)cn_random_bytes((unsigned char *)&rnd, sizeof(rnd)); /* 0 will do */
        wait = cn_refresh_backoff(attempt, rnd);
        if (cn_ctx_time(ctx) - start + wait > apr_time_from_msec(CN_REFRESH_BUDGET_MS)) {
            return rv;
        }
        cn_log(ctx, CN_LOG_INFO, CNLOGNO(02201) "grant %s: refresh attempt %d failed (%s); "
               "again in %d ms", g->id, attempt,
               ctx->res.description ? ctx->res.description : "?", (int)apr_time_msec(wait));
        cn_ctx_sleep(ctx, wait);
    }
}

/* A failed refresh under the lease until UNTIL: the lease given back and
 * the grant cooling down, one failure more; *RETRY_AFTER its seconds.
 * ctx->res is kept. */
static void cool_down(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t until,
                      apr_int64_t *retry_after)
{
    cn_result_t res = ctx->res;
    apr_int64_t retry_at = 0, now = apr_time_sec(cn_ctx_time(ctx));
    int failures = 0;
    if (cn_grant_refresh_state(ctx, g, &failures, &retry_at) != APR_SUCCESS) {
        failures = 0;
    }
    *retry_after = cn_refresh_cooldown(++failures);
    if (cn_grant_refresh_failed(ctx, g, until, failures, now + *retry_after) != APR_SUCCESS) {
        cn_grant_lease_release(ctx, g, until);
    }
    cn_log(ctx, CN_LOG_WARNING, CNLOGNO(02202) "grant %s: no refresh for %" APR_INT64_T_FMT
           " s after %d failed in a row", g->id, *retry_after, failures);
    ctx->res = res;
}

/* The refresh of the lease holder: with the handle open on entry and on
 * return, closed while the provider is asked. */
static apr_status_t refresh(cn_ctx_t *ctx, cn_grant_t *g, apr_int64_t until, const char **token)
{
    cn_integration_t *it = NULL;
    const char *secret = NULL, *rt = NULL;
    cn_tokens_t *t = NULL;
    apr_int64_t retry_after = 0;
    apr_status_t rv;
    if (cn_grant_integration(ctx, g, &it) != APR_SUCCESS /* an integration credential's client */
        || cn_integration_secret(ctx, it, &secret) != APR_SUCCESS
        || cn_grant_secret_open(ctx, g, "refresh_token", g->refresh_token, &rt) != APR_SUCCESS) {
        cn_result_t res = ctx->res;
        cn_grant_lease_release(ctx, g, until);
        ctx->res = res;
        return APR_EGENERAL;
    }
    cn_ctx_db_close(ctx);
    rv = ask_provider(ctx, g, it, secret, rt, &t);
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL; /* the lease runs out by itself */
    }
    if (rv == APR_SUCCESS) {
        if (cn_grant_tokens_refreshed(ctx, g, t) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        *token = t->access_token;
        return APR_SUCCESS;
    }
    if (ctx->res.event && ctx->res.event->id == CN_EV_REFRESH_TOKEN_INVALID) {
        cn_log(ctx, CN_LOG_WARNING, CNLOGNO(01601) "grant %s: the provider refused its refresh "
               "token (%s); the grant is now invalid", g->id, ctx->res.description);
        if (cn_grant_invalidate(ctx, g) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        return reauth_needed(ctx);
    }
    {
        cn_result_t res = ctx->res;
        cn_log(ctx, CN_LOG_WARNING, CNLOGNO(01602) "grant %s: the access token refresh failed: %s",
               g->id, res.description ? res.description : "?");
        ctx->res = res;
    }
    cool_down(ctx, g, until, &retry_after);
    if (ctx->res.event && (ctx->res.event->id == CN_EV_PROVIDER_NOT_RESPONDING
                           || ctx->res.event->id == CN_EV_OAUTH_PROVIDER_ERROR
                           || ctx->res.event->id == CN_EV_SERVICE_UNAVAILABLE)) {
        cn_fail(ctx->pool, &ctx->res, CN_EV_SERVICE_UNAVAILABLE,
                "the provider did not refresh the access token; try again later");
    }
    ctx->res.retry_after = retry_after;
    return APR_EGENERAL;
}

/* G's stored token while it is valid at all (a refresh that cannot be had
 * now leaves it as good as it is): 1 and *TOKEN, else 0. */
static int still_valid(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t now, const char **token)
{
    cn_result_t res = ctx->res;
    if (!g->access_token || g->access_expires_at <= now
        || cn_grant_secret_open(ctx, g, "access_token", g->access_token, token) != APR_SUCCESS) {
        ctx->res = res;
        return 0;
    }
    return 1;
}

/* G's refresh cooling down at NOW after failures: -1 (ctx->res, with
 * Retry-After) when it does, 0 when a refresh may be tried, 1 when the
 * database failed. */
static int cooling(cn_ctx_t *ctx, const cn_grant_t *g, apr_int64_t now)
{
    apr_int64_t retry_at = 0;
    int failures = 0;
    if (cn_grant_refresh_state(ctx, g, &failures, &retry_at) != APR_SUCCESS) {
        return 1;
    }
    if (retry_at <= now) {
        return 0;
    }
    cn_fail(ctx->pool, &ctx->res, CN_EV_SERVICE_UNAVAILABLE,
            "the provider failed to refresh this grant's access token %d times in a row; "
            "try again later", failures);
    ctx->res.retry_after = retry_at - now;
    return -1;
}

/* The OAuth grant's token: the stored one, else this caller's refresh, else
 * the refresh of the lease holder once it is stored. Handle open throughout. */
static apr_status_t oauth_token(cn_ctx_t *ctx, cn_grant_t *g, const char **token)
{
    apr_time_t deadline = cn_ctx_time(ctx) + apr_time_from_msec(CN_ACCESS_WAIT_MS);
    int waited = 0; /* for another caller's refresh */
    for (;;) {
        apr_int64_t now = apr_time_sec(cn_ctx_time(ctx)), until = now + CN_ACCESS_LEASE;
        int won = 0;
        if (strcmp(g->grant_status, "valid")) {
            return reauth_needed(ctx);
        }
        switch (fresh(ctx, g, token)) {
        case 1:
            if (waited) {
                cn_metrics_refresh(ctx->metrics, CN_METRIC_REFRESH_COALESCED);
            }
            return APR_SUCCESS;
        case -1:
            return APR_EGENERAL;
        default:
            break;
        }
        switch (cooling(ctx, g, now)) {
        case 0:
            break;
        case -1:
            return still_valid(ctx, g, now, token) ? APR_SUCCESS : APR_EGENERAL;
        default:
            return APR_EGENERAL;
        }
        if (cn_grant_lease(ctx, g, now, until, ctx->now + CN_ACCESS_MARGIN, &won) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        if (won) {
            /* App-permission grants: a token minted anew (flow/app_token.c). */
            apr_status_t rv = cn_app_token_mint(ctx, g, until, token);
            if (rv == APR_ENOTIMPL) {
                rv = refresh(ctx, g, until, token);
            }
            cn_metrics_refresh(ctx->metrics, rv == APR_SUCCESS ? CN_METRIC_REFRESH_DONE
                                                               : CN_METRIC_REFRESH_FAILED);
            if (rv != APR_SUCCESS && ctx->res.retry_after && still_valid(ctx, g, now, token)) {
                return APR_SUCCESS;
            }
            return rv;
        }
        if (cn_ctx_time(ctx) >= deadline) {
            cn_fail(ctx->pool, &ctx->res, CN_EV_SERVICE_UNAVAILABLE,
                    "a refresh of this grant's access token is still running");
            ctx->res.retry_after = 1;
            return APR_EGENERAL;
        }
        /* Another caller refreshes (or a token came meanwhile): look again. */
        cn_ctx_db_close(ctx);
        waited = 1;
        cn_ctx_sleep(ctx, apr_time_from_msec(CN_ACCESS_POLL_MS));
        if (cn_ctx_db_open(ctx) != APR_SUCCESS || cn_grant_load(ctx, g->id, &g) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
}

apr_status_t cn_grant_access_token(cn_ctx_t *ctx, const char *id, json_t *body, json_t **out)
{
    static const char *const allowed[] = {"include_password", NULL};
    const char *bad, *token = NULL;
    int with_password = 0;
    cn_grant_t *g;
    apr_status_t rv;
    if ((bad = cn_json_unknown_key(body, allowed))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "unknown field '%s'",
                       bad);
    }
    if (cn_json_get_bool(body, "include_password", &with_password) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "include_password must be true or false");
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_grant_load(ctx, id, &g);
    if (rv == APR_SUCCESS && cn_provider_can(g->provider, CN_PROVIDER_PASSWORD)) {
        rv = imap_answer(ctx, g, with_password, out);
    }
    else if (rv == APR_SUCCESS && cn_provider_can(g->provider, CN_PROVIDER_OAUTH)) {
        rv = oauth_token(ctx, g, &token);
        if (rv == APR_SUCCESS) {
            *out = oauth_answer(ctx, g, token);
        }
    }
    else if (rv == APR_SUCCESS) {
        rv = cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED,
                     "a %s grant has no access token", g->provider);
    }
    if (ctx->db) {
        cn_ctx_db_close(ctx);
    }
    return rv;
}

apr_status_t cn_grant_refresh_unused(cn_ctx_t *ctx, const char *id, apr_int64_t unused_before,
                                     cn_refresh_outcome_t *outcome)
{
    apr_int64_t now, until;
    const char *token = NULL;
    cn_grant_t *g = NULL;
    apr_status_t rv;
    int won = 0;
    *outcome = CN_REFRESH_SKIPPED;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    now = apr_time_sec(cn_ctx_time(ctx));
    until = now + CN_ACCESS_LEASE;
    rv = cn_grant_load(ctx, id, &g);
    if (rv != APR_SUCCESS) {
        /* deleted meanwhile: nothing to do */
        rv = ctx->res.event && ctx->res.event->id == CN_EV_GRANT_NOT_FOUND ? APR_SUCCESS : rv;
    }
    else if (cn_provider_can(g->provider, CN_PROVIDER_OAUTH)
             && (rv = cn_grant_lease_unused(ctx, g, now, until, unused_before, &won))
                    == APR_SUCCESS
             && won) {
        if (refresh(ctx, g, until, &token) == APR_SUCCESS) {
            *outcome = CN_REFRESH_DONE;
        }
        else {
            *outcome = strcmp(g->grant_status, "valid") ? CN_REFRESH_INVALID : CN_REFRESH_FAILED;
        }
        cn_metrics_refresh(ctx->metrics, *outcome == CN_REFRESH_DONE ? CN_METRIC_REFRESH_DONE
                                                                     : CN_METRIC_REFRESH_FAILED);
    }
    if (ctx->db) {
        cn_ctx_db_close(ctx);
    }
    return rv;
}
