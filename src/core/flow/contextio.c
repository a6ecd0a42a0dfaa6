/* Context.IO's native account creation (POST /accounts, POST
 * /accounts/{id}/sources): a source given by IMAP settings or by a provider
 * refresh token is proven the way POST /grants proves it (cn_flow_native:
 * an IMAP LOGIN, a provider refresh), then becomes a source of the account.
 * Deleting a source or an account deletes its grants (cn_grant_revoke).
 * And the connect UI: a kind of flow begun from a connect token, whose end
 * stores the account and sends the browser to callback_url?contextio_token=. */
#include <string.h>
#include <apr_strings.h>

#include "cn_flow.h"
#include "cn_proto.h"
#include "cn_discover.h"
#include "cn_util.h"
#include "flow.h"

static apr_status_t bad(cn_ctx_t *ctx, const char *what)
{
    return cn_fail(ctx->pool, &ctx->res, CN_EV_BAD_REQUEST, "%s", what);
}

/* The OAuth provider whose integration has client id CONSUMER_KEY. */
static apr_status_t provider_of_consumer(cn_ctx_t *ctx, const char *consumer_key,
                                         const char **provider)
{
    static const char *const oauth[] = {"google", "microsoft", NULL};
    const char *const *p;
    *provider = NULL;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (p = oauth; *p; ++p) {
        cn_integration_t *it = NULL;
        const char *id = NULL;
        if (cn_integration_load(ctx, *p, &it) == APR_SUCCESS && it
            && cn_json_get_string(it->settings, "client_id", &id) == APR_SUCCESS && id
            && !strcmp(id, consumer_key)) {
            *provider = *p;
            break;
        }
    }
    cn_ctx_db_close(ctx);
    if (!*provider) {
        return bad(ctx, "provider_consumer_key is not the client id of this application's "
                        "google or microsoft integration");
    }
    return APR_SUCCESS;
}

