/* The Context.IO 2.0 API (`SetHandler contextio`): its route table, the
 * OAuth 1.0a signature check that stands where the Unified Auth API checks
 * Basic, Context.IO's JSON shapes and its error answer. The dispatch, the
 * body reading and the JSON output are handler.c's. */
#include <apr_strings.h>
#include <apr_lib.h>
#include <http_core.h>

#include "cn_request.h"

/* ---- answers ------------------------------------------------------------- */

int cn_cio_reply_error(cn_req_t *req, int status, const char *message)
{
    json_t *body = cn_json_own(req->r->pool,
                               json_pack("{s:s,s:s}", "type", "error", "value", message));
    if (status == HTTP_UNAUTHORIZED) {
        apr_table_setn(req->r->err_headers_out, "WWW-Authenticate", CN_OAUTH_CHALLENGE);
    }
    return cn_reply_json(req, status, body);
}

/* The URL the client called, up to the mount: scheme, host and port of the
 * request (what it signed; ServerName's with UseCanonicalName On), then the
 * <Location>'s path. */
static const char *api_base(cn_req_t *req)
{
    request_rec *r = req->r;
    apr_size_t n = strlen(r->uri), k = strlen(req->path);
    const char *mount = n >= k ? apr_pstrndup(r->pool, r->uri, n - k) : "";
    const char *host = ap_get_server_name(r);
    const char *url = cn_oauth1_base_uri(r->pool, ap_http_scheme(r), host ? host : "localhost",
                                         ap_get_server_port(r), mount);
    n = strlen(url);
    return n && url[n - 1] == '/' ? apr_pstrndup(r->pool, url, n - 1) : url;
}

/* ---- the signature ------------------------------------------------------- */

static int refuse(cn_req_t *req, int *answer, const char *why)
{
    *answer = cn_reply_error(req, CN_EV_INVALID_REQUEST_ERROR, why);
    return 0;
}

int cn_cio_authenticate(cn_req_t *req, const cn_route_t *rt, int *answer)
{
    request_rec *r = req->r;
    cn_oauth1_request_t o = {0};
    cn_oauth1_signed_t *s = NULL;
    const cn_app_t *app;
    const char *why = NULL, *form = NULL, *token_secret = NULL, *base_uri, *host;
    apr_size_t form_len = 0;
    int i, account_route = rt->auth == CN_AUTH_OAUTH1_ACCOUNT;

    /* §3.4.1.3.1: form parameters are signed too, so the body is read first */
    if (cn_content_type_is(r, "application/x-www-form-urlencoded")) {
        if (cn_read_body(req, 0, &form, &form_len) != APR_SUCCESS) {
            *answer = cn_reply_result(req);
            return 0;
        }
    }
    o.method = r->method;
    o.authorization = apr_table_get(r->headers_in, "Authorization");
    o.query = r->args;
    o.form = form;
    o.form_len = form_len;
    if (cn_oauth1_collect(r->pool, &o, &s, &why) != APR_SUCCESS
        || cn_oauth1_check_fields(s, req->ctx.now, &why) != APR_SUCCESS) {
        return refuse(req, answer, why);
    }
    app = apr_hash_get(req->sc->apps_by_id, s->consumer_key, APR_HASH_KEY_STRING);
    if (!app) {
        return refuse(req, answer, "unknown oauth_consumer_key");
    }
    req->ctx.app_id = app->client_id;
    if (app->three_legged && account_route) {
        cn_cio_account_t *account = NULL;
        if (!s->token || !*s->token) {
            return refuse(req, answer, "this application signs account calls 3-legged: "
                                       "oauth_token must be the account's access token");
        }
        if (cn_cio_account_by_access_token(&req->ctx, s->token, &account, &token_secret)
            != APR_SUCCESS) {
            *answer = cn_reply_result(req);
            return 0;
        }
        if (strcmp(account->id, req->params[0])) {
            return refuse(req, answer, "oauth_token is another account's access token");
        }
        req->account_id = account->id;
    }
    else if (s->token && *s->token) {
        return refuse(req, answer, app->three_legged
                                       ? "calls of the application are signed 2-legged: "
                                         "oauth_token must be empty"
                                       : "this application signs 2-legged: oauth_token must be "
                                         "empty");
    }
    /* what the client called: the Host header's name and port (UseCanonicalName
     * Off, the default), or ServerName's, scheme included, behind a proxy */
    host = ap_get_server_name(r);
    base_uri = cn_oauth1_base_uri(r->pool, ap_http_scheme(r), host ? host : "localhost",
                                  ap_get_server_port(r), r->parsed_uri.path);
    if (!cn_oauth1_signature_valid(r->pool, s, r->method, base_uri, app->oauth1_secret,
                                   token_secret)) {
        cn_log(req, APLOG_INFO, CNLOGNO(03003) "OAuth 1.0a signature of %s does not match "
               "(base URI %s, %s)", app->client_id, base_uri,
               s->from_header ? "header" : "parameters");
        return refuse(req, answer, "the signature does not match");
    }
    if (cn_oauth1_nonce_spend(&req->ctx, s) != APR_SUCCESS) {
        *answer = cn_reply_result(req);
        return 0;
    }
    req->app = app;
    /* what the handlers read: the query's and the form's parameters */
    req->cio_params = apr_table_make(r->pool, s->params->nelts + 1);
    for (i = 0; i < s->params->nelts; ++i) {
        const cn_oauth1_param_t *p = &APR_ARRAY_IDX(s->params, i, cn_oauth1_param_t);
        if (strncmp(p->name, "oauth_", 6)) {
            apr_table_addn(req->cio_params, p->name, p->value);
        }
    }
    return 1;
}

