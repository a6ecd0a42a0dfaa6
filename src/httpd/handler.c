/* The `connect` handler: request id, routing on method + path below the
 * mount, application authentication, and the JSON answers of the API. */
#include <openssl/crypto.h>

#include <http_core.h>
#include <apr_lib.h>

#include "cn_request.h"
#include "cn_metrics.h"


/* ---- answers ---------------------------------------------------------- */

void cn_db_unavailable_answer(cn_req_t *req, int *status, cn_event_id_t *type,
                              const char **description)
{
    if (*type != CN_EV_INTERNAL_ERROR || !cn_dbd_unavailable(req->r)) {
        return;
    }
    /* Not a fault of this server's: the database went away (and comes back;
     * mod_dbd and src/httpd/dbd.c connect again by themselves). */
    *status = HTTP_SERVICE_UNAVAILABLE;
    *type = CN_EV_SERVICE_UNAVAILABLE;
    *description = "the database is not available; try again shortly";
    apr_table_setn(req->r->err_headers_out, "Retry-After", CN_DB_RETRY_AFTER);
}

/* TEXT[LEN] lives in the request pool: handed to the filters as it is.
 * CACHE_CONTROL is for a good answer; a failed one is never stored. */
static int reply_text_cc(request_rec *r, int status, const char *text, apr_size_t len,
                         const char *cache_control)
{
    if (!text) {
        text = apr_pstrdup(r->pool, "{\"success\":false}");
        len = strlen(text);
        status = HTTP_INTERNAL_SERVER_ERROR;
        cache_control = "no-store";
    }
    r->status = status;
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", cache_control);
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(text, len, r->pool,
                                                           bb->bucket_alloc));
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
        return ap_pass_brigade(r->output_filters, bb) == APR_SUCCESS ? OK : AP_FILTER_ERROR;
    }
    return OK;
}

static int reply_text(request_rec *r, int status, const char *text, apr_size_t len)
{
    return reply_text_cc(r, status, text, len, "no-store");
}

/* The dialect of the request; before routing (the quick handler), the seed's. */
static const cn_dialect_t *dialect_of(const cn_req_t *req)
{
    return req->dialect ? req->dialect : &cn_connect_dialect;
}

/* BODY as the dialect of the request answers it: with its request id when
 * the dialect wants it in every body. */
static json_t *stamped(cn_req_t *req, json_t *body)
{
    if (body && json_is_object(body) && dialect_of(req)->request_id_in_body
        && !json_object_get(body, "request_id")) {
        json_object_set_new(body, "request_id", json_string(req->request_id));
    }
    return body;
}

int cn_reply_json(cn_req_t *req, int status, json_t *body)
{
    apr_size_t len = 0;
    const char *text = body ? cn_json_dump_len(req->r->pool, stamped(req, body), &len) : NULL;
    return reply_text(req->r, status, text, len);
}

int cn_reply_public_json(cn_req_t *req, json_t *body, int max_age)
{
    apr_size_t len = 0;
    const char *text = body ? cn_json_dump_len(req->r->pool, body, &len) : NULL;
    /* Public documents any site may read (a relying party in a browser
     * fetches them too); they carry no credentials. */
    apr_table_setn(req->r->headers_out, "Access-Control-Allow-Origin", "*");
    return reply_text_cc(req->r, HTTP_OK, text, len,
                         apr_psprintf(req->r->pool, "public, max-age=%d", max_age));
}

int cn_reply_error(cn_req_t *req, cn_event_id_t type, const char *description)
{
    return cn_reply_error_as(req, 0, type, description);
}

