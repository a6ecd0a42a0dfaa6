/* The flow engine: the tables of kinds and upstream steps, the flow record
 * sealed into the browser's session, and the two moves every flow makes
 * (launch, complete). What a kind or a step does lives in its own file. */
#include <string.h>
#include <apr_strings.h>

#include "cn_flow.h"
#include "flow.h"

/* The kinds of flow: what starts one and what the application hears. */
static const cn_flow_kind_t *const kinds[] = {
    &cn_flow_kind_hosted,
    &cn_flow_kind_authorize,
    &cn_flow_kind_adminconsent,
    &cn_flow_kind_contextio,
    NULL
};

/* The upstream steps: how a mailbox is proven, by provider capability. */
static const cn_flow_step_t *const steps[] = {
    &cn_flow_step_oauth2,
    &cn_flow_step_imap,
    NULL
};

/* Kinds whose flows always take one step, whatever their provider. */
static const struct kind_step_t {
    const char *kind;
    const cn_flow_step_t *step;
} kind_steps[] = {
    {CN_LOGIN_ADMINCONSENT, &cn_flow_step_adminconsent},
    {NULL, NULL}
};

/* The step of a flow of KIND for PROVIDER. */
static const cn_flow_step_t *step_for(const char *kind, const char *provider)
{
    const struct kind_step_t *ks;
    for (ks = kind_steps; kind && ks->kind; ++ks) {
        if (!strcmp(ks->kind, kind)) {
            return ks->step;
        }
    }
    return cn_flow_step_for(provider);
}

const cn_flow_kind_t *cn_flow_kind(const char *name)
{
    const cn_flow_kind_t *const *k;
    for (k = kinds; name && *k; ++k) {
        if (!strcmp((*k)->name, name)) {
            return *k;
        }
    }
    return NULL;
}

const cn_flow_step_t *cn_flow_step_for(const char *provider)
{
    const cn_provider_t *p = cn_provider(provider);
    const cn_flow_step_t *const *s;
    for (s = steps; p && *s; ++s) {
        if (p->caps & (*s)->caps) {
            return *s;
        }
    }
    return NULL;
}

apr_status_t cn_flow_new(cn_ctx_t *ctx, const char *kind, cn_flow_t **out)
{
    cn_flow_t *f = apr_pcalloc(ctx->pool, sizeof(*f));
    f->kind = kind;
    f->created = ctx->now;
    if (cn_random_token(ctx->pool, 32, &f->state) != APR_SUCCESS
        || cn_random_token(ctx->pool, 32, &f->verifier) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "randomness");
    }
    *out = f;
    return APR_SUCCESS;
}

/* ---- the flow in the browser's session ---- */

const char *cn_flow_session_key(apr_pool_t *pool, const char *state)
{
    const char *hex = cn_sha256_hex(pool, state, strlen(state));
    return apr_pstrcat(pool, CN_FLOW_SESSION_PREFIX, apr_pstrndup(pool, hex, 8), NULL);
}

static const char *aad_of(apr_pool_t *pool, const char *key)
{
    return apr_pstrcat(pool, "session.", key, NULL);
}

/* The optional fields of a sealed flow: absent when NULL. */
static void seal_optional(json_t *j, const char *key, const char *v)
{
    if (v) {
        json_object_set_new(j, key, json_string(v));
    }
}

apr_status_t cn_flow_seal(cn_ctx_t *ctx, const cn_flow_t *f, const char **key,
                          const char **sealed)
{
    json_t *j = cn_json_own(ctx->pool,
                            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "kind", f->kind,
                                      "app", f->app_id, "integration", f->integration_id,
                                      "provider", f->provider, "origin", f->origin, "state",
                                      f->state, "verifier", f->verifier, "created",
                                      (json_int_t)f->created, "deadline",
                                      (json_int_t)f->deadline));
    const char *text;
    if (j) {
        seal_optional(j, "hint", f->login_hint);
        seal_optional(j, "type", f->mail_type);
        seal_optional(j, "return", f->return_origin);
    }
    text = j ? cn_json_dump(ctx->pool, j) : NULL;
    *key = cn_flow_session_key(ctx->pool, f->state);
    if (!text || cn_crypto_seal(ctx->pool, ctx->ring, text, strlen(text),
                                aad_of(ctx->pool, *key), sealed) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "sealing a flow");
    }
    return APR_SUCCESS;
}

apr_status_t cn_flow_unseal(cn_ctx_t *ctx, const char *key, const char *sealed,
                            cn_flow_t **out)
{
    const char *plain;
    apr_size_t len;
    json_int_t created = 0, deadline = 0;
    json_t *j;
    cn_flow_t *f = apr_pcalloc(ctx->pool, sizeof(*f));
    if (!sealed || cn_crypto_open(ctx->pool, ctx->ring, sealed, aad_of(ctx->pool, key), &plain,
                                  &len) != APR_SUCCESS
        || !(j = cn_json_parse(ctx->pool, plain, len, NULL))
        || json_unpack(j, "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s?:s,s?:s,s?:s}", "kind",
                       &f->kind, "app", &f->app_id, "integration", &f->integration_id,
                       "provider", &f->provider, "origin", &f->origin, "state", &f->state,
                       "verifier", &f->verifier, "created", &created, "deadline", &deadline,
                       "hint", &f->login_hint, "type", &f->mail_type, "return",
                       &f->return_origin)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       "the sign-in in this browser's session cannot be read");
    }
    f->created = created;
    f->deadline = deadline;
    *out = f;
    return APR_SUCCESS;
}