apr_status_t cn_cio_source_body(cn_ctx_t *ctx, const apr_table_t *params, const char *email,
                                json_t **body)
{
    const char *refresh = apr_table_get(params, "provider_refresh_token");
    const char *consumer = apr_table_get(params, "provider_consumer_key");
    const char *type = apr_table_get(params, "type");
    *body = NULL;
    if (refresh) {
        const char *provider = NULL;
        if (!*refresh || !consumer || !*consumer) {
            return bad(ctx, "provider_refresh_token and provider_consumer_key go together");
        }
        if (provider_of_consumer(ctx, consumer, &provider) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        *body = cn_json_own(ctx->pool, json_pack("{s:s,s:{s:s}}", "provider", provider,
                                                 "settings", "refresh_token", refresh));
    }
    else {
        const char *server = apr_table_get(params, "server");
        const char *username = apr_table_get(params, "username");
        const char *password = apr_table_get(params, "password");
        const char *port = apr_table_get(params, "port");
        const char *ssl = apr_table_get(params, "use_ssl");
        apr_int64_t n;
        char *end = NULL;
        if (type && strcasecmp(type, "imap")) {
            return bad(ctx, "type must be IMAP");
        }
        if (!server || !username || !password || !port || !*server || !*username
            || !*password) {
            return bad(ctx, "a source needs server, username, password and port (type=IMAP), "
                            "or provider_refresh_token and provider_consumer_key");
        }
        n = apr_strtoi64(port, &end, 10);
        if (!*port || *end || n < 1 || n > 65535) {
            return bad(ctx, "port must be a number from 1 to 65535");
        }
        if (ssl && strcmp(ssl, "0") && strcmp(ssl, "1")) {
            return bad(ctx, "use_ssl must be 0 or 1");
        }
        /* use_ssl=0 is IMAP on a plain port: the password still goes only
         * inside TLS, after STARTTLS */
        *body = cn_json_own(ctx->pool,
                            json_pack("{s:s,s:{s:s,s:s,s:s,s:I,s:s,s:s}}", "provider", "imap",
                                      "settings", "imap_username", username, "imap_password",
                                      password, "imap_host", server, "imap_port", (json_int_t)n,
                                      "imap_security", ssl && !strcmp(ssl, "0") ? "starttls"
                                                                                : "ssl",
                                      "email", email));
    }
    return *body ? APR_SUCCESS : cn_fail_internal(ctx, "a source body does not build");
}

apr_status_t cn_cio_source_add(cn_ctx_t *ctx, const cn_cio_account_t *account, json_t *body,
                               cn_grant_t **grant)
{
    int reauth = 0;
    *grant = NULL;
    if (cn_flow_native(ctx, body, grant, &reauth) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return cn_cio_grant_link(ctx, (*grant)->id, account->id);
}

apr_status_t cn_cio_source_remove(cn_ctx_t *ctx, const char *account_id, const char *label)
{
    apr_array_header_t *ids = NULL;
    int i;
    if (cn_cio_account_grant_ids(ctx, account_id, &ids) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (i = 0; i < ids->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(ids, i, const char *), label)) {
            return cn_grant_revoke(ctx, label);
        }
    }
    return cn_fail(ctx->pool, &ctx->res, CN_EV_NOT_FOUND_ERROR, "no such source");
}

apr_status_t cn_cio_account_delete(cn_ctx_t *ctx, const char *account_id)
{
    apr_array_header_t *ids = NULL;
    int i;
    if (cn_cio_account_grant_ids(ctx, account_id, &ids) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (i = 0; i < ids->nelts; ++i) {
        /* a grant deleted meanwhile (through the Unified Auth API) is gone already */
        if (cn_grant_revoke(ctx, APR_ARRAY_IDX(ids, i, const char *)) != APR_SUCCESS
            && (!ctx->res.event || ctx->res.event->id != CN_EV_GRANT_NOT_FOUND)) {
            return APR_EGENERAL;
        }
    }
    return cn_cio_account_remove(ctx, account_id);
}

/* ---- the connect UI: a kind of flow --------------------------------------------- */

/* The providers the connect UI offers, in this order, when the application
 * has an integration of them. */
static const char *const ui_providers[] = {"google", "microsoft", "imap", NULL};

apr_status_t cn_flow_cio_choose(cn_ctx_t *ctx, const char *token, const char *chosen,
                                const char *email, const char *first_name, const char *last_name,
                                cn_flow_t **out, cn_flow_screen_t **screen)
{
    cn_cio_token_t *t = NULL;
    apr_array_header_t *usable;
    cn_integration_t *it = NULL;
    const char *const *p;
    apr_status_t rv = APR_SUCCESS;
    int i;
    *out = NULL;
    *screen = NULL;
    if (!token || !*token || strlen(token) > 128) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_LOGIN_ID_INVALID, "no connect link");
    }
    if (cn_cio_token_by_digest(ctx, cn_sha256_hex(ctx->pool, token, strlen(token)), &t)
        != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    ctx->app_id = t->app_id;
    usable = apr_array_make(ctx->pool, 3, sizeof(cn_integration_t *));
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (p = ui_providers; *p && rv == APR_SUCCESS; ++p) {
        cn_integration_t *one = NULL;
        rv = cn_integration_load(ctx, *p, &one);
        if (rv == APR_SUCCESS && one) {
            APR_ARRAY_PUSH(usable, cn_integration_t *) = one;
        }
        else if (rv == APR_ENOENT) {
            rv = APR_SUCCESS;
        }
    }
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (!usable->nelts) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_NOT_FOUND,
                       "the application has no integration to connect a mailbox with");
    }
    if (email && !*email) { /* the first page's provider buttons send the box as it is */
        email = NULL;
    }
    if (*t->email) { /* given on creation: the first page is skipped (seed 000) */
        email = t->email;
    }
    else if ((first_name || last_name)
             && cn_cio_token_names(ctx, t, first_name, last_name) != APR_SUCCESS) {
        /* names that cannot be kept: the first page again, saying so */
        *screen = apr_pcalloc(ctx->pool, sizeof(**screen));
        (*screen)->error = CN_EV_INVALID_REQUEST;
        (*screen)->email = email;
    }
    if (*screen) {
        /* the first page again */
    }
    else if (email && (!cn_email_valid(email) || strlen(email) > 254)) {
        *screen = apr_pcalloc(ctx->pool, sizeof(**screen));
        (*screen)->error = CN_EV_INVALID_REQUEST;
        (*screen)->email = email;
    }
    else if (chosen) {
        if (!(it = cn_flow_offered(usable, chosen))) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_NOT_SUPPORTED,
                           "the provider chosen is not one this link offers");
        }
    }
    else if (email && !(it = cn_flow_offered(usable, cn_flow_detect_provider(ctx, email)))) {
        *screen = apr_pcalloc(ctx->pool, sizeof(**screen));
        (*screen)->error = CN_EV_PROVIDER_NOT_SUPPORTED;
        (*screen)->email = email;
    }
    if (!it) {
        if (!*screen) {
            *screen = apr_pcalloc(ctx->pool, sizeof(**screen));
        }
        (*screen)->prompt.detect = 1;
        (*screen)->prompt.detect_first = 1;
        (*screen)->prompt.select = 1;
        (*screen)->names = !*t->email;
        (*screen)->first_name = first_name ? first_name : t->first_name;
        (*screen)->last_name = last_name ? last_name : t->last_name;
        (*screen)->return_origin = cn_url_origin(ctx->pool, t->callback_url);
        (*screen)->providers = apr_array_make(ctx->pool, usable->nelts, sizeof(const char *));
        for (i = 0; i < usable->nelts; ++i) {
            APR_ARRAY_PUSH((*screen)->providers, const char *) =
                APR_ARRAY_IDX(usable, i, cn_integration_t *)->provider;
        }
        return APR_SUCCESS;
    }
    if (cn_flow_new(ctx, CN_FLOW_KIND_CONTEXTIO, out) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    (*out)->app_id = t->app_id;
    (*out)->integration_id = it->id;
    (*out)->provider = it->provider;
    (*out)->origin = t->digest;
    (*out)->deadline = t->expires_at;
    (*out)->login_hint = email;
    (*out)->return_origin = cn_url_origin(ctx->pool, t->callback_url);
    return APR_SUCCESS;
}