int cn_reply_error_as(cn_req_t *req, int status, cn_event_id_t type, const char *description)
{
    const cn_event_t *ev;
    const cn_dialect_t *d = dialect_of(req);
    json_t *body;
    cn_db_unavailable_answer(req, &status, &type, &description);
    ev = cn_event(type);
    if (!status) {
        status = ev->http_code ? ev->http_code : HTTP_BAD_REQUEST;
    }
    if (req->contextio) {
        ap_log_rerror(APLOG_MARK, status >= 500 ? APLOG_ERR : APLOG_INFO, 0, req->r,
                      "[%s] " CNLOGNO(03002) "%s %s -> %d %s%s%s", req->request_id,
                      req->r->method, req->path ? req->path : req->r->uri, status, ev->type,
                      description ? ": " : "", description ? description : "");
        return cn_cio_reply_error(req, status, description ? description : ev->message);
    }
    body = d->error(req, ev, status, description ? description : ev->message);
    ap_log_rerror(APLOG_MARK, status >= 500 ? APLOG_ERR : APLOG_INFO, 0, req->r,
                  "[%s] " CNLOGNO(00101) "%s %s -> %d %s (%d)%s%s", req->request_id,
                  req->r->method, req->path ? req->path : req->r->uri, status, ev->type,
                  ev->code, description ? ": " : "", description ? description : "");
    /* The dialect's scheme, unless the route asked for another (Bearer) already. */
    if (status == HTTP_UNAUTHORIZED
        && !apr_table_get(req->r->err_headers_out, "WWW-Authenticate")) {
        apr_table_setn(req->r->err_headers_out, "WWW-Authenticate", d->challenge);
    }
    return cn_reply_json(req, status, body);
}

int cn_reply_result(cn_req_t *req)
{
    const cn_result_t *res = &req->ctx.res;
    if (res->retry_after > 0) {
        apr_table_setn(req->r->err_headers_out, "Retry-After",
                       apr_off_t_toa(req->r->pool, (apr_off_t)res->retry_after));
    }
    return cn_reply_error(req, res->event ? res->event->id : CN_EV_INTERNAL_ERROR,
                          res->description);
}

int cn_reply_data(cn_req_t *req, int status, json_t *data)
{
    return cn_reply_json(req, status,
                         dialect_of(req)->envelope(req, CN_ENVELOPE_DATA, data, 0, 0, 0));
}

int cn_reply_success(cn_req_t *req, int status, json_t *data)
{
    return cn_reply_json(req, status,
                         dialect_of(req)->envelope(req, CN_ENVELOPE_SUCCESS, data, 0, 0, 0));
}

int cn_reply_list(cn_req_t *req, json_t *data, int limit, int offset)
{
    return cn_reply_json(req, HTTP_OK,
                         dialect_of(req)->envelope(req, CN_ENVELOPE_LIST, data, limit, offset,
                                                   (int)json_array_size(data)));
}

int cn_reply_list_texts(cn_req_t *req, const cn_text_t *items, int n, int limit, int offset)
{
    apr_pool_t *p = req->r->pool;
    apr_size_t len = 0;
    json_t *empty = cn_json_own(p, json_array());
    json_t *skeleton = stamped(req, dialect_of(req)->envelope(req, CN_ENVELOPE_LIST, empty, limit,
                                                              offset, n));
    const char *text = skeleton ? cn_json_splice_array(p, skeleton, items, n, &len) : NULL;
    return reply_text(req->r, HTTP_OK, text, len);
}

/* ---- the `connect` dialect: the seed's shapes ---------------------------- */

static json_t *connect_envelope(cn_req_t *req, cn_envelope_t kind, json_t *data, int limit,
                                int offset, int n)
{
    json_t *body;
    (void)n;
    switch (kind) {
    case CN_ENVELOPE_SUCCESS:
        body = data ? json_pack("{s:b,s:O}", "success", 1, "data", data)
                    : json_pack("{s:b}", "success", 1);
        break;
    case CN_ENVELOPE_LIST:
        body = json_pack("{s:O,s:i,s:i}", "data", data, "limit", limit, "offset", offset);
        break;
    default:
        body = json_pack("{s:O}", "data", data);
        break;
    }
    return cn_json_own(req->r->pool, body);
}

static json_t *connect_error(cn_req_t *req, const cn_event_t *ev, int status, const char *message)
{
    return cn_json_own(req->r->pool,
                       json_pack("{s:b,s:{s:s,s:i,s:i,s:s,s:s}}", "success", 0, "error", "type",
                                 ev->type, "http_code", status, "event_code", ev->code,
                                 "message", message, "request_id", req->request_id));
}

/* Basic only; request_id in errors only; RFC 6749 errors as the RFC has them. */
const cn_dialect_t cn_connect_dialect = {
    .handler = CN_HANDLER,
    .routes = cn_api_routes,
    .envelope = connect_envelope,
    .error = connect_error,
    .challenge = CN_BASIC_CHALLENGE,
};

/* The Context.IO 2.0 API: its handlers answer in its own shapes
 * (contextio.c), its errors too (cn_reply_error, req->contextio); what it
 * shares with the seed's layout is the route machinery. */