apr_status_t cn_flow_open(cn_ctx_t *ctx, const char *key, const char *sealed, const char *state,
                          cn_flow_t **out)
{
    cn_flow_t *f;
    if (cn_flow_unseal(ctx, key, sealed, &f) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!state || !cn_ct_equal(state, strlen(state), f->state, strlen(f->state))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       "state does not match this browser's");
    }
    if (f->deadline <= ctx->now) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       "the sign-in took longer than allowed");
    }
    if (!cn_flow_kind(f->kind)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID,
                       "a sign-in of a kind this server does not run");
    }
    *out = f;
    return APR_SUCCESS;
}

/* ---- running a flow ---- */

/* KIND's ORIGIN as the database has it now (MOVE: claim or resume). */
static apr_status_t load_origin(cn_ctx_t *ctx, const cn_flow_t *flow,
                                apr_status_t (*move)(cn_ctx_t *, const cn_flow_t *,
                                                     cn_flow_origin_t *),
                                cn_flow_origin_t *origin)
{
    apr_status_t rv;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = move(ctx, flow, origin);
    cn_ctx_db_close(ctx);
    return rv;
}

const cn_flow_step_t *cn_flow_step_of(const cn_flow_t *flow)
{
    return step_for(flow->kind, flow->provider);
}

const char *cn_flow_csrf(apr_pool_t *pool, const cn_flow_t *flow)
{
    const char *seed = apr_pstrcat(pool, "csrf.", flow->verifier, NULL);
    unsigned char digest[32];
    cn_sha256(seed, strlen(seed), digest);
    return cn_b64url_encode(pool, digest, sizeof(digest));
}

int cn_flow_csrf_ok(apr_pool_t *pool, const cn_flow_t *flow, const char *token)
{
    const char *want = cn_flow_csrf(pool, flow);
    return token && cn_ct_equal(token, strlen(token), want, strlen(want));
}

apr_status_t cn_flow_launch(cn_ctx_t *ctx, const cn_flow_t *flow, const char **location)
{
    const cn_flow_kind_t *kind = cn_flow_kind(flow->kind);
    const cn_flow_step_t *step;
    cn_flow_origin_t origin = {0};
    if (!kind) {
        return cn_fail_internal(ctx, "a flow of an unknown kind");
    }
    if (load_origin(ctx, flow, kind->claim, &origin) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (flow->login_hint) { /* chosen on the login screen */
        origin.login_hint = flow->login_hint;
    }
    if (!(step = step_for(flow->kind, origin.it->provider))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED, NULL);
    }
    return step->start(ctx, flow, &origin, location);
}

/* A form step's submission, proven before the origin is resumed (resuming
 * accepts the flow's end once): FLOW's integration as it is now. */
static apr_status_t form_integration(cn_ctx_t *ctx, const cn_flow_t *flow, cn_integration_t **it)
{
    apr_status_t rv;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    ctx->app_id = flow->app_id;
    rv = cn_integration_load(ctx, flow->provider, it);
    cn_ctx_db_close(ctx);
    if (rv == APR_ENOENT || (rv == APR_SUCCESS && strcmp((*it)->id, flow->integration_id))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_NO_LONGER_EXISTS, NULL);
    }
    return rv == APR_SUCCESS ? APR_SUCCESS : cn_fail_db(ctx);
}

apr_status_t cn_flow_complete(cn_ctx_t *ctx, const cn_flow_t *flow, const apr_table_t *query,
                              const char **location, const char **retry_field)
{
    const cn_flow_kind_t *kind = cn_flow_kind(flow->kind);
    const cn_flow_step_t *step = cn_flow_step_of(flow);
    cn_flow_origin_t origin = {0};
    cn_flow_proof_t proof = {0};
    apr_status_t proven = APR_EGENERAL;
    cn_result_t why = {0};

    if (retry_field) {
        *retry_field = NULL;
    }
    if (!kind) {
        return cn_fail_internal(ctx, "a flow of an unknown kind");
    }
    if (step && step->form) {
        cn_flow_origin_t partial = {0};
        cn_integration_t *it;
        if (form_integration(ctx, flow, &it) != APR_SUCCESS) {
            return APR_EGENERAL; /* a page */
        }
        partial.it = it;
        partial.login_hint = flow->login_hint;
        proven = step->finish(ctx, flow, &partial, query, &proof);
        if (proven == APR_EAGAIN) {
            if (retry_field) {
                *retry_field = proof.retry_field;
            }
            return APR_EAGAIN;
        }
        why = ctx->res;
    }
    if (load_origin(ctx, flow, kind->resume, &origin) != APR_SUCCESS) {
        return APR_EGENERAL; /* a page: the redirect URI is not known to be good */
    }
    /* From here on, the application hears of every outcome. */
    if (!step || step != step_for(flow->kind, origin.it->provider)) {
        cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED, NULL);
    }
    else if (step->form && proven != APR_SUCCESS) {
        ctx->res = why;
    }
    else if ((step->form || step->finish(ctx, flow, &origin, query, &proof) == APR_SUCCESS)
             && kind->done(ctx, flow, &origin, &proof, location) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    *location = kind->failed(ctx, flow, &origin);
    return APR_SUCCESS;
}