/* A parameter given once, or several times with one value. */
static const char *param(cn_req_t *req, const char *name)
{
    return apr_table_get(req->cio_params, name);
}

static int ok(cn_req_t *req, json_t *body)
{
    return cn_reply_json(req, HTTP_OK, body);
}

static int success(cn_req_t *req)
{
    return ok(req, cn_json_own(req->r->pool, json_pack("{s:b}", "success", 1)));
}

/* ---- connect tokens ------------------------------------------------------- */

static int token_created(cn_req_t *req, const char *account_id, const char *token)
{
    apr_pool_t *p = req->r->pool;
    const char *resource = account_id
                               ? apr_pstrcat(p, api_base(req), "/accounts/",
                                             cn_url_encode(p, account_id), "/connect_tokens/",
                                             token, NULL)
                               : apr_pstrcat(p, api_base(req), "/connect_tokens/", token, NULL);
    return ok(req, cn_json_own(p, json_pack("{s:b,s:s,s:s,s:s}", "success", 1, "token", token,
                                            "resource_url", resource, "browser_redirect_url",
                                            apr_pstrcat(p, req->sc->base_url, CN_CIO_CONNECT_PATH,
                                                        "?token=", token, NULL))));
}

static int token_create(cn_req_t *req)
{
    const char *token = NULL;
    apr_status_t rv = cn_cio_token_create(&req->ctx, NULL, req->cio_params, &token);
    return ANSWER(req, rv, token_created(req, NULL, token));
}

static int token_list(cn_req_t *req)
{
    json_t *out = NULL;
    apr_status_t rv = cn_cio_token_list(&req->ctx, NULL, &out);
    return ANSWER(req, rv, ok(req, out));
}

/* A 3-legged application learns the access token of an account the connect
 * UI made from the first read of its used token: added to OUT's account
 * that once (the secret is sealed in the row from then on). */
static json_t *with_account_token(cn_req_t *req, json_t *out)
{
    json_t *account = out ? json_object_get(out, "account") : NULL;
    const char *id = json_string_value(json_object_get(account, "id")), *token, *secret;
    if (req->app->three_legged && id
        && cn_cio_account_issue_token(&req->ctx, id, &token, &secret) == APR_SUCCESS && token) {
        json_object_set_new(account, "access_token", json_string(token));
        json_object_set_new(account, "access_token_secret", json_string(secret));
    }
    return out;
}

static int token_read(cn_req_t *req)
{
    json_t *out = NULL;
    apr_status_t rv = cn_cio_token_read(&req->ctx, NULL, req->params[0], &out);
    return ANSWER(req, rv, ok(req, with_account_token(req, out)));
}

static int token_delete(cn_req_t *req)
{
    apr_status_t rv = cn_cio_token_delete(&req->ctx, NULL, req->params[0]);
    return ANSWER(req, rv, success(req));
}

/* ---- accounts ------------------------------------------------------------- */

static int account_exists(cn_req_t *req, cn_cio_account_t **account)
{
    return cn_cio_account_load(&req->ctx, req->params[0], account) == APR_SUCCESS;
}