const cn_dialect_t cn_cio_dialect = {
    .handler = CN_HANDLER_CIO,
    .routes = cn_cio_routes,
    .envelope = connect_envelope,
    .error = connect_error,
    .challenge = CN_OAUTH_CHALLENGE,
};

/* ---- input ------------------------------------------------------------ */

int cn_content_type_is(request_rec *r, const char *want)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    char *type = ct ? ap_field_noparam(r->pool, ct) : NULL;
    apr_size_t n;
    if (!type) {
        return 0;
    }
    n = strlen(type);
    while (n && apr_isspace(type[n - 1])) {
        type[--n] = '\0';
    }
    return !strcasecmp(type, want);
}

apr_status_t cn_read_body(cn_req_t *req, int json_only, const char **body, apr_size_t *blen)
{
    request_rec *r = req->r;
    cn_ctx_t *ctx = &req->ctx;
    apr_off_t max = req->sc->max_body;
    char *buf;
    apr_size_t len = 0, cap;
    long n;

    *body = NULL;
    *blen = 0;
    if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK) {
        return cn_fail(r->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                       "unreadable request body");
    }
    if (json_only && (r->remaining > 0 || r->read_chunked) && !cn_content_type_is(r, "application/json")) {
        return cn_fail(r->pool, &ctx->res, CN_EV_UNSUPPORTED_MEDIA_TYPE,
                       "the body must be sent as Content-Type: application/json");
    }
    if (r->remaining > max) {
        r->connection->keepalive = AP_CONN_CLOSE;
        return cn_fail(r->pool, &ctx->res, CN_EV_PAYLOAD_TOO_LARGE,
                       "the body is larger than %" APR_OFF_T_FMT " bytes", max);
    }
    /* A buffer of the announced size (or 8 KiB, growing for chunked bodies),
     * never more than the limit plus the one byte that proves "too large". */
    cap = r->remaining > 0 ? (apr_size_t)r->remaining + 1 : 8192;
    buf = apr_palloc(r->pool, cap);
    if (ap_should_client_block(r)) {
        for (;;) {
            if (len == cap) {
                apr_size_t ncap = cap * 2 > (apr_size_t)max + 1 ? (apr_size_t)max + 1 : cap * 2;
                char *nbuf;
                if (ncap <= cap) {
                    ncap = cap + 1;
                }
                nbuf = apr_palloc(r->pool, ncap);
                memcpy(nbuf, buf, len);
                buf = nbuf;
                cap = ncap;
            }
            n = ap_get_client_block(r, buf + len, cap - len);
            if (n <= 0) {
                break;
            }
            len += (apr_size_t)n;
            if (len > (apr_size_t)max) {
                r->connection->keepalive = AP_CONN_CLOSE;
                return cn_fail(r->pool, &ctx->res, CN_EV_PAYLOAD_TOO_LARGE,
                               "the body is larger than %" APR_OFF_T_FMT " bytes", max);
            }
        }
        if (n < 0) {
            return cn_fail(r->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD,
                           "unreadable request body");
        }
    }
    *body = buf;
    *blen = len;
    return APR_SUCCESS;
}

json_t *cn_read_json(cn_req_t *req, int *answer)
{
    request_rec *r = req->r;
    const char *buf, *err = NULL;
    apr_size_t len = 0;
    json_t *j;

    if (cn_read_body(req, 1, &buf, &len) != APR_SUCCESS) {
        *answer = cn_reply_result(req);
        return NULL;
    }
    if (!len) {
        *answer = cn_reply_error(req, CN_EV_INVALID_REQUEST_PAYLOAD, "a JSON object body is required");
        return NULL;
    }
    j = cn_json_parse(r->pool, buf, len, &err);
    if (!j || !json_is_object(j)) {
        *answer = cn_reply_error(req, CN_EV_INVALID_REQUEST_PAYLOAD,
                                 j ? "the body must be a JSON object"
                                   : apr_pstrcat(r->pool, "the body is not JSON: ", err, NULL));
        return NULL;
    }
    return j;
}

/* Decode a query string strictly: bad percent-encoding or an encoded NUL is
 * an error (APR_EINVAL), not something to guess around. */
