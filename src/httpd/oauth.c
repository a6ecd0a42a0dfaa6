/* The OAuth 2.0 server's endpoints: GET /auth (the browser's, answered with
 * pages and redirects), POST /token and POST /revoke (RFC 6749 / RFC 7009
 * answers, form or JSON bodies, the client by HTTP Basic or in the body),
 * GET /grants/me (a bearer access token) and GET /tokeninfo. Each reads the
 * request and makes one core call. */
#include <apr_lib.h>

#include "cn_request.h"

#define CN_BEARER_CHALLENGE "Bearer realm=\"mod_connect\""

/* ---- GET /auth -------------------------------------------------------------- */

/* The login screen of an authorization request: the request again with the
 * provider of a button, or with the address typed (its other parameters as
 * hidden fields of the email box). */
static int authorize_screen(cn_req_t *req, const cn_flow_screen_t *screen)
{
    apr_pool_t *p = req->r->pool;
    const char *action = apr_pstrcat(p, req->ctx.base_url, "/auth", NULL);
    const apr_array_header_t *arr = apr_table_elts(req->query);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    json_t *hidden = cn_json_own(p, json_array());
    const char *base = apr_pstrcat(p, action, "?", NULL);
    int i;
    for (i = 0; i < arr->nelts; ++i) {
        if (!e[i].key || !e[i].val || !strcmp(e[i].key, "provider") || !strcmp(e[i].key, "email")) {
            continue;
        }
        json_array_append_new(hidden, json_pack("{s:s,s:s}", "name", e[i].key, "value", e[i].val));
        base = apr_pstrcat(p, base, cn_url_encode(p, e[i].key), "=", cn_url_encode(p, e[i].val),
                           "&", NULL);
    }
    return cn_login_screen(req, screen, action, hidden, apr_pstrcat(p, base, "provider=", NULL));
}

int cn_route_authorize(cn_req_t *req)
{
    const char *client_id = apr_table_get(req->query, "client_id"), *location = NULL;
    const char *chosen = NULL, *hint = NULL;
    cn_flow_screen_t *screen = NULL;
    apr_table_t *query = req->query;
    cn_flow_t *flow = NULL;
    apr_status_t rv;
    /* First of all the application: a page until its redirect URI is known. */
    if (!client_id || !*client_id) {
        return cn_page_error(req, CN_EV_INVALID_CLIENT, "client_id is required");
    }
    if (!apr_hash_get(req->sc->apps_by_id, client_id, APR_HASH_KEY_STRING)) {
        return cn_page_error(req, CN_EV_INVALID_CLIENT, "no application has this client_id");
    }
    req->ctx.app_id = client_id;
    /* Without a provider, the login screen may choose it (prompt). */
    rv = cn_flow_authorize_choose(&req->ctx, req->query, &chosen, &hint, &screen);
    if (rv == APR_SUCCESS && screen) {
        return authorize_screen(req, screen);
    }
    if (rv == APR_SUCCESS) {
        query = apr_table_copy(req->r->pool, req->query);
        apr_table_unset(query, "email");
        apr_table_setn(query, "provider", chosen);
        if (hint) {
            apr_table_setn(query, "login_hint", hint);
        }
    }
    else if (rv != APR_ENOENT) {
        return cn_page_result(req);
    }
    if (cn_flow_authorize_begin(&req->ctx, query, &flow, &location) != APR_SUCCESS) {
        return cn_page_result(req);
    }
    if (!flow) {
        return cn_redirect(req, location);
    }
    return cn_route_flow_start(req, flow);
}

/* ---- RFC 6749 answers --------------------------------------------------------- */

/* Token answers are never cached (RFC 6749 §5.1); err_headers_out goes
 * with errors and successes alike. */
static void no_cache(cn_req_t *req)
{
    apr_table_setn(req->r->err_headers_out, "Pragma", "no-cache");
}

/* The failure in req->ctx.res as RFC 6749 §5.2's answer; the log line names
 * the seed's event and its code. BASIC: the client authenticated with HTTP
 * Basic (a 401 then says how; a browser's script that sent its client_id in
 * the body gets no Basic challenge a browser would prompt for). */