static int account_token_create(cn_req_t *req)
{
    cn_cio_account_t *a = NULL;
    const char *token = NULL;
    apr_status_t rv;
    if (!account_exists(req, &a)) {
        return cn_reply_result(req);
    }
    rv = cn_cio_token_create(&req->ctx, a->id, req->cio_params, &token);
    return ANSWER(req, rv, token_created(req, a->id, token));
}

static int account_token_list(cn_req_t *req)
{
    cn_cio_account_t *a = NULL;
    json_t *out = NULL;
    apr_status_t rv;
    if (!account_exists(req, &a)) {
        return cn_reply_result(req);
    }
    rv = cn_cio_token_list(&req->ctx, a->id, &out);
    return ANSWER(req, rv, ok(req, out));
}

static int account_token_read(cn_req_t *req)
{
    cn_cio_account_t *a = NULL;
    json_t *out = NULL;
    apr_status_t rv;
    if (!account_exists(req, &a)) {
        return cn_reply_result(req);
    }
    rv = cn_cio_token_read(&req->ctx, a->id, req->params[1], &out);
    return ANSWER(req, rv, ok(req, with_account_token(req, out)));
}

static int account_token_delete(cn_req_t *req)
{
    cn_cio_account_t *a = NULL;
    apr_status_t rv;
    if (!account_exists(req, &a)) {
        return cn_reply_result(req);
    }
    rv = cn_cio_token_delete(&req->ctx, a->id, req->params[1]);
    return ANSWER(req, rv, success(req));
}

