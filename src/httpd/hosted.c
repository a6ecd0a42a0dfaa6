/* The hosted flow (POST /auth, GET /login, GET /callback) and the grants API.
 * The callback never holds a database handle while it talks to a provider. */
#include <util_cookies.h>

#include "cn_request.h"
#include "cn_session.h"


/* ---- POST /auth -------------------------------------------------------- */

int cn_route_auth_create(cn_req_t *req)
{
    int answer;
    json_t *body = cn_read_json(req, &answer), *out = NULL;
    apr_status_t rv;
    if (!body) {
        return answer;
    }
    rv = cn_login_create(&req->ctx, body, &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, out));
}

/* ---- GET /login -------------------------------------------------------- */

/* The words of the login screen's buttons. */
static const char *provider_label(const char *provider)
{
    if (!strcmp(provider, "google")) {
        return "Continue with Google";
    }
    if (!strcmp(provider, "microsoft")) {
        return "Continue with Microsoft";
    }
    return "Other email (IMAP)";
}

/* What the login screen says when the address typed cannot go on. */
static const char *screen_error(cn_event_id_t error)
{
    switch (error) {
    case 0:
        return NULL;
    case CN_EV_INVALID_REQUEST:
        return "Enter your email address, like name@example.com.";
    default:
        return "This application cannot connect that address. Check it, or choose your "
               "email provider.";
    }
}

/* SOURCES with ORIGIN added (space-separated; once; ORIGIN NULL: unchanged). */
static const char *add_source(apr_pool_t *p, const char *sources, const char *origin)
{
    if (!origin || strstr(apr_pstrcat(p, " ", sources, " ", NULL),
                          apr_pstrcat(p, " ", origin, " ", NULL))) {
        return sources;
    }
    return apr_pstrcat(p, sources, *sources ? " " : "", origin, NULL);
}

/* Where the email box's answer may send the browser besides this server:
 * the authorize endpoints' origins of the providers an address may be
 * detected as, and the application's (a provider that asks nothing sends
 * the browser straight back through /callback). Chromium checks
 * form-action on every redirect after a form is sent, a GET form's too.
 * NULL without an email box. */
static const char *screen_form_action(cn_req_t *req, const cn_flow_screen_t *screen)
{
    apr_pool_t *p = req->r->pool;
    const char *sources = "";
    int i;
    if (!screen->prompt.detect) {
        return NULL;
    }
    for (i = 0; i < screen->providers->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(screen->providers, i, const char *);
        sources = add_source(p, sources,
                             cn_url_origin(p, cn_oauth_endpoint(&req->ctx, name, "authorize", NULL)));
    }
    return add_source(p, sources, screen->return_origin);
}

int cn_login_screen(cn_req_t *req, const cn_flow_screen_t *screen, const char *action,
                    json_t *hidden, const char *button_base)
{
    apr_pool_t *p = req->r->pool;
    json_t *values, *providers = cn_json_own(p, json_array());
    const char *error = screen_error(screen->error);
    int i;
    for (i = 0; screen->prompt.select && i < screen->providers->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(screen->providers, i, const char *);
        json_array_append_new(providers,
                              json_pack("{s:s,s:s,s:s}", "name", name, "label",
                                        provider_label(name), "url",
                                        apr_pstrcat(p, button_base, cn_url_encode(p, name),
                                                    NULL)));
    }
    values = cn_json_own(p, json_pack("{s:O,s:b,s:b,s:b,s:s,s:O,s:s}", "providers", providers,
                                      "has_providers", json_array_size(providers) > 0, "detect",
                                      screen->prompt.detect, "detect_first",
                                      screen->prompt.detect_first, "action", action, "hidden",
                                      hidden, "email", screen->email ? screen->email : ""));
    if (values && error) {
        json_object_set_new(values, "error", json_pack("{s:s,s:s}", "message", error, "field",
                                                       "email"));
    }
    if (values && screen->names) {
        json_object_set_new(values, "names", json_true());
        json_object_set_new(values, "first_name",
                            json_string(screen->first_name ? screen->first_name : ""));
        json_object_set_new(values, "last_name",
                            json_string(screen->last_name ? screen->last_name : ""));
    }
    /* The connect UI's first page asks names too: a page of its own. */
    return cn_page_render(req, HTTP_OK, screen->names ? "connect.html" : "choose.html", values,
                          screen_form_action(req, screen));
}

/* The login screen of login request ID: buttons to /login?id=&provider=,
 * and/or an email box that comes back to /login?id=&email=. */
static int login_screen(cn_req_t *req, const char *id, const cn_flow_screen_t *screen)
{
    apr_pool_t *p = req->r->pool;
    const char *login = apr_pstrcat(p, req->ctx.base_url, "/login", NULL);
    return cn_login_screen(req, screen, login,
                           cn_json_own(p, json_pack("[{s:s,s:s}]", "name", "id", "value", id)),
                           apr_pstrcat(p, login, "?id=", cn_url_encode(p, id), "&provider=",
                                       NULL));
}

int cn_route_login(cn_req_t *req)
{
    request_rec *r = req->r;
    const char *cookie = NULL, *id = apr_table_get(req->query, "id");
    cn_flow_t *flow;
    cn_flow_screen_t *screen;

    ap_cookie_read(r, "x-cookie-nonce", &cookie, 0);
    if (cn_flow_hosted_choose(&req->ctx, id, cookie, apr_table_get(req->query, "provider"),
                              apr_table_get(req->query, "email"), &flow, &screen)
        != APR_SUCCESS) {
        return cn_page_result(req);
    }
    if (screen) {
        req->page_app_id = req->ctx.app_id;
        return login_screen(req, id, screen);
    }
    req->page_app_id = flow->app_id;
    return cn_route_flow_start(req, flow);
}