static int oauth_error(cn_req_t *req, int basic)
{
    const cn_result_t *res = &req->ctx.res;
    const cn_event_t *ev = res->event ? res->event : cn_event(CN_EV_INTERNAL_ERROR);
    int status = 0;
    const char *error = cn_oauth_token_error(ev, &status);
    json_t *body = cn_json_own(req->r->pool,
                               json_pack("{s:s,s:s}", "error", error, "error_description",
                                         cn_oauth_error_description(req->r->pool, res)));
    /* The Nylas layout's clients read the event's code as error_code too. */
    if (body && req->dialect && req->dialect->oauth_error_code) {
        json_object_set_new(body, "error_code", json_integer(ev->code));
    }
    ap_log_rerror(APLOG_MARK, status >= 500 ? APLOG_ERR : APLOG_INFO, 0, req->r,
                  "[%s] " CNLOGNO(00301) "%s %s -> %d %s: %s (%d)%s%s", req->request_id,
                  req->r->method, req->path, status, error, ev->type, ev->code,
                  res->description ? ": " : "", res->description ? res->description : "");
    if (status == HTTP_UNAUTHORIZED && basic) {
        apr_table_setn(req->r->err_headers_out, "WWW-Authenticate", CN_BASIC_CHALLENGE);
    }
    no_cache(req);
    return cn_reply_json(req, status, body);
}

/* The parameters of the body (form or JSON). */
static apr_status_t read_params(cn_req_t *req, apr_table_t **params)
{
    const char *body = NULL, *why = NULL;
    apr_size_t len = 0;
    if (cn_read_body(req, 0, &body, &len) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_oauth_params_parse(req->r->pool, apr_table_get(req->r->headers_in, "Content-Type"),
                              body, len, params, &why) != APR_SUCCESS) {
        return cn_fail(req->r->pool, &req->ctx.res, CN_EV_INVALID_REQUEST, "%s", why);
    }
    return APR_SUCCESS;
}

/* The client of a token or revocation request: HTTP Basic, or client_id and
 * client_secret in the body (RFC 6749 §2.3.1), never both. A secret, when
 * given, must be the application's; without one the client is only named
 * (a public client proving itself with PKCE). *BASIC: Basic was used. */
static apr_status_t oauth_client(cn_req_t *req, const apr_table_t *params, cn_oauth_client_t *c,
                                 int *basic)
{
    request_rec *r = req->r;
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    const char *id = apr_table_get(params, "client_id");
    const char *secret = apr_table_get(params, "client_secret");
    c->client_id = NULL;
    c->authenticated = 0;
    *basic = auth && !strncasecmp(auth, "Basic", 5) && (!auth[5] || apr_isspace(auth[5]));
    /* Where the dialect takes API keys, "Bearer <application secret>"
     * authenticates the client as Basic would (the SDKs send it on every
     * call, and the same secret as client_secret in code exchanges). */
    if (!*basic && req->dialect && req->dialect->api_key && cn_bearer_value(r)) {
        const cn_app_t *app = cn_app_by_key(req, cn_bearer_value(r));
        if (!app) {
            return cn_fail(r->pool, &req->ctx.res, CN_EV_INVALID_CLIENT,
                           "the API key is not an application's");
        }
        if (id && strcmp(id, app->client_id)) {
            return cn_fail(r->pool, &req->ctx.res, CN_EV_INVALID_REQUEST,
                           "client_id is not the one of the API key");
        }
        if (secret && !cn_app_check(req, app->client_id, secret)) {
            return cn_fail(r->pool, &req->ctx.res, CN_EV_INVALID_CLIENT,
                           "client_secret is not the application's");
        }
        c->client_id = app->client_id;
        c->authenticated = 1;
        return APR_SUCCESS;
    }
    if (*basic) {
        const char *user = NULL, *pw = NULL;
        if (ap_get_basic_auth_components(r, &user, &pw) != APR_SUCCESS || !user || !*user) {
            return cn_fail(r->pool, &req->ctx.res, CN_EV_INVALID_CLIENT,
                           "the Basic credentials cannot be read");
        }
        if (secret) {
            return cn_fail(r->pool, &req->ctx.res, CN_EV_INVALID_REQUEST,
                           "client credentials in the Authorization header and in the body");
        }
        if (id && strcmp(id, user)) {
            return cn_fail(r->pool, &req->ctx.res, CN_EV_INVALID_REQUEST,
                           "client_id is not the one of the Basic credentials");
        }
        id = user;
        secret = pw ? pw : "";
    }
    if (!id || !*id) {
        if (secret) {
            return cn_fail(r->pool, &req->ctx.res, CN_EV_INVALID_CLIENT,
                           "client_secret without client_id");
        }
        return APR_SUCCESS;
    }
    if (secret) {
        const cn_app_t *app = cn_app_check(req, id, secret);
        if (!app) {
            return cn_fail(r->pool, &req->ctx.res, CN_EV_INVALID_CLIENT,
                           "unknown client, or wrong client secret");
        }
        c->client_id = app->client_id;
        c->authenticated = 1;
        return APR_SUCCESS;
    }
    {
        const cn_app_t *app = apr_hash_get(req->sc->apps_by_id, id, APR_HASH_KEY_STRING);
        if (!app) {
            return cn_fail(r->pool, &req->ctx.res, CN_EV_INVALID_CLIENT, "unknown client");
        }
        c->client_id = app->client_id;
    }
    return APR_SUCCESS;
}