static apr_status_t parse_query(apr_pool_t *p, const char *args, apr_table_t **out)
{
    char *copy, *pair, *state = NULL;
    *out = apr_table_make(p, 4);
    if (!args || !*args) {
        return APR_SUCCESS;
    }
    copy = apr_pstrdup(p, args);
    for (pair = apr_strtok(copy, "&", &state); pair; pair = apr_strtok(NULL, "&", &state)) {
        char *eq = strchr(pair, '='), *val = "";
        if (eq) {
            *eq = '\0';
            val = eq + 1;
        }
        if (ap_unescape_urlencoded(pair) != OK || ap_unescape_urlencoded(val) != OK) {
            return APR_EINVAL;
        }
        if (*pair) {
            apr_table_add(*out, pair, val);
        }
    }
    return APR_SUCCESS;
}

/* ---- authentication ---------------------------------------------------- */

const cn_app_t *cn_app_check(cn_req_t *req, const char *client_id, const char *secret)
{
    const cn_app_t *app = client_id ? apr_hash_get(req->sc->apps_by_id, client_id,
                                                   APR_HASH_KEY_STRING)
                                    : NULL;
    unsigned char digest[32];
    static const unsigned char nothing[32];
    int ok;
    if (!secret) {
        return NULL;
    }
    cn_sha256(secret, strlen(secret), digest);
    /* Compare even for an unknown client id, so both cases take the same time. */
    ok = CRYPTO_memcmp(digest, app ? app->secret_digest : nothing, sizeof(digest)) == 0;
    OPENSSL_cleanse(digest, sizeof(digest));
    return (app && ok) ? app : NULL;
}

const cn_app_t *cn_app_by_key(cn_req_t *req, const char *key)
{
    unsigned char digest[32];
    const cn_app_t *app;
    int ok;
    if (!key || !req->sc->apps_by_key) {
        return NULL;
    }
    cn_sha256(key, strlen(key), digest);
    app = apr_hash_get(req->sc->apps_by_key, digest, sizeof(digest));
    /* The table finds a candidate by the digest; the digest is still
     * compared in constant time, as every secret is. */
    ok = app && CRYPTO_memcmp(digest, app->secret_digest, sizeof(digest)) == 0;
    OPENSSL_cleanse(digest, sizeof(digest));
    return ok ? app : NULL;
}

const char *cn_bearer_value(request_rec *r)
{
    const char *auth = apr_table_get(r->headers_in, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7)) {
        return NULL;
    }
    auth += 7;
    while (*auth == ' ') {
        ++auth;
    }
    return *auth ? auth : NULL;
}

static const cn_app_t *authenticate_basic(cn_req_t *req);

/* The calling application: HTTP Basic, or an API key where the dialect
 * takes one. */
static const cn_app_t *authenticate(cn_req_t *req)
{
    const char *key;
    if (dialect_of(req)->api_key && (key = cn_bearer_value(req->r))) {
        return cn_app_by_key(req, key);
    }
    return authenticate_basic(req);
}

static const cn_app_t *authenticate_basic(cn_req_t *req)
{
    const char *user = NULL, *pw = NULL;
    if (ap_get_basic_auth_components(req->r, &user, &pw) != APR_SUCCESS || !user || !pw) {
        return NULL;
    }
    return cn_app_check(req, user, pw);
}

/* ---- routing ----------------------------------------------------------- */

/* Match PATH against PATTERN segment by segment; {name} captures a segment. */
static int route_match(const char *pattern, const char *path, const char **params)
{
    int np = 0;
    while (*pattern == '/' && *path == '/') {
        const char *pe = strchr(pattern + 1, '/'), *se = strchr(path + 1, '/');
        apr_size_t pl = pe ? (apr_size_t)(pe - pattern - 1) : strlen(pattern + 1);
        apr_size_t sl = se ? (apr_size_t)(se - path - 1) : strlen(path + 1);
        if (pattern[1] == '{') {
            if (!sl || np >= CN_MAX_PARAMS) {
                return 0;
            }
            params[np++] = path + 1; /* terminated later */
        }
        else if (pl != sl || strncmp(pattern + 1, path + 1, pl)) {
            return 0;
        }
        pattern += pl + 1;
        path += sl + 1;
    }
    return !*pattern && !*path;
}

static void capture_params(apr_pool_t *p, const char **params)
{
    int i;
    for (i = 0; i < CN_MAX_PARAMS && params[i]; ++i) {
        const char *end = strchr(params[i], '/');
        params[i] = end ? apr_pstrndup(p, params[i], (apr_size_t)(end - params[i]))
                        : apr_pstrdup(p, params[i]);
    }
}