static int account_list(cn_req_t *req)
{
    int limit, offset;
    json_t *out = NULL;
    apr_status_t rv;
    if (cn_paging_parse(&req->ctx, param(req, "limit"), param(req, "offset"), &limit, &offset)
        != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    rv = cn_cio_account_list(&req->ctx, param(req, "email"), limit, offset, &out);
    return ANSWER(req, rv, ok(req, out));
}

static int account_read(cn_req_t *req)
{
    cn_cio_account_t *a = NULL;
    json_t *out = NULL;
    if (!account_exists(req, &a) || cn_cio_account_json(&req->ctx, a, &out) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    return ok(req, out);
}

static int account_create(cn_req_t *req)
{
    apr_pool_t *p = req->r->pool;
    const char *email = param(req, "email"), *secret = NULL;
    cn_cio_account_t *a = NULL;
    cn_grant_t *grant = NULL;
    json_t *body = NULL, *out;
    /* everything is checked before the source is proven; the account is made
     * only once it is */
    if (cn_cio_account_check(&req->ctx, email, param(req, "first_name"),
                             param(req, "last_name")) != APR_SUCCESS
        || cn_cio_source_body(&req->ctx, req->cio_params, email, &body) != APR_SUCCESS
        || cn_flow_native(&req->ctx, body, &grant, &(int){0}) != APR_SUCCESS
        || cn_cio_account_create(&req->ctx, email, param(req, "first_name"),
                                 param(req, "last_name"), req->app->three_legged, grant->id, &a,
                                 &secret) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    out = cn_json_own(p, json_pack("{s:b,s:s,s:s}", "success", 1, "id", a->id, "resource_url",
                                   apr_pstrcat(p, api_base(req), "/accounts/", a->id, NULL)));
    if (secret) {
        /* returned this once; only the sealed secret stays */
        json_object_set_new(out, "access_token", json_string(a->access_token));
        json_object_set_new(out, "access_token_secret", json_string(secret));
    }
    return ok(req, out);
}

static int account_delete(cn_req_t *req)
{
    cn_cio_account_t *a = NULL;
    if (!account_exists(req, &a) || cn_cio_account_delete(&req->ctx, a->id) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    return success(req);
}

/* ---- sources ----------------------------------------------------------------- */

static int source_list(cn_req_t *req)
{
    cn_cio_account_t *a = NULL;
    json_t *out = NULL;
    if (!account_exists(req, &a) || cn_cio_account_sources(&req->ctx, a->id, &out)
                                        != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    return ok(req, out);
}

static int source_read(cn_req_t *req)
{
    cn_cio_account_t *a = NULL;
    json_t *out = NULL;
    if (!account_exists(req, &a)
        || cn_cio_source_read(&req->ctx, a->id, req->params[1], &out) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    return ok(req, out);
}

static int source_create(cn_req_t *req)
{
    apr_pool_t *p = req->r->pool;
    cn_cio_account_t *a = NULL;
    cn_grant_t *grant = NULL;
    json_t *body = NULL;
    if (!account_exists(req, &a)
        || cn_cio_source_body(&req->ctx, req->cio_params,
                              param(req, "email") ? param(req, "email") : a->email, &body)
               != APR_SUCCESS
        || cn_cio_source_add(&req->ctx, a, body, &grant) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    return ok(req, cn_json_own(p, json_pack("{s:b,s:s,s:s}", "success", 1, "label", grant->id,
                                            "resource_url",
                                            apr_pstrcat(p, api_base(req), "/accounts/", a->id,
                                                        "/sources/", grant->id, NULL))));
}

static int source_delete(cn_req_t *req)
{
    cn_cio_account_t *a = NULL;
    if (!account_exists(req, &a)
        || cn_cio_source_remove(&req->ctx, a->id, req->params[1]) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    return success(req);
}

/* ---- the connect UI ------------------------------------------------------------ */

/* GET <ConnectBaseURL>/contextio/connect?token=[&email=|&provider=]: the
 * login screen (its email box and the application's providers) unless the
 * token has an email, then the flow of the provider for the address. */
int cn_route_cio_connect(cn_req_t *req)
{
    apr_pool_t *p = req->r->pool;
    const char *token = apr_table_get(req->query, "token"), *action;
    cn_flow_t *flow = NULL;
    cn_flow_screen_t *screen = NULL;
    if (cn_flow_cio_choose(&req->ctx, token, apr_table_get(req->query, "provider"),
                           apr_table_get(req->query, "email"),
                           apr_table_get(req->query, "first_name"),
                           apr_table_get(req->query, "last_name"), &flow, &screen)
        != APR_SUCCESS) {
        req->page_app_id = req->ctx.app_id;
        return cn_page_result(req);
    }
    req->page_app_id = req->ctx.app_id;
    if (screen) {
        action = apr_pstrcat(p, req->ctx.base_url, CN_CIO_CONNECT_PATH, NULL);
        return cn_login_screen(req, screen, action,
                               cn_json_own(p, json_pack("[{s:s,s:s}]", "name", "token", "value",
                                                        token)),
                               apr_pstrcat(p, action, "?token=", cn_url_encode(p, token),
                                           "&provider=", NULL));
    }
    return cn_route_flow_start(req, flow);
}

/* Every route of the Context.IO 2.0 API. App-level calls are signed 2-legged;
 * calls under /accounts/{id} with the account's token when the application
 * is 3-legged. Routes that prove a mailbox (an IMAP LOGIN, a provider
 * refresh) or revoke at a provider let the core open short sections. */
#define JSON CN_ANSWER_JSON
#define DB CN_NEEDS_DB
#define NONE CN_NEEDS_NOTHING
#define APP CN_AUTH_OAUTH1
#define ACCOUNT CN_AUTH_OAUTH1_ACCOUNT
const cn_route_t cn_cio_routes[] = {
    {M_GET, "/connect_tokens", APP, JSON, DB, token_list},
    {M_POST, "/connect_tokens", APP, JSON, DB, token_create},
    {M_GET, "/connect_tokens/{token}", APP, JSON, DB, token_read},
    {M_DELETE, "/connect_tokens/{token}", APP, JSON, DB, token_delete},
    {M_GET, "/accounts", APP, JSON, DB, account_list},
    {M_POST, "/accounts", APP, JSON, NONE, account_create},
    {M_GET, "/accounts/{id}", ACCOUNT, JSON, DB, account_read},
    {M_DELETE, "/accounts/{id}", ACCOUNT, JSON, NONE, account_delete},
    {M_GET, "/accounts/{id}/connect_tokens", ACCOUNT, JSON, DB, account_token_list},
    {M_POST, "/accounts/{id}/connect_tokens", ACCOUNT, JSON, DB, account_token_create},
    {M_GET, "/accounts/{id}/connect_tokens/{token}", ACCOUNT, JSON, DB, account_token_read},
    {M_DELETE, "/accounts/{id}/connect_tokens/{token}", ACCOUNT, JSON, DB, account_token_delete},
    {M_GET, "/accounts/{id}/sources", ACCOUNT, JSON, DB, source_list},
    {M_POST, "/accounts/{id}/sources", ACCOUNT, JSON, NONE, source_create},
    {M_GET, "/accounts/{id}/sources/{label}", ACCOUNT, JSON, DB, source_read},
    {M_DELETE, "/accounts/{id}/sources/{label}", ACCOUNT, JSON, NONE, source_delete},
    {0, NULL, CN_AUTH_PUBLIC, JSON, NONE, NULL}
};