/* The token of FLOW, still unused, and its integration as they are now. */
static apr_status_t cio_origin(cn_ctx_t *ctx, const cn_flow_t *flow, cn_flow_origin_t *origin)
{
    cn_cio_token_t *t = NULL;
    cn_integration_t *it = NULL;
    apr_status_t rv;
    if (cn_cio_token_by_digest(ctx, flow->origin, &t) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    ctx->app_id = t->app_id;
    rv = cn_integration_load(ctx, flow->provider, &it);
    if (rv == APR_ENOENT || (rv == APR_SUCCESS && strcmp(it->id, flow->integration_id))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INTEGRATION_NO_LONGER_EXISTS, NULL);
    }
    if (rv != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    origin->it = it;
    origin->scope = it->scope;
    origin->redirect_uri = t->callback_url;
    origin->login_hint = flow->login_hint;
    origin->data = t;
    return APR_SUCCESS;
}

/* callback_url with contextio_token (and the error, when it failed). */
static const char *back_to_app(cn_ctx_t *ctx, const cn_flow_origin_t *origin, const char *error)
{
    const cn_cio_token_t *t = origin->data;
    const char *pairs[] = {"contextio_token", t->token, "error", error, NULL, NULL};
    return cn_http_url_with_query(ctx->pool, t->callback_url, pairs);
}

/* source_callback_url, when the token has one, hears of the new source: a
 * form POST (account_id, source_label, email, status), best effort, after
 * the database is done with. The application chose the URL: it is held to
 * the address rule of user-chosen destinations (ConnectAllowAddresses). */
static void tell_source_callback(cn_ctx_t *ctx, const cn_cio_token_t *t, const char *account,
                                 const cn_grant_t *grant)
{
    const char *pairs[] = {"account_id", account, "source_label", grant->id, "email",
                           grant->email, "status", "OK", NULL, NULL};
    cn_http_request_t req = {0};
    cn_http_response_t resp = {0};
    apr_status_t rv;
    if (!t->source_callback_url || !ctx->http || !ctx->http->perform) {
        return;
    }
    req.method = "POST";
    req.url = t->source_callback_url;
    req.content_type = "application/x-www-form-urlencoded";
    req.body = cn_http_form(ctx->pool, pairs);
    req.body_len = strlen(req.body);
    req.accept = "*/*";
    req.max_response = 4096;
    req.timeout_ms = 5000;
    req.user_chosen = 1;
    req.allow = ctx->discover ? ctx->discover->allow : NULL;
    rv = ctx->http->perform(ctx->http, ctx->pool, &req, &resp);
    cn_log(ctx, rv == APR_SUCCESS && resp.status / 100 == 2 ? CN_LOG_INFO : CN_LOG_WARNING,
           CNLOGNO(03006) "source_callback_url of account %s: %s %d%s%s", account,
           rv == APR_SUCCESS ? "answered" : "not reached, status", rv == APR_SUCCESS ? resp.status : rv,
           resp.error ? ": " : "", resp.error ? resp.error : "");
}

static apr_status_t cio_done(cn_ctx_t *ctx, const cn_flow_t *flow, const cn_flow_origin_t *origin,
                             const cn_flow_proof_t *proof, const char **location)
{
    cn_grant_t *grant = NULL;
    const char *account = NULL;
    int reauth = 0;
    (void)flow;
    if (cn_flow_connect(ctx, origin->it, origin->scope, NULL, NULL, proof, &grant, &reauth)
            != APR_SUCCESS
        || cn_cio_token_use(ctx, origin->data, grant, &account) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    cn_log(ctx, CN_LOG_INFO, CNLOGNO(03004) "connect token used: grant %s (%s) is a source of "
           "account %s", grant->id, origin->it->provider, account);
    tell_source_callback(ctx, origin->data, account, grant);
    *location = back_to_app(ctx, origin, NULL);
    return APR_SUCCESS;
}

static const char *cio_failed(cn_ctx_t *ctx, const cn_flow_t *flow,
                              const cn_flow_origin_t *origin)
{
    const cn_result_t *res = &ctx->res;
    (void)flow;
    cn_log(ctx, CN_LOG_WARNING, CNLOGNO(03005) "connect UI %s sign-in failed: %s (%d)%s%s",
           origin->it->provider, res->event->type, res->event->code,
           res->description ? ": " : "", res->description ? res->description : "");
    return back_to_app(ctx, origin, res->event->type);
}

/* The token is spent when the flow ends (marked used with its account), not
 * when it starts: the browser may go back and choose another way in. */
const cn_flow_kind_t cn_flow_kind_contextio = {
    CN_FLOW_KIND_CONTEXTIO, cio_origin, cio_origin, cio_done, cio_failed
};