static const char *method_name(int m)
{
    switch (m) {
    case M_GET: return "GET";
    case M_POST: return "POST";
    case M_PATCH: return "PATCH";
    case M_DELETE: return "DELETE";
    case M_PUT: return "PUT";
    default: return "OTHER";
    }
}

/* The route of the request, with its {name} captures in req->params; NULL
 * when there is none, with the 404 or 405 answer in *ANSWER. */
static const cn_route_t *find_route(cn_req_t *req, const cn_route_t *routes, int *answer)
{
    const cn_route_t *rt;
    const char *allow = NULL;
    for (rt = routes; rt->pattern; ++rt) {
        const char *params[CN_MAX_PARAMS] = {0};
        if (!route_match(rt->pattern, req->path, params)) {
            continue;
        }
        if (rt->method != req->r->method_number) {
            allow = allow ? apr_pstrcat(req->r->pool, allow, ", ", method_name(rt->method), NULL)
                          : method_name(rt->method);
            continue;
        }
        memcpy(req->params, params, sizeof(params));
        capture_params(req->r->pool, req->params);
        req->route = rt;
        return rt;
    }
    if (allow) {
        apr_table_setn(req->r->err_headers_out, "Allow", allow);
        *answer = cn_reply_error(req, CN_EV_METHOD_NOT_ALLOWED,
                                 apr_psprintf(req->r->pool, "%s is not allowed here",
                                              req->r->method));
    }
    else {
        *answer = cn_reply_error(req, CN_EV_NOT_FOUND_ERROR, "no such endpoint");
    }
    return NULL;
}

/* A failure before the handler runs, in the route's kind of answer. */
static int refuse(cn_req_t *req, const cn_route_t *rt, cn_event_id_t json_event,
                  cn_event_id_t page_event, const char *why)
{
    return rt->answer == CN_ANSWER_PAGE ? cn_page_error(req, page_event, why)
                                        : cn_reply_error(req, json_event, why);
}

/* Route, query, caller, what the route needs; then its handler. */
static int dispatch(cn_req_t *req, const cn_route_t *routes)
{
    int answer = OK;
    const cn_route_t *rt = find_route(req, routes, &answer);
    if (!rt) {
        return answer;
    }
    if (parse_query(req->r->pool, req->r->args, &req->query) != APR_SUCCESS) {
        return refuse(req, rt, CN_EV_INVALID_QUERY_PARAMS, CN_EV_LOGIN_ID_INVALID,
                      "the query string is not valid percent-encoding");
    }
    /* The dialect's list cursor is the offset the handlers read. */
    if (req->dialect->cursor_param) {
        const char *cursor = apr_table_get(req->query, req->dialect->cursor_param);
        if (cursor) {
            apr_table_set(req->query, "offset", cursor);
        }
    }
    if (rt->auth == CN_AUTH_CLIENT_ID_OR_BASIC) {
        const char *cid = apr_table_get(req->query, "client_id");
        req->app = cid ? apr_hash_get(req->sc->apps_by_id, cid, APR_HASH_KEY_STRING) : NULL;
    }
    if (rt->auth == CN_AUTH_OAUTH1 || rt->auth == CN_AUTH_OAUTH1_ACCOUNT) {
        if (!cn_cio_authenticate(req, rt, &answer)) {
            return answer;
        }
    }
    /* A bearer token is the handler's to check: its core call knows tokens. */
    else if (rt->auth != CN_AUTH_PUBLIC && rt->auth != CN_AUTH_BEARER && !req->app) {
        req->app = authenticate(req);
        if (!req->app) {
            return cn_reply_error(req, CN_EV_INVALID_REQUEST_ERROR,
                                  "missing or wrong application credentials");
        }
    }
    if (req->app) {
        req->ctx.app_id = req->app->client_id;
    }
    if ((rt->needs & CN_NEEDS_DB) && !(req->ctx.db = cn_dbd_acquire(req->r))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, req->r,
                      "[%s] " CNLOGNO(00102) "no database connection from mod_dbd",
                      req->request_id);
        cn_metrics_db_error(req->ctx.metrics, CN_METRIC_DB_CONNECTION);
        /* A 503 with Retry-After (cn_db_unavailable_answer). */
        return refuse(req, rt, CN_EV_INTERNAL_ERROR, CN_EV_INTERNAL_ERROR, NULL);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, req->r, "[%s] " CNLOGNO(00103) "%s %s -> %s%s%s",
                  req->request_id, req->r->method, req->path, rt->pattern,
                  req->app ? " as " : "", req->app ? req->app->client_id : "");
    return rt->fn(req);
}