/* ---- POST /token ----------------------------------------------------------------- */

int cn_route_token(cn_req_t *req)
{
    apr_table_t *params = NULL;
    cn_oauth_client_t client;
    const cn_grant_t *grant = NULL;
    json_t *answer = NULL;
    int basic = 0;
    if (read_params(req, &params) != APR_SUCCESS
        || oauth_client(req, params, &client, &basic) != APR_SUCCESS
        || cn_token_exchange_grant(&req->ctx, &client, params, &answer, &grant) != APR_SUCCESS) {
        return oauth_error(req, basic);
    }
    if (req->dialect && req->dialect->token_answer && grant) {
        req->dialect->token_answer(req, answer, grant);
    }
    no_cache(req);
    return cn_reply_json(req, HTTP_OK, answer);
}

/* ---- POST /revoke ------------------------------------------------------------------ */

int cn_route_revoke(cn_req_t *req)
{
    apr_table_t *params = NULL;
    cn_oauth_client_t client;
    const char *token, *in_query = apr_table_get(req->query, "token");
    int basic = 0;
    if (read_params(req, &params) != APR_SUCCESS
        || oauth_client(req, params, &client, &basic) != APR_SUCCESS) {
        return oauth_error(req, basic);
    }
    /* RFC 7009 sends it in the body; the seed in the query. */
    token = apr_table_get(params, "token");
    if (token && in_query && strcmp(token, in_query)) {
        cn_fail(req->r->pool, &req->ctx.res, CN_EV_INVALID_REQUEST,
                "two different tokens, in the query and in the body");
        return oauth_error(req, basic);
    }
    if (cn_token_revoke(&req->ctx, &client, token ? token : in_query) != APR_SUCCESS) {
        return oauth_error(req, basic);
    }
    no_cache(req);
    return cn_reply_json(req, HTTP_OK, cn_json_own(req->r->pool, json_object()));
}

/* ---- GET /grants/me, GET /tokeninfo --------------------------------------------------- */

int cn_route_grant_me(cn_req_t *req)
{
    const char *token = cn_bearer_value(req->r);
    cn_grant_t *grant = NULL;
    if (!token) {
        apr_table_setn(req->r->err_headers_out, "WWW-Authenticate", CN_BEARER_CHALLENGE);
        return cn_reply_error_as(req, HTTP_UNAUTHORIZED, CN_EV_INVALID_TOKEN,
                                 "an access token is required (Authorization: Bearer)");
    }
    if (cn_token_grant(&req->ctx, token, &grant) != APR_SUCCESS) {
        if (req->ctx.res.event && req->ctx.res.event->id == CN_EV_INVALID_TOKEN) {
            apr_table_setn(req->r->err_headers_out, "WWW-Authenticate",
                           CN_BEARER_CHALLENGE ", error=\"invalid_token\", "
                           "error_description=\"the access token is unknown, revoked or expired\"");
            return cn_reply_error_as(req, HTTP_UNAUTHORIZED, CN_EV_INVALID_TOKEN,
                                     "the access token is unknown, revoked or expired");
        }
        return cn_reply_result(req);
    }
    return cn_reply_data(req, HTTP_OK, cn_grant_json(req->r->pool, grant));
}

int cn_route_tokeninfo(cn_req_t *req)
{
    json_t *out = NULL;
    apr_status_t rv = cn_token_info(&req->ctx, apr_table_get(req->query, "access_token"),
                                    apr_table_get(req->query, "id_token"), &out);
    return ANSWER(req, rv, cn_reply_data(req, HTTP_OK, out));
}
