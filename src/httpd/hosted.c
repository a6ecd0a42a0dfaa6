/* The hosted flow (POST /auth, GET /login, GET /callback) and the grants API.
 * The callback never holds a database handle while it talks to a provider. */
#include <util_cookies.h>

#include "cn_request.h"
#include "cn_session.h"
#include "cn_model.h"
#include "cn_proto.h"
#include "cn_util.h"


/* ---- POST /auth -------------------------------------------------------- */

int cn_route_auth_create(cn_req_t *req)
{
    int answer;
    json_t *body = cn_read_json(req, &answer), *out = NULL;
    apr_status_t rv;
    if (!body || !cn_need_db(req, &answer)) {
        return answer;
    }
    rv = cn_login_create(&req->ctx, body, &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, out));
}

/* ---- GET /login -------------------------------------------------------- */

static const char *request_str(json_t *request, const char *key)
{
    json_t *v = json_object_get(request, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The dance's keys in the browser's session; NULL values remove them. */
static apr_status_t session_put(request_rec *r, const cn_keyring_t *ring, const char *state,
                                const char *login, const char *verifier, const char *expires)
{
    if (cn_session_set(r, ring, "state", state) != APR_SUCCESS
        || cn_session_set(r, ring, "login", login) != APR_SUCCESS
        || cn_session_set(r, ring, "verifier", verifier) != APR_SUCCESS
        || cn_session_set(r, ring, "expires", expires) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

int cn_route_login(cn_req_t *req)
{
    request_rec *r = req->r;
    const cn_keyring_t *ring = req->sc->ring;
    const char *id = apr_table_get(req->query, "id"), *cookie = NULL;
    const char *state, *verifier, *challenge, *url;
    unsigned char digest[32];
    cn_login_t *login;
    cn_integration_t *it;
    int answer;

    if (!cn_need_db(req, &answer)) {
        return answer;
    }
    ap_cookie_read(r, "x-cookie-nonce", &cookie, 0);
    if (cn_login_check(&req->ctx, id ? id : "", cookie, &login) != APR_SUCCESS) {
        return cn_page_result(req);
    }
    /* A HEAD (a link checker, a preview) learns the link is good and leaves it so. */
    if (r->header_only) {
        return cn_page_ok(req);
    }
    if (cn_random_token(r->pool, 32, &state) != APR_SUCCESS
        || cn_random_token(r->pool, 32, &verifier) != APR_SUCCESS) {
        return cn_page_error(req, CN_EV_INTERNAL_ERROR, "no randomness");
    }
    cn_sha256(verifier, strlen(verifier), digest);
    challenge = cn_b64url_encode(r->pool, digest, sizeof(digest));
    /* The browser's session takes the flow first; only then is the link spent,
     * so a session that cannot be written leaves the link usable. */
    if (session_put(r, ring, state, login->digest, verifier,
                    apr_ltoa(r->pool, (long)login->expires_at)) != APR_SUCCESS) {
        session_put(r, ring, NULL, NULL, NULL, NULL);
        return cn_page_error(req, CN_EV_INTERNAL_ERROR,
                             "no session: is \"Session On\" set for this location?");
    }
    if (cn_login_spend(&req->ctx, login, &it) != APR_SUCCESS) {
        session_put(r, ring, NULL, NULL, NULL, NULL);
        return cn_page_result(req);
    }
    url = cn_oauth_authorize_url(&req->ctx, it, json_object_get(login->request, "scope"), state,
                                 challenge, request_str(login->request, "login_hint"));
    if (!url) {
        session_put(r, ring, NULL, NULL, NULL, NULL);
        return cn_page_error(req, CN_EV_INTEGRATION_PROBLEM, "the integration's tenant is not valid");
    }
    cn_event_record(&req->ctx, CN_EV_HOSTED_LOGIN_STARTED, "info",
                    cn_json_own(r->pool, json_pack("{s:s,s:s}", "integration_id", it->id,
                                                   "provider", it->provider)));
    return cn_redirect(req, url);
}

/* ---- GET /callback ----------------------------------------------------- */

/* Back to the application with the outcome. */
static int back_to_app(cn_req_t *req, cn_login_t *login, const char *grant_id,
                       const char *email, const char *error)
{
    const char *pairs[] = {
        "success", error ? "false" : "true",
        "grant_id", grant_id,
        "error", error,
        "state", request_str(login->request, "state"),
        "provider", login->provider,
        "email", email,
        NULL, NULL
    };
    return cn_redirect(req, cn_http_url_with_query(req->r->pool,
                                                   request_str(login->request, "redirect_uri"),
                                                   pairs));
}

static int fail_to_app(cn_req_t *req, cn_login_t *login)
{
    const cn_result_t *res = &req->ctx.res;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, req->r,
                  "[%s] " CNLOGNO(00202) "hosted %s login failed: %s (%d)%s%s", req->request_id,
                  login->provider, res->event->type, res->event->code,
                  res->description ? ": " : "", res->description ? res->description : "");
    return back_to_app(req, login, NULL, NULL, res->event->type);
}

int cn_route_callback(cn_req_t *req)
{
    request_rec *r = req->r;
    const cn_keyring_t *ring = req->sc->ring;
    cn_ctx_t *ctx = &req->ctx;
    const char *state = apr_table_get(req->query, "state");
    const char *code = apr_table_get(req->query, "code");
    const char *error = apr_table_get(req->query, "error");
    const char *s_state = cn_session_get(r, ring, "state"), *s_login = cn_session_get(r, ring, "login");
    const char *s_verifier = cn_session_get(r, ring, "verifier"), *s_expires = cn_session_get(r, ring, "expires");
    const char *secret = NULL, *missing;
    cn_identity_t *who;
    cn_login_t *login;
    cn_integration_t *it;
    cn_tokens_t *tokens;
    cn_grant_t *grant;
    json_t *scope;
    int reauth = 0;
    apr_status_t rv;

    if (!s_state || !s_login || !s_verifier || !s_expires) {
        return cn_page_error(req, CN_EV_LOGIN_ID_INVALID,
                             "no sign-in in progress in this browser (missing session)");
    }
    if (!state || !cn_ct_equal(state, strlen(state), s_state, strlen(s_state))) {
        return cn_page_error(req, CN_EV_LOGIN_ID_INVALID, "state does not match this browser's");
    }
    /* Single use: whatever happens next, this state is spent. */
    session_put(r, ring, NULL, NULL, NULL, NULL);
    if (apr_atoi64(s_expires) <= ctx->now) {
        return cn_page_error(req, CN_EV_LOGIN_ID_INVALID, "the sign-in took longer than allowed");
    }

    if (!(ctx->db = cn_dbd_open(r))) {
        return cn_page_error(req, CN_EV_INTERNAL_ERROR, "no database connection");
    }
    rv = cn_login_by_digest(ctx, s_login, &login, &it);
    if (rv == APR_SUCCESS) {
        cn_event_record(ctx, CN_EV_HOSTED_LOGIN_USED, "info",
                        cn_json_own(r->pool, json_pack("{s:s,s:s}", "integration_id", it->id,
                                                       "provider", it->provider)));
    }
    cn_dbd_close(r, ctx->db);
    ctx->db = NULL;
    if (rv != APR_SUCCESS) {
        return cn_page_result(req);
    }
    /* From here on the redirect URI is known to be the application's; checked
     * again before anything is exchanged or stored. */
    if (cn_url_redirect_uri_check(r->pool, request_str(login->request, "redirect_uri"), NULL)
        != APR_SUCCESS) {
        return cn_page_error(req, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                             "the login request's redirect URI is not a valid one");
    }
    if (error) {
        cn_fail(r->pool, &ctx->res, CN_EV_OAUTH_FAILED, "the provider answered error=%.64s", error);
        return fail_to_app(req, login);
    }
    if (!code || !*code || strlen(code) > 4096) {
        cn_fail(r->pool, &ctx->res, CN_EV_INVALID_REQUEST, "the provider sent no code");
        return fail_to_app(req, login);
    }
    scope = json_object_get(login->request, "scope");
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "[%s] " CNLOGNO(00204) "exchanging the %s code "
                  "at %s", req->request_id, it->provider,
                  cn_oauth_endpoint(ctx, it->provider, "token", cn_oauth_tenant(it)));
    if (cn_integration_secret(ctx, it, &secret) != APR_SUCCESS
        || cn_oauth_token(ctx, it, secret, code, s_verifier, NULL, &tokens) != APR_SUCCESS) {
        return fail_to_app(req, login);
    }
    if (!tokens->refresh_token) {
        cn_fail(r->pool, &ctx->res, CN_EV_PROVIDER_CODE_REQUEST_FAILED,
                "offline access was asked for but no refresh token came back");
        return fail_to_app(req, login);
    }
    if ((missing = cn_oauth_missing_scope(r->pool, it->provider, scope, tokens->scope))) {
        cn_fail(r->pool, &ctx->res, CN_EV_SCOPES_CONFLICT, "scope %.200s was not granted", missing);
        return fail_to_app(req, login);
    }
    if (cn_oauth_identity(ctx, it, tokens, &who) != APR_SUCCESS) {
        return fail_to_app(req, login);
    }

    if (!(ctx->db = cn_dbd_open(r))) {
        cn_fail(r->pool, &ctx->res, CN_EV_INTERNAL_ERROR, "no database connection");
        return fail_to_app(req, login);
    }
    rv = cn_grant_store(ctx, it, scope, request_str(login->request, "state"),
                        request_str(login->request, "grant_id"), tokens, who, &grant, &reauth);
    cn_dbd_close(r, ctx->db);
    ctx->db = NULL;
    if (rv != APR_SUCCESS) {
        return fail_to_app(req, login);
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "[%s] " CNLOGNO(00203) "grant %s %s (%s)",
                  req->request_id, grant->id, reauth ? "re-authenticated" : "created",
                  it->provider);
    return back_to_app(req, login, grant->id, grant->email, NULL);
}

/* ---- grants ------------------------------------------------------------ */

int cn_route_grants_list(cn_req_t *req)
{
    int answer;
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
    if (!cn_need_db(req, &answer)) {
        return answer;
    }
    rv = cn_grant_list(&req->ctx, &q, &items, &n);
    return ANSWER(req, rv, cn_reply_list_texts(req, items, n, q.limit, q.offset));
}

int cn_route_grant_read(cn_req_t *req)
{
    int answer;
    cn_grant_t *g;
    if (!cn_need_db(req, &answer)) {
        return answer;
    }
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
    if (!body || !cn_need_db(req, &answer)) {
        return answer;
    }
    rv = cn_grant_update(&req->ctx, req->params[0], body, &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, out));
}

int cn_route_grant_delete(cn_req_t *req)
{
    cn_ctx_t *ctx = &req->ctx;
    cn_grant_t *gone = NULL;
    cn_integration_t *it = NULL;
    const char *refresh = NULL;
    apr_status_t rv;
    if (!(ctx->db = cn_dbd_open(req->r))) {
        return cn_reply_error(req, CN_EV_INTERNAL_ERROR, NULL);
    }
    rv = cn_grant_delete(ctx, req->params[0], &gone, &refresh);
    if (rv == APR_SUCCESS && refresh && cn_integration_load(ctx, gone->provider, &it) != APR_SUCCESS) {
        it = NULL;
    }
    cn_dbd_close(req->r, ctx->db);
    ctx->db = NULL;
    if (rv != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    if (it && refresh) {
        cn_oauth_revoke(ctx, it, refresh); /* best effort, after the local delete */
    }
    return cn_reply_success(req, HTTP_OK,
                            cn_json_own(req->r->pool, json_pack("{s:s}", "message",
                                                                "Resource successfully removed")));
}

int cn_route_grants_create(cn_req_t *req)
{
    cn_ctx_t *ctx = &req->ctx;
    int answer, reauth = 0;
    json_t *body = cn_read_json(req, &answer), *scope = NULL;
    cn_integration_t *it;
    cn_tokens_t *tokens;
    cn_grant_t *grant;
    const char *secret, *refresh, *state;
    cn_identity_t *who;
    apr_status_t rv;
    if (!body) {
        return answer;
    }
    if (!(ctx->db = cn_dbd_open(req->r))) {
        return cn_reply_error(req, CN_EV_INTERNAL_ERROR, NULL);
    }
    rv = cn_grant_native_prepare(ctx, body, &it, &secret, &refresh, &scope, &state);
    cn_dbd_close(req->r, ctx->db);
    ctx->db = NULL;
    if (rv != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    /* A real refresh proves the token before anything is stored. */
    if (cn_oauth_token(ctx, it, secret, NULL, NULL, refresh, &tokens) != APR_SUCCESS
        || cn_oauth_identity(ctx, it, tokens, &who) != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    if (!tokens->refresh_token) {
        tokens->refresh_token = refresh; /* providers that do not rotate keep the old one */
    }
    if (!(ctx->db = cn_dbd_open(req->r))) {
        return cn_reply_error(req, CN_EV_INTERNAL_ERROR, NULL);
    }
    rv = cn_grant_store(ctx, it, scope, state, NULL, tokens, who, &grant, &reauth);
    cn_dbd_close(req->r, ctx->db);
    ctx->db = NULL;
    if (rv != APR_SUCCESS) {
        return cn_reply_result(req);
    }
    return cn_reply_success(req, reauth ? HTTP_OK : HTTP_CREATED,
                            cn_grant_json(req->r->pool, grant));
}