static const char *new_request_id(request_rec *r)
{
    const char *id = NULL;
    if (cn_uuid(r->pool, &id) != APR_SUCCESS) {
        id = apr_psprintf(r->pool, "%" APR_TIME_T_FMT, r->request_time);
    }
    return id;
}

/* The path below the <Location> the handler is configured for: core keeps
 * the last merged section's path; a regex section falls back to the path of
 * ConnectBaseURL. */
static const char *path_below_mount(request_rec *r, const cn_server_conf_t *sc)
{
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
    const char *mount = NULL, *rest;
    apr_size_t n;
    if (cd && cd->d && !cd->r && !cd->d_is_fnmatch && *cd->d == '/') {
        mount = cd->d;
    }
    n = mount ? strlen(mount) : 0;
    if (!mount || strncmp(r->uri, mount, n)) {
        mount = sc->base_path ? sc->base_path : "";
        n = strlen(mount);
    }
    while (n && mount[n - 1] == '/') {
        --n;
    }
    rest = strncmp(r->uri, mount, n) ? r->uri : r->uri + n;
    return *rest ? rest : "/";
}

/* The core's log lines go to httpd's error log with the request behind them. */
static void log_write(void *baton, int level, const char *line)
{
    request_rec *r = baton;
    ap_log_rerror(APLOG_MARK, level, 0, r, "[%s] %s", r->log_id ? r->log_id : "-", line);
}

static int log_enabled(void *baton, int level)
{
    return APLOG_R_MODULE_IS_LEVEL((request_rec *)baton, APLOG_MODULE_INDEX, level);
}

static void init_req(cn_req_t *req, request_rec *r)
{
    const char *ua;
    memset(req, 0, sizeof(*req));
    req->r = r;
    req->sc = ap_get_module_config(r->server->module_config, &connect_module);
    req->request_id = new_request_id(r);
    /* %L in ErrorLogFormat shows it too. */
    r->log_id = req->request_id;
    /* err_headers_out travels with every answer, errors included. */
    apr_table_setn(r->err_headers_out, CN_REQUEST_ID_HEADER, req->request_id);
    req->ctx.pool = r->pool;
    req->ctx.log.write = log_write;
    req->ctx.log.enabled = log_enabled;
    req->ctx.log.baton = r;
    req->ctx.dbs = cn_dbd_seam(r);
    req->ctx.ring = req->sc->ring;
    req->ctx.signing = req->sc->signing;
    req->ctx.now = (apr_int64_t)apr_time_sec(r->request_time);
    req->ctx.request_id = req->request_id;
    req->ctx.http = req->sc->http;
    req->ctx.imap = req->sc->imap;
    req->ctx.grant_cache = req->sc->grant_cache;
    req->ctx.cache = cn_socache_seam(req->sc->cache);
    req->ctx.discover = req->sc->discover;
    req->ctx.metrics = cn_metrics_shared();
    req->ctx.endpoints = req->sc->endpoints;
    req->ctx.base_url = req->sc->base_url;
    req->ctx.webhooks = req->sc->webhooks;
    req->ctx.client_ip = r->useragent_ip;
    ua = apr_table_get(r->headers_in, "User-Agent");
    req->ctx.user_agent = ua ? cn_json_utf8_prefix(r->pool, ua, 512) : NULL;
}

/* The route tables a <Location> may mount, by their SetHandler names: a
 * table added is a row here (and one in metrics.c's apis[]). */
static const cn_dialect_t *const dialects[] = {&cn_connect_dialect, &cn_v3_dialect,
                                               &cn_cio_dialect};
#define N_DIALECTS ((int)(sizeof(dialects) / sizeof(dialects[0])))

static const cn_dialect_t *dialect_named(const char *handler)
{
    int i;
    for (i = 0; handler && i < N_DIALECTS; ++i) {
        if (!strcasecmp(handler, dialects[i]->handler)) {
            return dialects[i];
        }
    }
    return NULL;
}