int cn_route_flow_start(cn_req_t *req, cn_flow_t *flow)
{
    request_rec *r = req->r;
    const char *location;
    /* A HEAD (a link checker, a preview) learns the link is good and leaves it so. */
    if (r->header_only) {
        return cn_page_ok(req);
    }
    /* The browser's session takes the flow first; only then is the link spent,
     * so a session that cannot be written leaves the link usable. */
    if (cn_session_flow_put(r, &req->ctx, flow) != APR_SUCCESS) {
        return cn_page_error(req, CN_EV_INTERNAL_ERROR,
                             "no session: is \"Session On\" set for this location?");
    }
    if (cn_flow_launch(&req->ctx, flow, &location) != APR_SUCCESS) {
        cn_session_flow_drop(r, cn_flow_session_key(r->pool, flow->state));
        return cn_page_result(req);
    }
    return cn_redirect(req, location);
}

/* ---- GET /callback ----------------------------------------------------- */

int cn_route_callback(cn_req_t *req)
{
    const char *state = apr_table_get(req->query, "state"), *key, *sealed, *location;
    cn_flow_t *flow = NULL;
    if (!state || !*state) {
        return cn_page_error(req, CN_EV_LOGIN_ID_INVALID, "the provider sent no state");
    }
    key = cn_flow_session_key(req->r->pool, state);
    if (!(sealed = cn_session_flow_get(req->r, key, 0))) {
        return cn_page_error(req, CN_EV_LOGIN_ID_INVALID,
                             "no sign-in in progress in this browser for this state");
    }
    if (cn_flow_open(&req->ctx, key, sealed, state, &flow) == APR_SUCCESS
        && cn_flow_step_of(flow) && cn_flow_step_of(flow)->form) {
        /* A flow that goes on in its own form is not the provider's to end. */
        req->page_app_id = flow->app_id;
        return cn_page_error(req, CN_EV_LOGIN_ID_INVALID,
                             "a sign-in that goes on in its form, not at the callback");
    }
    /* Single use: whatever happens next, this browser's flow is spent. */
    cn_session_flow_drop(req->r, key);
    if (!flow) {
        return cn_page_result(req);
    }
    /* From here a page speaks for the application the flow is for. */
    req->page_app_id = flow->app_id;
    if (cn_flow_complete(&req->ctx, flow, req->query, &location, NULL) != APR_SUCCESS) {
        return cn_page_result(req);
    }
    return cn_redirect(req, location);
}

/* ---- grants ------------------------------------------------------------ */

int cn_route_grants_list(cn_req_t *req)
{
    cn_grant_query_t q = {0};
    cn_text_t *items = NULL;
    int n = 0;
    apr_table_t *t = req->query;
    apr_status_t rv;
    if (cn_paging_parse(&req->ctx, apr_table_get(t, "limit"), apr_table_get(t, "offset"),
                        &q.limit, &q.offset) != APR_SUCCESS
        || cn_grant_query_parse(&req->ctx, apr_table_get(t, "sort_by"),
                                apr_table_get(t, "order_by"), apr_table_get(t, "since"),
                                apr_table_get(t, "before"), apr_table_get(t, "email"),
                                apr_table_get(t, "grant_status"), apr_table_get(t, "ip"),
                                apr_table_get(t, "provider"), &q) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    rv = cn_grant_list(&req->ctx, &q, &items, &n);
    return ANSWER(req, rv, cn_reply_list_texts(req, items, n, q.limit, q.offset));
}

int cn_route_grant_read(cn_req_t *req)
{
    cn_grant_t *g;
    if (cn_grant_load(&req->ctx, req->params[0], &g) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    return cn_reply_data(req, HTTP_OK, cn_grant_json(req->r->pool, g));
}

int cn_route_grant_update(cn_req_t *req)
{
    int answer;
    json_t *body = cn_read_json(req, &answer), *out = NULL;
    apr_status_t rv;
    if (!body) {
        return answer;
    }
    rv = cn_grant_update(&req->ctx, req->params[0], body, &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, out));
}

int cn_route_grant_delete(cn_req_t *req)
{
    apr_status_t rv = cn_grant_revoke(&req->ctx, req->params[0]);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK,
                                            cn_json_own(req->r->pool,
                                                        json_pack("{s:s}", "message",
                                                                  "Resource successfully removed"))));
}

int cn_route_grants_create(cn_req_t *req)
{
    int answer, reauth = 0;
    json_t *body = cn_read_json(req, &answer);
    cn_grant_t *grant;
    if (!body) {
        return answer;
    }
    if (cn_flow_native(&req->ctx, body, &grant, &reauth) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    return cn_reply_success(req, reauth ? HTTP_OK : HTTP_CREATED,
                            cn_grant_json(req->r->pool, grant));
}

/* POST /grants/{id}/access_token: the body is optional ({} when empty). */
int cn_route_grant_access_token(cn_req_t *req)
{
    const char *buf;
    apr_size_t len = 0;
    json_t *body, *out = NULL;
    apr_status_t rv;
    int answer;
    if (cn_read_body(req, 1, &buf, &len) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    if (!len) {
        body = cn_json_own(req->r->pool, json_object());
    }
    else {
        const char *err = NULL;
        body = cn_json_parse(req->r->pool, buf, len, &err);
        if (!json_is_object(body)) {
            answer = cn_reply_error(req, CN_EV_INVALID_REQUEST_PAYLOAD,
                                    "the body must be a JSON object");
            return answer;
        }
    }
    rv = cn_grant_access_token(&req->ctx, req->params[0], body, &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, out));
}