int cn_handler(request_rec *r)
{
    const cn_dialect_t *d = dialect_named(r->handler);
    cn_req_t req;
    int rv;
    if (!d) {
        return DECLINED;
    }
    init_req(&req, r);
    req.dialect = d;
    req.contextio = d == &cn_cio_dialect;
    req.path = path_below_mount(r, req.sc);
    rv = dispatch(&req, d->routes);
    /* Whatever a handler did not read is drained, so keep-alive stays sane. */
    ap_discard_request_body(r);
    cn_metrics_request_done(&req, d->routes, rv);
    return rv;
}

/* SetHandler of the <Location>s that match the request: what core's fixups
 * will put in r->handler, evaluated the same way (an expression; "none" is
 * no handler). The metrics' handler maps to no file either. */
static int location_handler_is_connect(request_rec *r)
{
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *val;
    if (!cd) {
        return 0;
    }
    if (cd->expr_handler) {
        val = ap_expr_str_exec(r, cd->expr_handler, &err);
        return !err && val && (dialect_named(val) || !strcasecmp(val, CN_METRICS_HANDLER));
    }
    return cd->handler && (dialect_named(cd->handler)
                           || !strcasecmp(cd->handler, CN_METRICS_HANDLER));
}

/* The API and the browser's pages map to no file: claim their requests
 * before core walks <Directory> sections and stats the path under
 * DocumentRoot, as mod_proxy does for its URLs. A tree httpd's User cannot
 * search would otherwise answer 403 before the handler runs, and every call
 * would pay the stat calls. The <Location> walk still merges the per-dir
 * configuration (mod_session's, ours); core walks again after this hook and
 * finds it cached. Subrequests keep httpd's mapping: a file subrequest needs
 * its file. */
int cn_map_to_storage(request_rec *r)
{
    ap_conf_vector_t *defaults = r->per_dir_config;
    if (r->main || ap_location_walk(r) != OK) {
        r->per_dir_config = defaults;
        return DECLINED;
    }
    if (!location_handler_is_connect(r)) {
        r->per_dir_config = defaults;
        return DECLINED;
    }
    return OK;
}

/* The SetHandler of the <Location>s that match R's raw path (before core
 * decodes it), as core's fixups would evaluate it; NULL for none. The walk
 * leaves its per-dir configuration in R. */
static const char *raw_location_handler(request_rec *r)
{
    core_dir_config *cd;
    const char *err = NULL, *val;
    if (r->main || ap_location_walk(r) != OK
        || !(cd = ap_get_core_module_config(r->per_dir_config))) {
        return NULL;
    }
    val = cd->expr_handler ? ap_expr_str_exec(r, cd->expr_handler, &err) : cd->handler;
    return err ? NULL : val;
}

/* Raw paths the core would refuse before any handler runs (bad or NUL
 * percent-escapes) still get the API's answer: Context.IO's shape in a
 * contextio <Location>, the envelope under ConnectBaseURL's path. */
int cn_quick_handler(request_rec *r, int lookup)
{
    cn_server_conf_t *sc = ap_get_module_config(r->server->module_config, &connect_module);
    ap_conf_vector_t *defaults = r->per_dir_config;
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);
    const cn_dialect_t *dialect;
    const char *handler, *path;
    char *copy;
    apr_size_t n;
    cn_req_t req;
    if (lookup || !sc || !d || !r->parsed_uri.path) {
        return DECLINED;
    }
    /* as the core will decode it (AllowEncodedSlashes) */
    copy = apr_pstrdup(r->pool, r->parsed_uri.path);
    if ((d->allow_encoded_slashes ? ap_unescape_url_keep2f(copy, d->decode_encoded_slashes)
                                  : ap_unescape_url(copy)) == OK) {
        return DECLINED;
    }
    handler = raw_location_handler(r);
    dialect = dialect_named(handler);
    if (dialect) {
        /* a mount of one of the APIs: its own error shape */
        path = NULL;
    }
    else {
        r->per_dir_config = defaults;
        n = sc->base_path ? strlen(sc->base_path) : 0;
        if (!sc->base_path || strncmp(r->parsed_uri.path, sc->base_path, n)
            || (r->parsed_uri.path[n] != '/' && r->parsed_uri.path[n] != '\0')) {
            return DECLINED;
        }
        path = r->parsed_uri.path + n;
    }
    init_req(&req, r);
    req.dialect = dialect;
    req.contextio = dialect == &cn_cio_dialect;
    req.path = path ? path : path_below_mount(r, sc);
    ap_discard_request_body(r);
    return cn_reply_error(&req, CN_EV_BAD_REQUEST, "the path is not valid percent-encoding");
}
