/* Unit tests of the flow engine (include/cn_flow.h) without httpd: a real
 * SQLite store behind the context's database seam, which counts the
 * sections it opens and closes, and a fake HTTP seam that plays Google's and
 * Microsoft's token endpoints and user documents. Whole hosted flows from
 * POST /auth to the redirect back to the application, every way one can
 * fail, native authentication, and the rule of every flow: no database
 * handle is held while a provider is asked. */

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_dbd.h>
#include <apr_encode.h>
#include <apr_escape.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "cn_flow.h"
#include "cn_jobs.h"
#include "cn_proto.h"
#include "cn_test.h"
#include "cn_fakes.h"


#define BASE_URL "https://connect.example"
#define CALLBACK_URL BASE_URL "/callback"
#define APP_URI "https://app.example/cb"
#define APP_STATE "app-state-42"
#define APP_ID "app-1"
#define START_TIME 1700000000

/* ---- the providers the fake plays -------------------------------------- */

typedef struct provider_t {
    const char *name;
    const char *authorize_url, *token_url, *user_url;
    const char *integration;   /* the POST /integrations body */
    const char *mailbox_scope; /* what the application asks for */
    const char *claims;        /* the id_token's payload */
    const char *user_doc;      /* userinfo / Graph /me */
    const char *granted;       /* the token answer's scope */
    const char *narrow;        /* the same without the mailbox scope */
    const char *client_id, *client_secret;
    const char *subject, *user_id, *email; /* the grant that results */
    /* an email the provider does not vouch for, in the id_token and the user document */
    const char *unverified_claims, *unverified_doc;
} provider_t;

#define MS_TID "9188040d-6c67-4c5b-b112-36a304b66dad"
#define MS_OID "00000000-0000-0000-66f3-3332eca7ea81"

static const provider_t providers[] = {
    {"google",
     "https://accounts.google.com/o/oauth2/v2/auth",
     "https://oauth2.googleapis.com/token",
     "https://openidconnect.googleapis.com/v1/userinfo",
     "{\"name\":\"Google\",\"provider\":\"google\","
     "\"settings\":{\"client_id\":\"cid-google\",\"client_secret\":\"secret-google\"},"
     "\"redirect_uris\":[\"" APP_URI "\",\"https://app.example/other\"],"
     "\"scope\":[\"openid\",\"email\",\"https://mail.google.com/\"]}",
     "https://mail.google.com/",
     "{\"iss\":\"https://accounts.google.com\",\"sub\":\"109876543210\","
     "\"email\":\"Ann@Example.com\",\"email_verified\":true}",
     "{\"sub\":\"109876543210\",\"email\":\"Ann@Example.com\",\"email_verified\":true}",
     "openid https://www.googleapis.com/auth/userinfo.email https://mail.google.com/",
     "openid https://www.googleapis.com/auth/userinfo.email",
     "cid-google", "secret-google",
     "109876543210", "109876543210", "ann@example.com",
     "{\"sub\":\"109876543210\",\"email\":\"ann@example.com\",\"email_verified\":false}",
     "{\"sub\":\"109876543210\",\"email\":\"ann@example.com\",\"email_verified\":false}"},
    {"microsoft",
     "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
     "https://login.microsoftonline.com/common/oauth2/v2.0/token",
     "https://graph.microsoft.com/v1.0/me",
     "{\"name\":\"Microsoft\",\"provider\":\"microsoft\","
     "\"settings\":{\"client_id\":\"cid-microsoft\",\"client_secret\":\"secret-microsoft\"},"
     "\"redirect_uris\":[\"" APP_URI "\",\"https://app.example/other\"],"
     "\"scope\":[\"openid\",\"offline_access\",\"https://graph.microsoft.com/Mail.Read\"]}",
     "https://graph.microsoft.com/Mail.Read",
     "{\"tid\":\"" MS_TID "\",\"oid\":\"" MS_OID "\",\"sub\":\"pairwise-sub\","
     "\"email\":\"Carol@Contoso.example\",\"xms_edov\":true}",
     "{\"id\":\"" MS_OID "\",\"userPrincipalName\":\"Carol@Contoso.example\"}",
     "https://graph.microsoft.com/Mail.Read openid profile email",
     "openid profile email",
     "cid-microsoft", "secret-microsoft",
     MS_TID "/" MS_OID, MS_OID, "carol@contoso.example",
     "{\"tid\":\"" MS_TID "\",\"oid\":\"" MS_OID "\",\"email\":\"carol@contoso.example\","
     "\"xms_edov\":false}",
     "{\"id\":\"" MS_OID "\",\"mail\":\"carol@contoso.example\"}"},
};
#define GOOGLE (&providers[0])
#define MICROSOFT (&providers[1])
#define NPROVIDERS ((int)(sizeof(providers) / sizeof(providers[0])))

/* ---- the fake HTTP seam ------------------------------------------------ */

/* How the token endpoint answers. */
typedef enum token_mode_t {
    TOKEN_OK,
    TOKEN_NO_REFRESH,    /* tokens, but no refresh token */
    TOKEN_NARROW_SCOPE,  /* tokens, without the mailbox scope */
    TOKEN_INVALID_GRANT, /* 400 invalid_grant */
    TOKEN_INVALID_CLIENT,
    TOKEN_500,           /* 500 with an HTML page */
    TOKEN_NOT_JSON,      /* 200 with a form-encoded body */
    TOKEN_TIMEOUT,       /* no answer in time */
    TOKEN_TOO_LARGE      /* an answer over the size cap */
} token_mode_t;

typedef struct call_t {
    const char *method, *url, *bearer;
    apr_table_t *form; /* the POST body, decoded */
    int db_held;       /* ctx->db was set when it was made */
} call_t;

typedef struct fake_t {
    cn_ctx_t *ctx;         /* whose database handle must be NULL during a call */
    const provider_t *p;   /* whose endpoints answer */
    token_mode_t mode;
    const char *claims;    /* the id_token payload, when not the provider's */
    const char *user_doc;  /* userinfo / Graph /me, when not the provider's */
    const char *code;      /* the code the provider issued at its authorize endpoint */
    const char *challenge; /* and the PKCE challenge it was issued for */
    int code_spent;
    const char *refresh;   /* the refresh token the provider knows */
    const char *also_refresh; /* and another, of a second grant (may be NULL) */
    const char *access;    /* the last access token it issued */
    int minted;
    apr_array_header_t *calls; /* of call_t */
    int fail_next;             /* the token endpoint answers 503 this many times first */
    apr_interval_time_t cost;  /* what each call takes on the world's clock */
    int violations;            /* calls made while a database handle was held */
    int strangers;             /* calls to URLs it does not serve */
} fake_t;

/* ---- the world of one test (set up in the checked fixture) ------------- */

typedef struct world_t {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    cn_db_t db;
    int opens, closes, held, nested; /* the database seam's counters */
    apr_array_header_t *log;         /* the log seam's lines */
    cn_keyring_t *ring;
    cn_http_t http;
    fake_t fake;
    cn_clock_seam_t clock;           /* the time of waits: injected */
    apr_time_t clock_now;
    apr_array_header_t *slept;       /* apr_interval_time_t: the waits asked for */
    cn_ctx_t ctx;
} world_t;

static world_t w;

static const char *b64url(const void *data, apr_size_t len)
{
    return apr_pencode_base64_binary(pool, data, (apr_ssize_t)len,
                                     APR_ENCODE_BASE64URL | APR_ENCODE_NOPADDING, NULL);
}

/* base64url(SHA-256(VERIFIER)), computed here without the core's helpers. */
static const char *s256(const char *verifier)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)verifier, strlen(verifier), d);
    return b64url(d, sizeof(d));
}

static const char *unescape(const char *s)
{
    const char *u = apr_punescape_url(pool, s, NULL, NULL, 1);
    ck_assert_msg(u != NULL, "bad percent-encoding in %s", s);
    return u;
}

/* name=value pairs of a form or a query string, decoded. */
static apr_table_t *form_of(const char *text)
{
    apr_table_t *t = apr_table_make(pool, 8);
    char *copy = apr_pstrdup(pool, text ? text : ""), *tok, *last = NULL;
    for (tok = apr_strtok(copy, "&", &last); tok; tok = apr_strtok(NULL, "&", &last)) {
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
        }
        apr_table_add(t, unescape(tok), eq ? unescape(eq + 1) : "");
    }
    return t;
}

static apr_table_t *query_of(const char *url)
{
    const char *q = strchr(url, '?');
    return form_of(q ? q + 1 : "");
}

static const char *url_base(const char *url)
{
    const char *q = strchr(url, '?');
    return q ? apr_pstrndup(pool, url, (apr_size_t)(q - url)) : url;
}

/* An unsigned JWT with PAYLOAD (the core reads it without a signature check:
 * it comes straight from the token endpoint). */
static const char *jwt(const char *payload)
{
    static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";
    return apr_pstrcat(pool, b64url(header, strlen(header)), ".",
                       b64url(payload, strlen(payload)), ".c2lnbmF0dXJl", NULL);
}

static apr_status_t answer(cn_http_response_t *resp, int status, const char *ctype,
                           const char *body)
{
    resp->status = status;
    resp->content_type = ctype;
    resp->body = body;
    resp->body_len = strlen(body);
    return APR_SUCCESS;
}

static apr_status_t oauth_error(cn_http_response_t *resp, int status, const char *error,
                                const char *desc)
{
    return answer(resp, status, "application/json",
                  apr_psprintf(pool, "{\"error\":\"%s\",\"error_description\":\"%s\"}", error,
                               desc));
}

static int is(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static apr_status_t token_endpoint(fake_t *f, apr_table_t *form, cn_http_response_t *resp)
{
    const char *grant_type = apr_table_get(form, "grant_type"), *verifier;
    json_t *ans;
    if (f->fail_next > 0) {
        f->fail_next--;
        return answer(resp, 503, "text/html", "<html><body>Unavailable</body></html>");
    }
    switch (f->mode) {
    case TOKEN_TIMEOUT:
        resp->error = "timed out";
        return APR_TIMEUP;
    case TOKEN_TOO_LARGE:
        resp->error = "the answer exceeds the size limit";
        return APR_ENOSPC;
    case TOKEN_500:
        return answer(resp, 500, "text/html", "<html><body>Server Error</body></html>");
    case TOKEN_NOT_JSON:
        return answer(resp, 200, "text/plain", "access_token=at&token_type=bearer");
    case TOKEN_INVALID_GRANT:
        return oauth_error(resp, 400, "invalid_grant", "Bad Request");
    case TOKEN_INVALID_CLIENT:
        return oauth_error(resp, 401, "invalid_client", "The OAuth client was not found.");
    default:
        break;
    }
    if (!is(apr_table_get(form, "client_id"), f->p->client_id)
        || !is(apr_table_get(form, "client_secret"), f->p->client_secret)) {
        return oauth_error(resp, 401, "invalid_client", "wrong client credentials");
    }
    if (is(grant_type, "authorization_code")) {
        verifier = apr_table_get(form, "code_verifier");
        if (!f->code || f->code_spent || !is(apr_table_get(form, "code"), f->code)) {
            return oauth_error(resp, 400, "invalid_grant", "unknown or spent code");
        }
        if (!is(apr_table_get(form, "redirect_uri"), CALLBACK_URL)) {
            return oauth_error(resp, 400, "invalid_grant", "redirect_uri mismatch");
        }
        if (!verifier || !f->challenge || strcmp(s256(verifier), f->challenge)) {
            return oauth_error(resp, 400, "invalid_grant", "code_verifier mismatch");
        }
        f->code_spent = 1;
    }
    else if (is(grant_type, "refresh_token")) {
        if (!is(apr_table_get(form, "refresh_token"), f->refresh)
            && !is(apr_table_get(form, "refresh_token"), f->also_refresh)) {
            return oauth_error(resp, 400, "invalid_grant", "Token has been expired or revoked.");
        }
    }
    else {
        return oauth_error(resp, 400, "unsupported_grant_type", "?");
    }
    f->access = apr_psprintf(pool, "at-%s-%d", f->p->name, ++f->minted);
    ans = cn_json_own(pool, json_pack("{s:s,s:s,s:i,s:s,s:s}", "access_token", f->access,
                                      "token_type", "Bearer", "expires_in", 3599, "scope",
                                      f->mode == TOKEN_NARROW_SCOPE ? f->p->narrow
                                                                    : f->p->granted,
                                      "id_token", jwt(f->claims ? f->claims : f->p->claims)));
    ck_assert_ptr_nonnull(ans);
    /* A refresh does not rotate the refresh token (as Google does). */
    if (is(grant_type, "authorization_code") && f->mode != TOKEN_NO_REFRESH) {
        f->refresh = apr_psprintf(pool, "rt-%s-%d", f->p->name, f->minted);
        json_object_set_new(ans, "refresh_token", json_string(f->refresh));
    }
    return answer(resp, 200, "application/json; charset=utf-8", cn_json_dump(pool, ans));
}

static apr_status_t fake_perform(cn_http_t *http, apr_pool_t *p, const cn_http_request_t *req,
                                 cn_http_response_t *resp)
{
    fake_t *f = http->baton;
    call_t *c = apr_array_push(f->calls);
    (void)p;
    memset(resp, 0, sizeof(*resp));
    c->method = apr_pstrdup(pool, req->method);
    c->url = apr_pstrdup(pool, req->url);
    c->bearer = req->bearer ? apr_pstrdup(pool, req->bearer) : NULL;
    c->form = NULL;
    c->db_held = f->ctx->db != NULL;
    w.clock_now += f->cost;
    if (c->db_held) {
        f->violations++; /* the rule: never a database handle during a provider call */
    }
    if (!strcmp(req->method, "POST")) {
        ck_assert_msg(!req->content_type
                          || !strcmp(req->content_type, "application/x-www-form-urlencoded"),
                      "POST %s as %s", req->url, req->content_type);
        c->form = form_of(apr_pstrndup(pool, req->body ? req->body : "", req->body_len));
    }
    if (is(req->url, f->p->token_url) && c->form) {
        return token_endpoint(f, c->form, resp);
    }
    if (is(req->url, f->p->user_url) && !strcmp(req->method, "GET")) {
        if (!is(req->bearer, f->access)) {
            return oauth_error(resp, 401, "invalid_token", "not an access token of ours");
        }
        return answer(resp, 200, "application/json",
                      f->user_doc ? f->user_doc : f->p->user_doc);
    }
    if (is(req->url, "https://oauth2.googleapis.com/revoke") && c->form) {
        return answer(resp, 200, "application/json", "{}");
    }
    f->strangers++;
    return answer(resp, 404, "text/plain", "not found");
}

/* Requests the fake got for URL. */
static int calls_to(const char *url)
{
    int i, n = 0;
    for (i = 0; i < w.fake.calls->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(w.fake.calls, i, call_t).url, url)) {
            n++;
        }
    }
    return n;
}

static const call_t *last_call(void)
{
    ck_assert_int_gt(w.fake.calls->nelts, 0);
    return &APR_ARRAY_IDX(w.fake.calls, w.fake.calls->nelts - 1, call_t);
}

/* ---- the database and log seams ---------------------------------------- */

static apr_status_t seam_open(void *baton, apr_pool_t *p, cn_db_t **db)
{
    world_t *wd = baton;
    (void)p;
    wd->opens++;
    if (wd->held) {
        wd->nested++; /* a second handle while one is out: a section leaked */
    }
    wd->held = 1;
    *db = &wd->db;
    return APR_SUCCESS;
}

static void seam_close(void *baton, cn_db_t *db)
{
    world_t *wd = baton;
    ck_assert_ptr_eq(db, &wd->db);
    wd->closes++;
    wd->held = 0;
}

static void log_write(void *baton, int level, const char *line)
{
    world_t *wd = baton;
    APR_ARRAY_PUSH(wd->log, const char *) = apr_psprintf(pool, "%d %s", level, line);
}

/* Lines of the log seam that contain WHAT. */
static int logged(const char *what)
{
    int i, n = 0;
    for (i = 0; i < w.log->nelts; ++i) {
        if (strstr(APR_ARRAY_IDX(w.log, i, const char *), what)) {
            n++;
        }
    }
    return n;
}

static apr_time_t clock_now(void *baton)
{
    return ((world_t *)baton)->clock_now;
}

static void clock_sleep(void *baton, apr_interval_time_t t)
{
    world_t *wd = baton;
    APR_ARRAY_PUSH(wd->slept, apr_interval_time_t) = t;
    wd->clock_now += t;
}

static void world_setup(void)
{
    unsigned char key[CN_KEY_LEN];

    cn_test_pool_setup();
    memset(&w, 0, sizeof(w));
    cn_test_store_open("f", &w.db);
    w.driver = w.db.driver;
    w.handle = w.db.handle;

    w.log = apr_array_make(pool, 16, sizeof(const char *));
    w.ring = cn_keyring_make(pool);
    ck_assert_int_eq(cn_random_bytes(key, sizeof(key)), APR_SUCCESS);
    ck_assert_int_eq(cn_keyring_add(w.ring, key, sizeof(key)), APR_SUCCESS);

    w.fake.ctx = &w.ctx;
    w.fake.p = GOOGLE;
    w.fake.calls = apr_array_make(pool, 8, sizeof(call_t));
    w.http.perform = fake_perform;
    w.http.baton = &w.fake;

    w.ctx.pool = pool;
    w.ctx.dbs.open = seam_open;
    w.ctx.dbs.close = seam_close;
    w.ctx.dbs.baton = &w;
    w.ctx.log.write = log_write;
    w.ctx.log.baton = &w;
    w.ctx.ring = w.ring;
    w.ctx.app_id = APP_ID;
    w.ctx.now = START_TIME;
    w.ctx.request_id = "req-1";
    w.ctx.http = &w.http;
    w.ctx.base_url = BASE_URL;
    w.ctx.client_ip = "192.0.2.7";
    w.ctx.user_agent = "Mozilla/5.0 (unit test)";
    w.clock.now = clock_now;
    w.clock.sleep = clock_sleep;
    w.clock.baton = &w;
    w.clock_now = apr_time_from_sec(START_TIME);
    w.slept = apr_array_make(pool, 4, sizeof(apr_interval_time_t));
    w.ctx.clock = &w.clock;
}

static void world_teardown(void)
{
    if (w.handle) {
        apr_dbd_close(w.driver, w.handle); /* finalizes the prepared statements */
        w.handle = NULL;
    }
    cn_test_pool_teardown();
}

/* After every core call: each section it opened is closed, no handle is
 * left with the context, and no provider was asked while one was held. */
#define CHECK_SEAMS() check_seams(__LINE__)
static void check_seams(int line)
{
    /* what never goes into a log line */
    const char *secrets[] = {w.fake.code, w.fake.refresh, w.fake.access, w.fake.p->client_secret};
    const char *const *s;
    int i;
    ck_assert_msg(w.opens == w.closes, "line %d: %d sections opened, %d closed", line, w.opens,
                  w.closes);
    ck_assert_msg(!w.held && !w.nested, "line %d: a database handle is still out", line);
    ck_assert_msg(w.ctx.db == NULL && w.ctx.db_depth == 0, "line %d: the context keeps a handle",
                  line);
    ck_assert_msg(w.fake.violations == 0, "line %d: a provider was called with a handle held",
                  line);
    ck_assert_msg(w.fake.strangers == 0, "line %d: a request to a URL no provider serves (%s)",
                  line, last_call()->url);
    for (i = 0; i < w.log->nelts; ++i) {
        const char *l = APR_ARRAY_IDX(w.log, i, const char *);
        for (s = secrets; s < secrets + sizeof(secrets) / sizeof(secrets[0]); ++s) {
            ck_assert_msg(!*s || !strstr(l, *s), "line %d: a secret in the log: %s", line, l);
        }
    }
}

/* ---- what the database holds -------------------------------------------- */

static long count_of(const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    long n = -1;
    int rv = apr_dbd_select(w.driver, pool, w.handle, &res, sql, 0);
    ck_assert_msg(rv == 0, "%s: %s", sql, apr_dbd_error(w.driver, w.handle, rv));
    while (apr_dbd_get_row(w.driver, pool, res, &row, -1) == 0) {
        if (n < 0) {
            n = atol(apr_dbd_get_entry(w.driver, row, 0));
        }
    }
    return n;
}

/* SQL that changes rows; how many. */
static int db_do(const char *sql)
{
    int n = 0, rv = apr_dbd_query(w.driver, w.handle, &n, sql);
    ck_assert_msg(rv == 0, "%s: %s", sql, apr_dbd_error(w.driver, w.handle, rv));
    return n;
}

static long grants_stored(void)
{
    return count_of("SELECT count(*) FROM grants");
}

static long events_of(const char *type)
{
    return count_of(apr_psprintf(pool, "SELECT count(*) FROM events WHERE type = '%s'", type));
}

/* ---- what an application does through the API (a route with a handle) --- */

static json_t *body_of(const char *text)
{
    json_error_t err;
    json_t *j = cn_json_own(pool, json_loads(text, 0, &err));
    ck_assert_msg(j != NULL, "fixture is not JSON (%s): %s", err.text, text);
    return j;
}

/* POST /integrations of P. */
static void make_integration(const provider_t *p)
{
    json_t *out = NULL;
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_msg(cn_integration_create(&w.ctx, body_of(p->integration), &out) == APR_SUCCESS,
                  "integration: %s", w.ctx.res.description);
    cn_ctx_db_close(&w.ctx);
    CHECK_SEAMS();
}

/* POST /auth of P for the application's redirect URI; the login id. */
static const char *make_login(const provider_t *p, int expires_in)
{
    json_t *out = NULL, *body;
    const char *id = NULL;
    body = cn_json_own(pool, json_pack("{s:s,s:s,s:s,s:s}", "provider", p->name, "redirect_uri",
                                       APP_URI, "state", APP_STATE, "login_hint",
                                       "someone@example.com"));
    if (expires_in) {
        json_object_set_new(body, "expires_in", json_integer(expires_in));
    }
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_msg(cn_login_create(&w.ctx, body, &out) == APR_SUCCESS, "login: %s",
                  w.ctx.res.description);
    cn_ctx_db_close(&w.ctx);
    CHECK_SEAMS();
    ck_assert_int_eq(cn_json_get_string(out, "id", &id), APR_SUCCESS);
    ck_assert_ptr_nonnull(id);
    ck_assert_str_eq(json_string_value(json_object_get(out, "url")),
                     apr_pstrcat(pool, BASE_URL "/login?id=", id, NULL));
    return id;
}

/* PATCH /integrations/{provider} or DELETE, between launch and callback. */
static void update_integration(const provider_t *p, const char *body)
{
    json_t *out = NULL;
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_msg(cn_integration_update(&w.ctx, p->name, body_of(body), &out) == APR_SUCCESS,
                  "update: %s", w.ctx.res.description);
    cn_ctx_db_close(&w.ctx);
    CHECK_SEAMS();
}

static void delete_integration(const provider_t *p)
{
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_int_eq(cn_integration_delete(&w.ctx, p->name), APR_SUCCESS);
    cn_ctx_db_close(&w.ctx);
    CHECK_SEAMS();
}

static cn_grant_t *load_grant(const char *id)
{
    cn_grant_t *g = NULL;
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_msg(cn_grant_load(&w.ctx, id, &g) == APR_SUCCESS, "grant %s: %s", id,
                  w.ctx.res.description);
    cn_ctx_db_close(&w.ctx);
    CHECK_SEAMS();
    return g;
}

static const char *open_secret(const cn_grant_t *g, const char *column, const char *sealed)
{
    const char *plain = NULL;
    apr_size_t len;
    ck_assert_msg(cn_crypto_is_sealed(sealed), "%s is not sealed", column);
    ck_assert_int_eq(cn_crypto_open(pool, w.ring, sealed,
                                    cn_crypto_aad(pool, "grants", column, g->id), &plain, &len),
                     APR_SUCCESS);
    return plain;
}

/* ---- what a browser does (the glue's GET /login and GET /callback) ------ */

typedef struct browser_t {
    cn_flow_t *flow;          /* as begun */
    const char *key, *sealed; /* its value in the browser's session */
    const char *location;     /* the provider's authorize URL */
    apr_table_t *authorize;   /* its query */
} browser_t;

/* GET /login?id=ID: begin, the session takes the sealed flow, launch. On
 * success the provider "issues" a code for the PKCE challenge it was sent. */
static apr_status_t visit_login(const char *id, browser_t *b)
{
    apr_status_t rv;
    memset(b, 0, sizeof(*b));
    rv = cn_flow_hosted_begin(&w.ctx, id, NULL, &b->flow);
    CHECK_SEAMS();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    ck_assert_int_eq(cn_flow_seal(&w.ctx, b->flow, &b->key, &b->sealed), APR_SUCCESS);
    CHECK_SEAMS();
    rv = cn_flow_launch(&w.ctx, b->flow, &b->location);
    CHECK_SEAMS();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    b->authorize = query_of(b->location);
    w.fake.challenge = apr_table_get(b->authorize, "code_challenge");
    w.fake.code = apr_psprintf(pool, "4/code-%d", w.fake.calls->nelts);
    w.fake.code_spent = 0;
    return APR_SUCCESS;
}

/* The provider's redirect to /callback with the code, and the state. */
static apr_table_t *callback_query(const browser_t *b)
{
    apr_table_t *q = apr_table_make(pool, 4);
    apr_table_set(q, "code", w.fake.code);
    apr_table_set(q, "state", apr_table_get(b->authorize, "state"));
    apr_table_set(q, "scope", "ignored by the core");
    return q;
}

/* GET /callback with QUERY, for the flow in B's session: open the flow, then
 * complete it. FAILED_AT: 1 when the open failed, 2 when the completion
 * answered with a page; 0 when *LOCATION is where the browser goes. */
static int visit_callback(const browser_t *b, const apr_table_t *query, const char **location)
{
    cn_flow_t *flow = NULL;
    apr_status_t rv;
    *location = NULL;
    rv = cn_flow_open(&w.ctx, b->key, b->sealed, apr_table_get(query, "state"), &flow);
    CHECK_SEAMS();
    if (rv != APR_SUCCESS) {
        return 1;
    }
    ck_assert_ptr_null(flow->loaded); /* nothing of GET /login's request is left */
    rv = cn_flow_complete(&w.ctx, flow, query, location, NULL);
    CHECK_SEAMS();
    if (rv != APR_SUCCESS) {
        return 2;
    }
    ck_assert_ptr_nonnull(*location);
    return 0;
}

/* ---- a whole hosted flow, from POST /auth to the application ------------ */

START_TEST(test_hosted_whole_flow)
{
    const provider_t *p = &providers[_i];
    browser_t b;
    cn_flow_t *opened = NULL;
    apr_table_t *aq, *back;
    const char *id, *location, *challenge, *scope;
    const call_t *tok;
    cn_grant_t *g;

    w.fake.p = p;
    make_integration(p);
    id = make_login(p, 0);

    /* GET /login: a new flow for the login request, nothing spent yet */
    ck_assert_int_eq(cn_flow_hosted_begin(&w.ctx, id, NULL, &b.flow), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_str_eq(b.flow->kind, "hosted");
    ck_assert_str_eq(b.flow->provider, p->name);
    ck_assert_str_eq(b.flow->app_id, APP_ID);
    ck_assert_int_eq(b.flow->created, START_TIME);
    ck_assert_int_gt(b.flow->deadline, START_TIME);
    ck_assert_int_ge(strlen(b.flow->state), 43);
    ck_assert_int_ge(strlen(b.flow->verifier), 43);
    ck_assert_str_ne(b.flow->state, b.flow->verifier);
    ck_assert_str_eq(b.flow->origin, cn_sha256_hex(pool, id, strlen(id)));
    ck_assert_int_eq(events_of("hosted_login_started"), 0);

    /* the browser's session takes it, sealed, under a key named by its state */
    ck_assert_int_eq(cn_flow_seal(&w.ctx, b.flow, &b.key, &b.sealed), APR_SUCCESS);
    ck_assert_str_eq(b.key, cn_flow_session_key(pool, b.flow->state));
    ck_assert_int_eq(strlen(b.key), strlen(CN_FLOW_SESSION_PREFIX) + 8);
    ck_assert_msg(!strstr(b.sealed, b.flow->state), "the state is in the sealed value");
    ck_assert_msg(!strstr(b.sealed, b.flow->verifier), "the verifier is in the sealed value");
    ck_assert_msg(!strstr(b.sealed, id), "the login id is in the sealed value");
    ck_assert_int_eq(cn_flow_open(&w.ctx, b.key, b.sealed, "someone-elses-state", &opened),
                     APR_EGENERAL);
    ck_assert_str_eq(w.ctx.res.event->type, "login_id_invalid");
    ck_assert_int_eq(cn_flow_open(&w.ctx, b.key, b.sealed, b.flow->state, &opened), APR_SUCCESS);
    ck_assert_str_eq(opened->verifier, b.flow->verifier);
    ck_assert_str_eq(opened->origin, b.flow->origin);
    ck_assert_str_eq(opened->integration_id, b.flow->integration_id);
    ck_assert_int_eq(opened->deadline, b.flow->deadline);
    CHECK_SEAMS();

    /* launch: the login is spent, the browser goes to the provider */
    ck_assert_int_eq(cn_flow_launch(&w.ctx, b.flow, &b.location), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(w.fake.calls->nelts, 0); /* the browser goes there, not the server */
    ck_assert_str_eq(url_base(b.location), p->authorize_url);
    aq = b.authorize = query_of(b.location);
    ck_assert_str_eq(apr_table_get(aq, "client_id"), p->client_id);
    ck_assert_str_eq(apr_table_get(aq, "redirect_uri"), CALLBACK_URL);
    ck_assert_str_eq(apr_table_get(aq, "response_type"), "code");
    ck_assert_str_eq(apr_table_get(aq, "state"), b.flow->state);
    ck_assert_str_eq(apr_table_get(aq, "code_challenge_method"), "S256");
    challenge = apr_table_get(aq, "code_challenge");
    ck_assert_str_eq(challenge, s256(b.flow->verifier));
    ck_assert_str_eq(apr_table_get(aq, "login_hint"), "someone@example.com");
    scope = apr_table_get(aq, "scope");
    ck_assert_msg(strstr(scope, p->mailbox_scope) && strstr(scope, "openid"), "scope %s", scope);
    ck_assert_msg(!strstr(b.location, p->client_secret), "the client secret is in the URL");
    if (p == GOOGLE) {
        ck_assert_str_eq(apr_table_get(aq, "access_type"), "offline");
        ck_assert_str_eq(apr_table_get(aq, "prompt"), "consent");
    }
    else {
        ck_assert_str_eq(apr_table_get(aq, "prompt"), "select_account");
        ck_assert_str_eq(apr_table_get(aq, "response_mode"), "query");
        ck_assert_msg(strstr(scope, "offline_access"), "scope %s", scope);
    }
    ck_assert_int_eq(events_of("hosted_login_started"), 1);
    ck_assert_int_eq(count_of("SELECT count(*) FROM login_requests WHERE used_at IS NOT NULL"), 1);

    /* the user consents; the provider sends the browser back with a code */
    w.fake.challenge = challenge;
    w.fake.code = "4/0AX4XfWh-the-code";
    ck_assert_int_eq(visit_callback(&b, callback_query(&b), &location), 0);

    /* one code exchange, with the verifier of the challenge (the fake checked) */
    ck_assert_int_eq(calls_to(p->token_url), 1);
    ck_assert_int_eq(calls_to(p->user_url), 0); /* the id_token said it all */
    ck_assert_int_eq(w.fake.calls->nelts, 1);
    ck_assert_int_eq(w.fake.code_spent, 1);
    tok = last_call();
    ck_assert_str_eq(tok->method, "POST");
    ck_assert_str_eq(apr_table_get(tok->form, "grant_type"), "authorization_code");
    ck_assert_str_eq(apr_table_get(tok->form, "code"), "4/0AX4XfWh-the-code");
    ck_assert_str_eq(apr_table_get(tok->form, "code_verifier"), b.flow->verifier);
    ck_assert_str_eq(apr_table_get(tok->form, "redirect_uri"), CALLBACK_URL);
    ck_assert_int_eq(tok->db_held, 0);

    /* back to the application, told of its grant */
    ck_assert_str_eq(url_base(location), APP_URI);
    back = query_of(location);
    ck_assert_str_eq(apr_table_get(back, "success"), "true");
    ck_assert_str_eq(apr_table_get(back, "state"), APP_STATE);
    ck_assert_str_eq(apr_table_get(back, "provider"), p->name);
    ck_assert_str_eq(apr_table_get(back, "email"), p->email);
    ck_assert_ptr_null(apr_table_get(back, "error"));
    ck_assert_ptr_nonnull(apr_table_get(back, "grant_id"));

    /* the grant, keyed by the provider's subject, its tokens sealed */
    ck_assert_int_eq(grants_stored(), 1);
    g = load_grant(apr_table_get(back, "grant_id"));
    ck_assert_str_eq(g->provider, p->name);
    ck_assert_str_eq(g->app_id, APP_ID);
    ck_assert_str_eq(g->integration_id, b.flow->integration_id);
    ck_assert_str_eq(g->email, p->email);
    ck_assert_str_eq(g->subject, p->subject);
    ck_assert_str_eq(g->provider_user_id, p->user_id);
    ck_assert_str_eq(g->grant_status, "valid");
    ck_assert_str_eq(g->state, APP_STATE);
    ck_assert_str_eq(g->ip, "192.0.2.7");
    ck_assert_str_eq(open_secret(g, "refresh_token", g->refresh_token), w.fake.refresh);
    ck_assert_str_eq(open_secret(g, "access_token", g->access_token), w.fake.access);
    ck_assert_int_eq(g->access_expires_at, START_TIME + 3599);
    ck_assert_int_eq(count_of(apr_psprintf(pool, "SELECT count(*) FROM grants WHERE"
                                                 " refresh_token LIKE '%%%s%%'"
                                                 " OR access_token LIKE '%%%s%%'",
                                           w.fake.refresh, w.fake.access)),
                     0);

    /* what happened, as the events table tells it */
    ck_assert_int_eq(events_of("hosted_login_started"), 1);
    ck_assert_int_eq(events_of("hosted_login_used"), 1);
    ck_assert_int_eq(events_of("grant_created"), 1);
    ck_assert_int_eq(count_of("SELECT count(*) FROM events WHERE app_id <> '" APP_ID "'"), 0);
    ck_assert_int_eq(logged("CN00203"), 1);
    ck_assert_int_eq(logged("CN00202"), 0);

    /* every database section was a short one, and there were some */
    ck_assert_int_ge(w.opens, 6);
    CHECK_SEAMS();
}
END_TEST

/* The flow in the browser's session: bound to its key, readable by no one,
 * and good only for its own state until its deadline. */
START_TEST(test_flow_sealed)
{
    cn_flow_t *f, *g = NULL;
    const char *key, *sealed, *other_key, *other_sealed;
    char *tampered;
    ck_assert_int_eq(cn_flow_new(&w.ctx, "hosted", &f), APR_SUCCESS);
    f->app_id = APP_ID;
    f->integration_id = "int-1";
    f->provider = "google";
    f->origin = "digest";
    f->deadline = START_TIME + 600;
    ck_assert_int_eq(cn_flow_seal(&w.ctx, f, &key, &sealed), APR_SUCCESS);
    ck_assert_msg(!strncmp(key, CN_FLOW_SESSION_PREFIX, strlen(CN_FLOW_SESSION_PREFIX)), "%s",
                  key);
    ck_assert_str_eq(key + strlen(CN_FLOW_SESSION_PREFIX),
                     apr_pstrndup(pool, cn_sha256_hex(pool, f->state, strlen(f->state)), 8));
    ck_assert_msg(!strstr(sealed, f->state) && !strstr(sealed, f->verifier), "in the clear");

    /* a second flow of the same browser: another state, verifier and key */
    ck_assert_int_eq(cn_flow_new(&w.ctx, "hosted", &g), APR_SUCCESS);
    ck_assert_str_ne(g->state, f->state);
    ck_assert_str_ne(g->verifier, f->verifier);
    {
        cn_flow_t copy = *f;
        copy.state = g->state;
        copy.verifier = g->verifier;
        copy.login_hint = "who@example.test";
        copy.mail_type = "yahoo";
        copy.return_origin = "https://app.example";
        *g = copy;
    }
    ck_assert_int_eq(cn_flow_seal(&w.ctx, g, &other_key, &other_sealed), APR_SUCCESS);
    ck_assert_str_ne(other_key, key);
    {   /* the optional fields come back; a flow without them has NULLs */
        cn_flow_t *h = NULL;
        const char *g_state = g->state;
        ck_assert_int_eq(cn_flow_open(&w.ctx, other_key, other_sealed, g_state, &h), APR_SUCCESS);
        ck_assert_str_eq(h->login_hint, "who@example.test");
        ck_assert_str_eq(h->mail_type, "yahoo");
        ck_assert_str_eq(h->return_origin, "https://app.example");
        ck_assert_int_eq(cn_flow_open(&w.ctx, key, sealed, f->state, &h), APR_SUCCESS);
        ck_assert_ptr_null(h->login_hint);
        ck_assert_ptr_null(h->mail_type);
        ck_assert_ptr_null(h->return_origin);
        /* the forms' anti-forgery token: the flow's own, another flow's refused */
        ck_assert(cn_flow_csrf_ok(pool, f, cn_flow_csrf(pool, f)));
        ck_assert(!cn_flow_csrf_ok(pool, f, cn_flow_csrf(pool, g)));
        ck_assert(!cn_flow_csrf_ok(pool, f, NULL));
        ck_assert(!cn_flow_csrf_ok(pool, f, ""));
        ck_assert_msg(!strstr(cn_flow_csrf(pool, f), f->verifier), "the verifier shows");
    }

    /* the right state, before the deadline */
    g = NULL;
    ck_assert_int_eq(cn_flow_open(&w.ctx, key, sealed, f->state, &g), APR_SUCCESS);
    ck_assert_str_eq(g->state, f->state);
    ck_assert_str_eq(g->verifier, f->verifier);
    ck_assert_str_eq(g->provider, "google");
    ck_assert_int_eq(g->deadline, START_TIME + 600);

    /* another state, none, another key, another flow's value, a changed byte */
    ck_assert_int_ne(cn_flow_open(&w.ctx, key, sealed, apr_pstrcat(pool, f->state, "x", NULL), &g),
                     APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "login_id_invalid");
    ck_assert_int_ne(cn_flow_open(&w.ctx, key, sealed, NULL, &g), APR_SUCCESS);
    ck_assert_int_ne(cn_flow_open(&w.ctx, other_key, sealed, f->state, &g), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "login_id_invalid");
    ck_assert_int_ne(cn_flow_open(&w.ctx, key, other_sealed, f->state, &g), APR_SUCCESS);
    tampered = apr_pstrdup(pool, sealed);
    tampered[strlen(tampered) - 3] = tampered[strlen(tampered) - 3] == 'A' ? 'B' : 'A';
    ck_assert_int_ne(cn_flow_open(&w.ctx, key, tampered, f->state, &g), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "login_id_invalid");

    /* at the deadline it is over */
    w.ctx.now = START_TIME + 599;
    ck_assert_int_eq(cn_flow_open(&w.ctx, key, sealed, f->state, &g), APR_SUCCESS);
    w.ctx.now = START_TIME + 600;
    ck_assert_int_ne(cn_flow_open(&w.ctx, key, sealed, f->state, &g), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "login_id_invalid");

    /* none of it needs the database */
    ck_assert_int_eq(w.opens, 0);
    CHECK_SEAMS();
}
END_TEST

/* A login request made with a cookie_nonce is begun only by the browser
 * that has the cookie; other browsers do not burn the link. */
START_TEST(test_cookie_nonce)
{
    json_t *out = NULL;
    const char *id = NULL;
    cn_flow_t *f = NULL;
    make_integration(GOOGLE);
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_int_eq(cn_login_create(&w.ctx,
                                     body_of("{\"provider\":\"google\",\"redirect_uri\":\""
                                             APP_URI "\",\"cookie_nonce\":\"n-1\"}"),
                                     &out),
                     APR_SUCCESS);
    cn_ctx_db_close(&w.ctx);
    ck_assert_ptr_null(json_object_get(json_object_get(out, "request"), "cookie_nonce"));
    ck_assert_int_eq(cn_json_get_string(out, "id", &id), APR_SUCCESS);
    ck_assert_int_ne(cn_flow_hosted_begin(&w.ctx, id, NULL, &f), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "login_id_invalid");
    ck_assert_int_ne(cn_flow_hosted_begin(&w.ctx, id, "n-2", &f), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "login_id_invalid");
    ck_assert_int_eq(cn_flow_hosted_begin(&w.ctx, id, "n-1", &f), APR_SUCCESS);
    CHECK_SEAMS();
}
END_TEST

/* ---- every way a hosted flow fails --------------------------------------- */

/* What happens to the flow on its way. */
typedef enum twist_t {
    NONE,
    UNKNOWN_ID,        /* GET /login with an id never handed out */
    SHORT_ID,          /* ... with something that is not a login id */
    EXPIRED,           /* ... once the login request has expired */
    REUSED,            /* ... a second time, after a launch */
    RACED,             /* two tabs begin; the other launches first */
    PAST_DEADLINE,     /* the callback comes after the flow's deadline */
    OTHER_STATE,       /* the callback's state is not the flow's */
    PROVIDER_ERROR,    /* the provider sends error=access_denied */
    NO_CODE,           /* the provider sends neither code nor error */
    CALLBACK_TWICE,    /* the callback replayed with an old copy of the session */
    DELETED,           /* the integration deleted between launch and callback */
    RECREATED,         /* ... deleted and made again (another id) */
    URI_REMOVED,       /* the application's redirect URI removed from it */
    CLIENT_ID_CHANGED, /* new client credentials between launch and callback */
    UNVERIFIED         /* the provider has not verified the user's email */
} twist_t;

/* Where the failure shows. */
typedef enum stage_t {
    AT_BEGIN,  /* GET /login answers with a page */
    AT_LAUNCH, /* GET /login answers with a page, after the session was written */
    AT_OPEN,   /* GET /callback answers with a page: the flow does not open */
    AT_PAGE,   /* GET /callback answers with a page: the origin is gone or not allowed */
    AT_APP     /* GET /callback redirects to the application with success=false */
} stage_t;

static const struct fail_case {
    const char *name;
    const provider_t *p;
    twist_t twist;
    token_mode_t token;
    stage_t at;
    const char *error;  /* the event's type */
    int exchanges;      /* requests to the token endpoint */
    int grants;         /* grants in the end */
    const char *why;    /* part of the description, when given */
} fail_cases[] = {
    {"login id unknown", GOOGLE, UNKNOWN_ID, TOKEN_OK,
     AT_BEGIN, "login_id_invalid", 0, 0, NULL},
    {"login id malformed", GOOGLE, SHORT_ID, TOKEN_OK,
     AT_BEGIN, "login_id_invalid", 0, 0, NULL},
    {"login expired", GOOGLE, EXPIRED, TOKEN_OK,
     AT_BEGIN, "login_id_invalid", 0, 0, NULL},
    {"login reused", GOOGLE, REUSED, TOKEN_OK,
     AT_BEGIN, "login_id_invalid", 0, 0, NULL},
    {"login raced by a second tab", GOOGLE, RACED, TOKEN_OK,
     AT_LAUNCH, "login_id_invalid", 0, 0, NULL},
    {"flow deadline passed", GOOGLE, PAST_DEADLINE, TOKEN_OK,
     AT_OPEN, "login_id_invalid", 0, 0, "longer than allowed"},
    {"state mismatch", GOOGLE, OTHER_STATE, TOKEN_OK,
     AT_OPEN, "login_id_invalid", 0, 0, "state"},
    {"callback twice", GOOGLE, CALLBACK_TWICE, TOKEN_OK,
     AT_PAGE, "login_id_invalid", 1, 1, "already completed"},
    {"integration deleted", GOOGLE, DELETED, TOKEN_OK,
     AT_PAGE, "integration_no_longer_exists", 0, 0, NULL},
    {"integration made anew", GOOGLE, RECREATED, TOKEN_OK,
     AT_PAGE, "integration_no_longer_exists", 0, 0, NULL},
    {"redirect URI removed", GOOGLE, URI_REMOVED, TOKEN_OK,
     AT_PAGE, "redirect_uri_not_allowed", 0, 0, "no longer allows"},
    {"provider answered access_denied", GOOGLE, PROVIDER_ERROR, TOKEN_OK,
     AT_APP, "oauth_failed", 0, 0, "access_denied"},
    {"microsoft answered access_denied", MICROSOFT, PROVIDER_ERROR, TOKEN_OK,
     AT_APP, "oauth_failed", 0, 0, "access_denied"},
    {"no code", GOOGLE, NO_CODE, TOKEN_OK,
     AT_APP, "invalid_request", 0, 0, "no code"},
    {"token endpoint: invalid_grant", GOOGLE, NONE, TOKEN_INVALID_GRANT,
     AT_APP, "provider_code_request_failed", 1, 0, "invalid_grant"},
    {"token endpoint: invalid_client", GOOGLE, NONE, TOKEN_INVALID_CLIENT,
     AT_APP, "invalid_client", 1, 0, "invalid_client"},
    {"client credentials changed midway", GOOGLE, CLIENT_ID_CHANGED, TOKEN_OK,
     AT_APP, "invalid_client", 1, 0, "wrong client credentials"},
    {"token endpoint: 500", GOOGLE, NONE, TOKEN_500,
     AT_APP, "oauth_provider_error", 1, 0, "HTTP 500"},
    {"token endpoint: not JSON", GOOGLE, NONE, TOKEN_NOT_JSON,
     AT_APP, "oauth_provider_error", 1, 0, "not JSON"},
    {"token endpoint: too large", GOOGLE, NONE, TOKEN_TOO_LARGE,
     AT_APP, "oauth_provider_error", 1, 0, "larger than allowed"},
    {"token endpoint: timeout", GOOGLE, NONE, TOKEN_TIMEOUT,
     AT_APP, "provider_not_responding", 1, 0, "timed out"},
    {"microsoft: timeout", MICROSOFT, NONE, TOKEN_TIMEOUT,
     AT_APP, "provider_not_responding", 1, 0, "timed out"},
    {"no refresh token", GOOGLE, NONE, TOKEN_NO_REFRESH,
     AT_APP, "provider_code_request_failed", 1, 0, "no refresh token"},
    {"microsoft: no refresh token", MICROSOFT, NONE, TOKEN_NO_REFRESH,
     AT_APP, "provider_code_request_failed", 1, 0, "no refresh token"},
    {"missing scope", GOOGLE, NONE, TOKEN_NARROW_SCOPE,
     AT_APP, "scopes_conflict", 1, 0, "https://mail.google.com/"},
    {"microsoft: missing scope", MICROSOFT, NONE, TOKEN_NARROW_SCOPE,
     AT_APP, "scopes_conflict", 1, 0, "Mail.Read"},
    {"unverified email", GOOGLE, UNVERIFIED, TOKEN_OK,
     AT_APP, "oauth_provider_error", 1, 0, "not verified"},
    {"microsoft: email not vouched for", MICROSOFT, UNVERIFIED, TOKEN_OK,
     AT_APP, "oauth_provider_error", 1, 0, "vouch"},
};

START_TEST(test_hosted_failure)
{
    const struct fail_case *c = &fail_cases[_i];
    const provider_t *p = c->p;
    browser_t b, other;
    apr_table_t *query, *back;
    const char *id, *location = NULL, *first = NULL;
    stage_t at;
    int r;

    memset(&b, 0, sizeof(b));
    w.fake.p = p;
    w.fake.mode = c->token;
    make_integration(p);
    id = make_login(p, c->twist == EXPIRED ? 60 : 0);

    /* GET /login */
    if (c->twist == UNKNOWN_ID) {
        ck_assert_int_eq(cn_random_token(pool, 32, &id), APR_SUCCESS);
    }
    else if (c->twist == SHORT_ID) {
        id = "' OR 1=1 --";
    }
    else if (c->twist == EXPIRED) {
        w.ctx.now += 60;
    }
    else if (c->twist == REUSED) {
        ck_assert_int_eq(visit_login(id, &other), APR_SUCCESS);
    }
    if (c->twist == RACED) {
        /* both tabs begin (nothing is spent yet); the other one launches first */
        ck_assert_int_eq(cn_flow_hosted_begin(&w.ctx, id, NULL, &b.flow), APR_SUCCESS);
        CHECK_SEAMS();
        ck_assert_int_eq(visit_login(id, &other), APR_SUCCESS);
        ck_assert_int_eq(cn_flow_seal(&w.ctx, b.flow, &b.key, &b.sealed), APR_SUCCESS);
        at = cn_flow_launch(&w.ctx, b.flow, &b.location) == APR_SUCCESS ? AT_APP : AT_LAUNCH;
        CHECK_SEAMS();
        if (at == AT_APP) {
            b.authorize = query_of(b.location); /* (a failure: it goes on, to be told) */
        }
    }
    else {
        at = visit_login(id, &b) == APR_SUCCESS ? AT_APP
             : b.flow                           ? AT_LAUNCH
                                                : AT_BEGIN;
    }
    if (at != AT_APP) {
        goto failed;
    }

    /* between the launch and the callback */
    switch (c->twist) {
    case PAST_DEADLINE:
        w.ctx.now = b.flow->deadline;
        break;
    case CALLBACK_TWICE:
        ck_assert_int_eq(visit_callback(&b, callback_query(&b), &first), 0);
        ck_assert_str_eq(apr_table_get(query_of(first), "success"), "true");
        break;
    case DELETED:
        delete_integration(p);
        break;
    case RECREATED:
        delete_integration(p);
        make_integration(p);
        break;
    case URI_REMOVED:
        update_integration(p, "{\"redirect_uris\":[\"https://app.example/other\"]}");
        break;
    case CLIENT_ID_CHANGED:
        update_integration(p, "{\"settings\":{\"client_id\":\"cid-new\","
                              "\"client_secret\":\"secret-new\"}}");
        break;
    case UNVERIFIED:
        w.fake.claims = p->unverified_claims;
        w.fake.user_doc = p->unverified_doc;
        break;
    default:
        break;
    }

    /* GET /callback */
    query = callback_query(&b);
    if (c->twist == OTHER_STATE) {
        const char *s;
        ck_assert_int_eq(cn_random_token(pool, 32, &s), APR_SUCCESS);
        apr_table_set(query, "state", s);
    }
    else if (c->twist == PROVIDER_ERROR) {
        apr_table_unset(query, "code");
        apr_table_set(query, "error", "access_denied");
        apr_table_set(query, "error_description", "The user denied access");
    }
    else if (c->twist == NO_CODE) {
        apr_table_unset(query, "code");
    }
    r = visit_callback(&b, query, &location);
    at = r == 1 ? AT_OPEN : r == 2 ? AT_PAGE : AT_APP;

failed:
    ck_assert_msg(at == c->at, "%s: failed at stage %d, expected %d (%s)", c->name, at, c->at,
                  w.ctx.res.event ? w.ctx.res.event->type : "no failure");
    ck_assert_msg(w.ctx.res.event != NULL, "%s: nothing failed", c->name);
    ck_assert_msg(!strcmp(w.ctx.res.event->type, c->error), "%s: %s (%s), expected %s", c->name,
                  w.ctx.res.event->type, w.ctx.res.description ? w.ctx.res.description : "",
                  c->error);
    ck_assert_msg(!c->why || (w.ctx.res.description && strstr(w.ctx.res.description, c->why)),
                  "%s: \"%s\" does not say %s", c->name,
                  w.ctx.res.description ? w.ctx.res.description : "", c->why);
    if (at == AT_APP) {
        /* the application hears of it, with its own state, and no grant */
        ck_assert_str_eq(url_base(location), APP_URI);
        back = query_of(location);
        ck_assert_str_eq(apr_table_get(back, "success"), "false");
        ck_assert_str_eq(apr_table_get(back, "error"), c->error);
        ck_assert_str_eq(apr_table_get(back, "state"), APP_STATE);
        ck_assert_str_eq(apr_table_get(back, "provider"), p->name);
        ck_assert_ptr_null(apr_table_get(back, "grant_id"));
        ck_assert_ptr_null(apr_table_get(back, "email"));
        ck_assert_int_eq(logged("CN00202"), 1);
    }
    else {
        ck_assert_ptr_null(location);
        ck_assert_int_eq(logged("CN00202"), 0);
    }
    ck_assert_msg(calls_to(p->token_url) == c->exchanges, "%s: %d code exchanges, expected %d",
                  c->name, calls_to(p->token_url), c->exchanges);
    if (!c->exchanges) {
        ck_assert_int_eq(w.fake.calls->nelts, 0); /* the code never left */
    }
    ck_assert_int_eq(grants_stored(), c->grants);
    ck_assert_int_eq(events_of("grant_created"), c->grants);
    ck_assert_int_eq(logged("CN00203"), c->grants);
    if (first) {
        ck_assert_str_eq(url_base(first), APP_URI);
    }
    CHECK_SEAMS();
}
END_TEST

/* ---- no database handle during a provider call --------------------------- */

static cn_integration_t *google_integration(void)
{
    cn_integration_t *it = apr_pcalloc(pool, sizeof(*it));
    it->id = "int-1";
    it->app_id = APP_ID;
    it->provider = "google";
    it->settings = cn_json_own(pool, json_pack("{s:s}", "client_id", GOOGLE->client_id));
    it->scope = cn_json_own(pool, json_pack("[s]", GOOGLE->mailbox_scope));
    it->redirect_uris = cn_json_own(pool, json_pack("[s]", APP_URI));
    return it;
}

/* The core's own assertion: a provider call with a handle held is refused
 * before anything goes out, and says so in the log. */
START_TEST(test_token_refuses_held_handle)
{
    cn_tokens_t *tokens = NULL;
    cn_identity_t *id = NULL;
    cn_tokens_t given = {0};
    cn_integration_t *it = google_integration();
    w.fake.refresh = "rt-1";
    w.ctx.db = &w.db; /* as a route that holds its handle would */
    ck_assert_int_ne(cn_oauth_token(&w.ctx, it, GOOGLE->client_secret, NULL, NULL, "rt-1",
                                    &tokens),
                     APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "internal_error");
    ck_assert_int_eq(w.ctx.res.status, APR_EBUSY);
    ck_assert_int_eq(w.fake.calls->nelts, 0);
    ck_assert_int_eq(logged("CN01101"), 1);
    ck_assert_int_eq(logged(apr_psprintf(pool, "%d CN01101", CN_LOG_CRIT)), 1);
    ck_assert_int_eq(logged("rt-1"), 0); /* never a secret in a log line */

    given.access_token = "at";
    ck_assert_int_ne(cn_oauth_identity(&w.ctx, it, &given, &id), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "internal_error");
    cn_oauth_revoke(&w.ctx, it, "rt-1");
    ck_assert_int_eq(w.fake.calls->nelts, 0);
    ck_assert_int_eq(logged("CN01101"), 3);

    /* the same calls without the handle go out */
    w.ctx.db = NULL;
    ck_assert_int_eq(cn_oauth_token(&w.ctx, it, GOOGLE->client_secret, NULL, NULL, "rt-1",
                                    &tokens),
                     APR_SUCCESS);
    ck_assert_int_eq(w.fake.calls->nelts, 1);
    ck_assert_int_eq(logged("CN01101"), 3);
    CHECK_SEAMS();
}
END_TEST

/* The fake's own check can fail: a call made with a handle held is counted. */
START_TEST(test_fake_sees_held_handle)
{
    cn_http_request_t req = {0};
    req.method = "GET";
    req.url = GOOGLE->user_url;
    req.bearer = "at";
    cn_http_response_t resp;
    w.ctx.db = &w.db;
    ck_assert_int_eq(w.http.perform(&w.http, pool, &req, &resp), APR_SUCCESS);
    ck_assert_int_eq(w.fake.violations, 1);
    ck_assert_int_eq(last_call()->db_held, 1);
    w.ctx.db = NULL;
    w.fake.violations = 0;
    CHECK_SEAMS();
}
END_TEST

/* A callback run while the caller holds a handle (a route marked as
 * needing the database) cannot reach the provider: the application hears
 * internal_error, the code is never sent. */
START_TEST(test_callback_with_held_handle)
{
    browser_t b;
    cn_flow_t *flow = NULL;
    const char *location = NULL;
    apr_table_t *back;
    make_integration(GOOGLE);
    ck_assert_int_eq(visit_login(make_login(GOOGLE, 0), &b), APR_SUCCESS);
    ck_assert_int_eq(cn_flow_open(&w.ctx, b.key, b.sealed, b.flow->state, &flow), APR_SUCCESS);
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_int_eq(cn_flow_complete(&w.ctx, flow, callback_query(&b), &location, NULL), APR_SUCCESS);
    ck_assert_ptr_nonnull(w.ctx.db); /* the caller's handle is still the caller's */
    cn_ctx_db_close(&w.ctx);
    back = query_of(location);
    ck_assert_str_eq(apr_table_get(back, "success"), "false");
    ck_assert_str_eq(apr_table_get(back, "error"), "internal_error");
    ck_assert_int_eq(w.fake.calls->nelts, 0);
    ck_assert_int_eq(logged("CN01101"), 1);
    ck_assert_int_eq(grants_stored(), 0);
    CHECK_SEAMS();
}
END_TEST

/* DELETE /grants/{id}: the local delete first, then the revocation, with
 * the handle given back in between. */
START_TEST(test_revoke_after_delete)
{
    browser_t b;
    const char *location, *grant_id;
    const call_t *rev;
    make_integration(GOOGLE);
    ck_assert_int_eq(visit_login(make_login(GOOGLE, 0), &b), APR_SUCCESS);
    ck_assert_int_eq(visit_callback(&b, callback_query(&b), &location), 0);
    grant_id = apr_table_get(query_of(location), "grant_id");
    ck_assert_ptr_nonnull(grant_id);
    ck_assert_int_eq(cn_grant_revoke(&w.ctx, grant_id), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(grants_stored(), 0);
    ck_assert_int_eq(events_of("grant_deleted"), 1);
    rev = last_call();
    ck_assert_str_eq(rev->url, "https://oauth2.googleapis.com/revoke");
    ck_assert_str_eq(apr_table_get(rev->form, "token"), w.fake.refresh);
    ck_assert_int_eq(rev->db_held, 0);
    /* a second delete finds nothing and asks no provider */
    ck_assert_int_ne(cn_grant_revoke(&w.ctx, grant_id), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "grant_not_found");
    ck_assert_int_eq(calls_to("https://oauth2.googleapis.com/revoke"), 1);
    CHECK_SEAMS();
}
END_TEST

/* ---- native authentication (POST /grants) -------------------------------- */

static json_t *native_body(const provider_t *p, const char *refresh)
{
    return cn_json_own(pool, json_pack("{s:s,s:{s:s},s:s}", "provider", p->name, "settings",
                                       "refresh_token", refresh, "state", "native-state"));
}

START_TEST(test_native_then_reauth)
{
    const provider_t *p = &providers[_i];
    cn_grant_t *g = NULL, *again = NULL, *stored;
    const call_t *tok;
    int reauth = -1;
    w.fake.p = p;
    w.fake.refresh = "1//0g-native-refresh";
    make_integration(p);

    ck_assert_msg(cn_flow_native(&w.ctx, native_body(p, w.fake.refresh), &g, &reauth)
                      == APR_SUCCESS,
                  "%s", w.ctx.res.description);
    CHECK_SEAMS();
    ck_assert_int_eq(reauth, 0); /* 201 */
    ck_assert_str_eq(g->email, p->email);
    ck_assert_str_eq(g->subject, p->subject);
    tok = last_call();
    ck_assert_str_eq(tok->url, p->token_url);
    ck_assert_str_eq(apr_table_get(tok->form, "grant_type"), "refresh_token");
    ck_assert_str_eq(apr_table_get(tok->form, "refresh_token"), w.fake.refresh);
    ck_assert_ptr_null(apr_table_get(tok->form, "code"));
    stored = load_grant(g->id);
    ck_assert_str_eq(stored->state, "native-state");
    /* the provider did not rotate it: the token given is the one kept */
    ck_assert_str_eq(open_secret(stored, "refresh_token", stored->refresh_token),
                     "1//0g-native-refresh");
    ck_assert_int_eq(events_of("grant_created"), 1);

    /* the same token again: the same grant, re-authenticated (200) */
    ck_assert_int_eq(cn_flow_native(&w.ctx, native_body(p, w.fake.refresh), &again, &reauth),
                     APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(reauth, 1);
    ck_assert_str_eq(again->id, g->id);
    ck_assert_int_eq(grants_stored(), 1);
    ck_assert_int_eq(events_of("grant_created"), 1);
    ck_assert_int_eq(events_of("grant_reauthenticated"), 1);
    ck_assert_int_eq(calls_to(p->token_url), 2);
    CHECK_SEAMS();
}
END_TEST

START_TEST(test_native_unknown_token)
{
    cn_grant_t *g = NULL;
    int reauth = -1;
    w.fake.refresh = "1//0g-the-known-one";
    make_integration(GOOGLE);
    ck_assert_int_ne(cn_flow_native(&w.ctx, native_body(GOOGLE, "1//0g-unknown"), &g, &reauth),
                     APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_str_eq(w.ctx.res.event->type, "refresh_token_invalid");
    ck_assert_int_eq(calls_to(GOOGLE->token_url), 1);
    ck_assert_int_eq(grants_stored(), 0);
    ck_assert_int_eq(events_of("grant_created"), 0);
}
END_TEST

static const struct native_bad_case {
    const char *name, *body, *error;
    int integration;
} native_bad_cases[] = {
    {"no refresh token", "{\"provider\":\"google\",\"settings\":{}}", "refresh_token_required", 1},
    {"empty refresh token", "{\"provider\":\"google\",\"settings\":{\"refresh_token\":\"\"}}",
     "refresh_token_required", 1},
    {"no provider", "{\"settings\":{\"refresh_token\":\"rt\"}}", "provider_required", 1},
    {"an unknown provider", "{\"provider\":\"yahoo\",\"settings\":{\"refresh_token\":\"rt\"}}",
     "provider_not_supported", 1},
    /* imap takes IMAP settings (test_imap.c), never a refresh token */
    {"imap with a refresh token", "{\"provider\":\"imap\",\"settings\":{\"refresh_token\":\"rt\"}}",
     "invalid_request_payload", 1},
    {"no integration", "{\"provider\":\"google\",\"settings\":{\"refresh_token\":\"rt\"}}",
     "integration_not_found", 0},
    {"unknown field", "{\"provider\":\"google\",\"settings\":{\"refresh_token\":\"rt\"},\"x\":1}",
     "invalid_request_payload", 1},
};

/* Refused before the provider is asked. */
START_TEST(test_native_refused)
{
    const struct native_bad_case *c = &native_bad_cases[_i];
    cn_grant_t *g = NULL;
    int reauth = -1;
    if (c->integration) {
        make_integration(GOOGLE);
    }
    ck_assert_int_ne(cn_flow_native(&w.ctx, body_of(c->body), &g, &reauth), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_msg(!strcmp(w.ctx.res.event->type, c->error), "%s: %s, expected %s", c->name,
                  w.ctx.res.event->type, c->error);
    ck_assert_int_eq(w.fake.calls->nelts, 0);
    ck_assert_int_eq(grants_stored(), 0);
}
END_TEST

/* ---- the OAuth 2.0 authorization request (GET /auth) and POST /token ----- */

#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

/* The query of GET /auth: name/value pairs, NULL-terminated. */
static apr_table_t *auth_query(const char *const *pairs)
{
    apr_table_t *q = apr_table_make(pool, 16);
    for (; pairs[0]; pairs += 2) {
        if (pairs[1]) {
            apr_table_add(q, pairs[0], pairs[1]);
        }
    }
    return q;
}

/* A POST /token of the application, authenticated (SECRET) or not. */
static apr_status_t exchange(int secret, const char *const *pairs, json_t **answer)
{
    cn_oauth_client_t client = {APP_ID, secret};
    apr_status_t rv;
    int calls = w.fake.calls->nelts;
    *answer = NULL;
    rv = cn_token_exchange(&w.ctx, &client, auth_query(pairs), answer);
    CHECK_SEAMS();
    ck_assert_int_eq(w.fake.calls->nelts, calls); /* the token endpoint asks no provider */
    return rv;
}

static const char *answer_str(json_t *a, const char *key)
{
    json_t *v = json_object_get(a, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The browser: GET /auth with QUERY, its session, the provider, the callback;
 * where it ends up. */
static const char *authorize_flow(apr_table_t *query)
{
    browser_t b;
    const char *location = NULL;
    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(cn_flow_authorize_begin(&w.ctx, query, &b.flow, &location), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_ptr_null(location);
    ck_assert_ptr_nonnull(b.flow);
    ck_assert_int_eq(cn_flow_seal(&w.ctx, b.flow, &b.key, &b.sealed), APR_SUCCESS);
    ck_assert_int_eq(cn_flow_launch(&w.ctx, b.flow, &b.location), APR_SUCCESS);
    CHECK_SEAMS();
    b.authorize = query_of(b.location);
    w.fake.challenge = apr_table_get(b.authorize, "code_challenge");
    w.fake.code = apr_psprintf(pool, "4/authorize-%d", w.fake.calls->nelts);
    w.fake.code_spent = 0;
    ck_assert_int_eq(visit_callback(&b, callback_query(&b), &location), 0);
    return location;
}

START_TEST(test_authorize_whole_flow)
{
    const provider_t *p = &providers[_i];
    const char *const q[] = {"client_id", APP_ID, "provider", p->name, "redirect_uri", APP_URI,
                             "response_type", "code", "state", APP_STATE, "scope", p->mailbox_scope,
                             "code_challenge", s256(VERIFIER), "code_challenge_method", "s256",
                             "nonce", "n-1", "access_type", "offline", "expires_in", "600",
                             "login_hint", "someone@example.com", NULL, NULL};
    cn_flow_t *flow = NULL;
    const char *location = NULL, *code, *access, *refresh, *refresh2, *access2;
    apr_table_t *back;
    json_t *a = NULL;
    cn_grant_t *g = NULL;

    w.fake.p = p;
    make_integration(p);

    /* begun: nothing stored until the session holds it */
    ck_assert_int_eq(cn_flow_authorize_begin(&w.ctx, auth_query(q), &flow, &location),
                     APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_ptr_null(location);
    ck_assert_str_eq(flow->kind, "authorize");
    ck_assert_int_eq(flow->deadline, START_TIME + 1800);
    ck_assert_int_eq(count_of("SELECT count(*) FROM login_requests"), 0);

    location = authorize_flow(auth_query(q));
    ck_assert_int_eq(count_of("SELECT count(*) FROM login_requests WHERE kind = 'authorize'"
                              " AND used_at IS NOT NULL AND callback_at IS NOT NULL"), 1);
    ck_assert_int_eq(calls_to(p->token_url), 1);

    /* back to the application with a code and its state, nothing else */
    ck_assert_str_eq(url_base(location), APP_URI);
    back = query_of(location);
    ck_assert_int_eq(apr_table_elts(back)->nelts, 2);
    ck_assert_str_eq(apr_table_get(back, "state"), APP_STATE);
    code = apr_table_get(back, "code");
    ck_assert_msg(code && !strncmp(code, "cnac_", 5) && strlen(code) == 48, "code %s", code);
    ck_assert_int_eq(count_of(apr_psprintf(pool, "SELECT count(*) FROM oauth_codes WHERE digest = '%s'"
                                                 " AND challenge_method = 'S256' AND offline = 1"
                                                 " AND token_lifetime = 600 AND nonce = 'n-1'",
                                           cn_sha256_hex(pool, code, strlen(code)))), 1);
    ck_assert_int_eq(grants_stored(), 1);
    ck_assert_int_eq(logged("CN01312"), 1);
    ck_assert_int_eq(logged(code), 0);

    /* POST /token: the code, the verifier, the client's secret */
    {
        const char *const t[] = {"grant_type", "authorization_code", "code", code,
                                 "redirect_uri", APP_URI, "code_verifier", VERIFIER, NULL, NULL};
        ck_assert_msg(exchange(1, t, &a) == APR_SUCCESS, "%s", w.ctx.res.description);
    }
    access = answer_str(a, "access_token");
    refresh = answer_str(a, "refresh_token");
    ck_assert_msg(access && !strncmp(access, "cnat_", 5) && strlen(access) == 48, "%s", access);
    ck_assert_msg(refresh && !strncmp(refresh, "cnrt_", 5) && strlen(refresh) == 48, "%s", refresh);
    ck_assert_str_eq(answer_str(a, "token_type"), "Bearer");
    ck_assert_ptr_null(answer_str(a, "id_token")); /* no signing key: no id_token */
    ck_assert_str_eq(answer_str(a, "scope"), p->mailbox_scope);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "expires_in")), 600);
    ck_assert_int_eq(count_of(apr_psprintf(pool, "SELECT count(*) FROM oauth_tokens WHERE"
                                                 " kind = 'access' AND digest = '%s' AND expires_at = %d",
                                           cn_sha256_hex(pool, access, strlen(access)),
                                           START_TIME + 600)), 1);
    ck_assert_int_eq(cn_token_grant(&w.ctx, access, &g), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_str_eq(g->id, answer_str(a, "grant_id"));
    ck_assert_str_eq(g->email, p->email);

    /* refresh: a new pair, the same lifetime */
    w.ctx.now += 100;
    {
        const char *const t[] = {"grant_type", "refresh_token", "refresh_token", refresh, NULL, NULL};
        ck_assert_int_eq(exchange(1, t, &a), APR_SUCCESS);
    }
    access2 = answer_str(a, "access_token");
    refresh2 = answer_str(a, "refresh_token");
    ck_assert_str_ne(access2, access);
    ck_assert_str_ne(refresh2, refresh);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "expires_in")), 600);
    ck_assert_int_eq(cn_token_grant(&w.ctx, access, &g), APR_SUCCESS); /* the old one lives on */

    /* the spent refresh token again: the whole family goes */
    {
        const char *const t[] = {"grant_type", "refresh_token", "refresh_token", refresh, NULL, NULL};
        ck_assert_int_eq(exchange(1, t, &a), APR_EGENERAL);
        ck_assert_str_eq(w.ctx.res.event->type, "invalid_grant");
    }
    ck_assert_int_eq(logged("CN01301"), 1);
    ck_assert_int_eq(cn_token_grant(&w.ctx, access2, &g), APR_EGENERAL);
    ck_assert_str_eq(w.ctx.res.event->type, "invalid_token");
    ck_assert_int_eq(cn_token_grant(&w.ctx, access, &g), APR_EGENERAL);
    {
        const char *const t[] = {"grant_type", "refresh_token", "refresh_token", refresh2, NULL, NULL};
        ck_assert_int_eq(exchange(1, t, &a), APR_EGENERAL);
        ck_assert_str_eq(w.ctx.res.event->type, "invalid_grant");
    }
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 0);

    /* the code again: invalid_grant */
    {
        const char *const t[] = {"grant_type", "authorization_code", "code", code,
                                 "redirect_uri", APP_URI, "code_verifier", VERIFIER, NULL, NULL};
        ck_assert_int_eq(exchange(1, t, &a), APR_EGENERAL);
        ck_assert_str_eq(w.ctx.res.event->type, "invalid_grant");
    }
    ck_assert_int_eq(logged(access) + logged(refresh) + logged(access2) + logged(refresh2), 0);
    CHECK_SEAMS();
}
END_TEST

/* A code lives ten minutes; the start-up sweep removes what has expired. */
START_TEST(test_code_expiry_and_purge)
{
    const char *const q[] = {"client_id", APP_ID, "provider", "google", "redirect_uri", APP_URI,
                             "response_type", "code", NULL, NULL};
    const char *code, *location;
    json_t *a = NULL;
    int purged = -1;
    make_integration(GOOGLE);
    location = authorize_flow(auth_query(q));
    code = apr_table_get(query_of(location), "code");
    ck_assert_ptr_nonnull(code);
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_codes"), 1);
    w.ctx.now = START_TIME + 600;
    {
        const char *const t[] = {"grant_type", "authorization_code", "code", code,
                                 "redirect_uri", APP_URI, NULL, NULL};
        ck_assert_int_eq(exchange(1, t, &a), APR_EGENERAL);
        ck_assert_str_eq(w.ctx.res.event->type, "invalid_grant");
        ck_assert_str_eq(w.ctx.res.description, "the code has expired");
        w.ctx.now = START_TIME + 599;
        ck_assert_int_eq(exchange(1, t, &a), APR_SUCCESS); /* one second earlier it was good */
    }
    /* the access token (one hour) outlives the code (ten minutes) */
    w.ctx.now = START_TIME + 601;
    ck_assert_int_eq(cn_oauth_purge(&w.ctx, &purged), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(purged, 1);
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_codes"), 0);
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 1);
    w.ctx.now = START_TIME + 599 + 3600 + 1;
    ck_assert_int_eq(cn_oauth_purge(&w.ctx, &purged), APR_SUCCESS);
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 0);
    ck_assert_int_eq(count_of("SELECT count(*) FROM login_requests"), 0);
}
END_TEST

/* The keys of ConnectSigningKey, FIRST then SECOND (may be NULL). */
static cn_signing_keys_t *signing_keys(const char *first, const char *second)
{
    apr_array_header_t *paths = apr_array_make(pool, 2, sizeof(const char *));
    cn_signing_keys_t *keys = NULL;
    const char *err = NULL;
    APR_ARRAY_PUSH(paths, const char *) = first;
    if (second) {
        APR_ARRAY_PUSH(paths, const char *) = second;
    }
    ck_assert_msg(cn_jose_keys_load(pool, paths, &keys, &err) == APR_SUCCESS, "%s", err);
    return keys;
}

/* A P-256 key of nobody's configuration, made now. */
static cn_signing_keys_t *stranger_keys(void)
{
    const char *path = apr_psprintf(pool, "%s/stranger-%ld.pem", cn_test_tmpdir(), (long)getpid());
    EVP_PKEY *pk = EVP_EC_gen("prime256v1");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(pk);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL), 1);
    ck_assert_int_eq(fclose(f), 0);
    EVP_PKEY_free(pk);
    return signing_keys(path, NULL);
}

/* The answer of a code of an authorization request for QUERY exchanged with
 * the secret at START_TIME + 30, the module signing with the RSA fixture. */
static json_t *id_token_exchange(const char *const *query)
{
    const char *code;
    json_t *a = NULL;
    if (!w.ctx.signing) {
        w.ctx.signing = signing_keys("../conf/keys/signing-rsa.pem", NULL);
        make_integration(GOOGLE);
    }
    w.ctx.now = START_TIME;
    code = apr_table_get(query_of(authorize_flow(auth_query(query))), "code");
    ck_assert_ptr_nonnull(code);
    w.ctx.now = START_TIME + 30;
    {
        const char *const t[] = {"grant_type", "authorization_code", "code", code,
                                 "redirect_uri", APP_URI, NULL, NULL};
        ck_assert_msg(exchange(1, t, &a) == APR_SUCCESS, "%s", w.ctx.res.description);
    }
    ck_assert_ptr_nonnull(answer_str(a, "id_token"));
    return a;
}

/* The lowercase hex SHA-256 of TOKEN, computed here. */
static const char *hex_digest(const char *token)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    char *hex = apr_palloc(pool, 2 * sizeof(d) + 1);
    int i;
    SHA256((const unsigned char *)token, strlen(token), d);
    for (i = 0; i < (int)sizeof(d); ++i) {
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    }
    return hex;
}

/* What /tokeninfo says of ID_TOKEN: APR_SUCCESS or invalid_token. */
static apr_status_t id_info(const char *id_token, json_t **info)
{
    apr_status_t rv;
    *info = NULL;
    rv = cn_token_info(&w.ctx, NULL, id_token, info);
    CHECK_SEAMS();
    if (rv != APR_SUCCESS) {
        ck_assert_str_eq(w.ctx.res.event->type, "invalid_token");
        ck_assert_int_eq(w.ctx.res.event->code, 45008);
    }
    return rv;
}

/* ID_TOKEN's claims with NAME set to VALUE (a JSON text), signed with KEYS. */
static const char *resigned(const cn_signing_keys_t *keys, const char *id_token,
                            const char *name, const char *value)
{
    json_t *c = json_deep_copy(cn_jwt_claims(pool, id_token));
    const char *out = NULL;
    ck_assert_ptr_nonnull(cn_json_own(pool, c));
    if (name) {
        json_object_set_new(c, name, json_loads(value, JSON_DECODE_ANY, NULL));
    }
    ck_assert_int_eq(cn_jose_sign(pool, keys, c, &out), APR_SUCCESS);
    return out;
}

/* ID_TOKEN with the character at OFFSET of its segment PART (1 payload, 2
 * signature) changed for another of the base64url alphabet. */
static const char *id_tampered(const char *id_token, int part, int offset)
{
    char *t = apr_pstrdup(pool, id_token), *c = t;
    for (; part > 0; --part) {
        c = strchr(c, '.') + 1;
    }
    c[offset] = c[offset] == 'A' ? 'B' : 'A';
    return t;
}

/* With a signing key, every token answer has an id_token: the grant as
 * subject, the application as audience, the nonce of the authorization
 * request (not on a refresh), the time of the sign-in, at_hash the left half
 * of the access token's SHA-256. The id_token is not stored: an exchange
 * stores its access token and its refresh token, no more; /tokeninfo and
 * /revoke find the access token by at_hash. */
START_TEST(test_authorize_id_token)
{
    const char *const q[] = {"client_id", APP_ID, "provider", "google", "redirect_uri", APP_URI,
                             "response_type", "code", "nonce", "n-0S6_WzA2Mj",
                             "access_type", "offline", NULL, NULL};
    const char *id_token, *refresh, *access;
    json_t *a, *claims, *info = NULL;
    cn_oauth_client_t client = {APP_ID, 1};

    a = id_token_exchange(q);
    id_token = answer_str(a, "id_token");
    refresh = answer_str(a, "refresh_token");
    access = answer_str(a, "access_token");
    claims = cn_jwt_claims(pool, id_token);
    ck_assert_ptr_nonnull(claims);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "iss")), BASE_URL);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), answer_str(a, "grant_id"));
    ck_assert_str_eq(json_string_value(json_object_get(claims, "aud")), APP_ID);
    ck_assert_int_eq(json_integer_value(json_object_get(claims, "iat")), START_TIME + 30);
    ck_assert_int_eq(json_integer_value(json_object_get(claims, "exp")), START_TIME + 30 + 3600);
    ck_assert_int_eq(json_integer_value(json_object_get(claims, "auth_time")), START_TIME);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "nonce")), "n-0S6_WzA2Mj");
    ck_assert_str_eq(json_string_value(json_object_get(claims, "email")), GOOGLE->email);
    ck_assert(json_is_true(json_object_get(claims, "email_verified")));
    ck_assert_str_eq(json_string_value(json_object_get(claims, "provider")), "google");
    {
        unsigned char d[32];
        SHA256((const unsigned char *)access, strlen(access), d);
        ck_assert_str_eq(json_string_value(json_object_get(claims, "at_hash")), b64url(d, 16));
    }
    /* two rows: the access token and the refresh token; no id_token */
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 2);
    ck_assert_int_eq(count_of(apr_psprintf(pool, "SELECT count(*) FROM oauth_tokens WHERE"
                                                 " kind = 'access' AND digest = '%s'",
                                           hex_digest(access))), 1);
    ck_assert_int_eq(count_of(apr_psprintf(pool, "SELECT count(*) FROM oauth_tokens WHERE"
                                                 " kind = 'refresh' AND digest = '%s'",
                                           hex_digest(refresh))), 1);
    ck_assert_int_eq(count_of(apr_psprintf(pool, "SELECT count(*) FROM oauth_tokens WHERE"
                                                 " digest = '%s'", hex_digest(id_token))), 0);
    /* GET /tokeninfo knows it: what it answers for the access token */
    ck_assert_int_eq(id_info(id_token, &info), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(info, "token_type")), "id_token");
    ck_assert_str_eq(json_string_value(json_object_get(info, "grant_id")),
                     answer_str(a, "grant_id"));
    ck_assert_str_eq(json_string_value(json_object_get(info, "sub")), answer_str(a, "grant_id"));
    ck_assert_str_eq(json_string_value(json_object_get(info, "client_id")), APP_ID);
    ck_assert_str_eq(json_string_value(json_object_get(info, "aud")), APP_ID);
    ck_assert_str_eq(json_string_value(json_object_get(info, "iss")), BASE_URL);
    ck_assert_str_eq(json_string_value(json_object_get(info, "scope")), answer_str(a, "scope"));
    ck_assert_str_eq(json_string_value(json_object_get(info, "email")), GOOGLE->email);
    ck_assert_str_eq(json_string_value(json_object_get(info, "provider")), "google");
    ck_assert_int_eq(json_integer_value(json_object_get(info, "iat")), START_TIME + 30);
    ck_assert_int_eq(json_integer_value(json_object_get(info, "exp")), START_TIME + 30 + 3600);
    ck_assert_uint_eq(json_object_size(info), 11);

    /* a refresh: a new id_token, of the same sign-in, without the nonce; two
     * rows more (the new access and refresh tokens) */
    w.ctx.now = START_TIME + 100;
    {
        const char *const t[] = {"grant_type", "refresh_token", "refresh_token", refresh, NULL, NULL};
        ck_assert_int_eq(exchange(1, t, &a), APR_SUCCESS);
    }
    claims = cn_jwt_claims(pool, answer_str(a, "id_token"));
    ck_assert_ptr_nonnull(claims);
    ck_assert_int_eq(json_integer_value(json_object_get(claims, "iat")), START_TIME + 100);
    ck_assert_int_eq(json_integer_value(json_object_get(claims, "auth_time")), START_TIME);
    ck_assert_ptr_null(json_object_get(claims, "nonce"));
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 4);
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"
                              " WHERE kind NOT IN ('access', 'refresh')"), 0);
    ck_assert_int_eq(id_info(answer_str(a, "id_token"), &info), APR_SUCCESS);
    ck_assert_int_eq(json_integer_value(json_object_get(info, "iat")), START_TIME + 100);
    ck_assert_int_eq(id_info(id_token, &info), APR_SUCCESS); /* the first lives on */

    /* revoking by the (first) id_token takes the family */
    ck_assert_int_eq(cn_token_revoke(&w.ctx, &client, id_token), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 0);
    ck_assert_int_eq(events_of("session_revoke_success"), 1);
    ck_assert_int_eq(id_info(id_token, &info), APR_EGENERAL);
    ck_assert_int_eq(id_info(answer_str(a, "id_token"), &info), APR_EGENERAL);
    ck_assert_int_eq(logged(id_token), 0);
}
END_TEST

/* Every id_token /tokeninfo must not know, and what /revoke does with them:
 * nothing (RFC 7009 §2.2), unless it is ours. An exchange without a refresh
 * token stores one row. */
START_TEST(test_id_token_refused)
{
    const char *const q[] = {"client_id", APP_ID, "provider", "google", "redirect_uri", APP_URI,
                             "response_type", "code", NULL, NULL};
    cn_oauth_client_t client = {APP_ID, 1}, other_client = {"app-2", 1};
    cn_signing_keys_t *ours, *stranger = stranger_keys();
    const char *id_token, *none_header, *payload, *sig;
    json_t *a, *info = NULL;
    apr_int64_t exp;
    int i;

    a = id_token_exchange(q);
    ours = (cn_signing_keys_t *)w.ctx.signing;
    id_token = answer_str(a, "id_token");
    exp = json_integer_value(json_object_get(cn_jwt_claims(pool, id_token), "exp"));
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 1);
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens WHERE kind = 'access'"), 1);
    ck_assert_int_eq(id_info(id_token, &info), APR_SUCCESS);
    /* the same claims signed again by our key: as good */
    ck_assert_int_eq(id_info(resigned(ours, id_token, NULL, NULL), &info), APR_SUCCESS);

    payload = strchr(id_token, '.') + 1;
    sig = strchr(payload, '.') + 1;
    none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; /* {"alg":"none","typ":"JWT"} */
    {
        const struct {
            const char *name, *token, *why;
        } bad[] = {
            {"one byte of the signature", id_tampered(id_token, 2, 20), "does not verify"},
            {"the last of the signature", id_tampered(id_token, 2, (int)strlen(sig) - 2),
             "does not verify"},
            {"one byte of the payload", id_tampered(id_token, 1, 30), "does not verify"},
            {"signed by another key", resigned(stranger, id_token, NULL, NULL),
             "a kid of no ConnectSigningKey"},
            {"alg none, no signature",
             apr_pstrcat(pool, none_header, ".",
                         apr_pstrndup(pool, payload, (apr_size_t)(sig - payload)), NULL),
             "alg none"},
            {"alg none, the signature kept", apr_pstrcat(pool, none_header, ".", payload, NULL),
             "alg none"},
            {"another issuer", resigned(ours, id_token, "iss", "\"https://other.example\""),
             "its iss is not ConnectBaseURL"},
            {"no at_hash", resigned(ours, id_token, "at_hash", "null"), "no at_hash of 16 bytes"},
            {"a short at_hash", resigned(ours, id_token, "at_hash", "\"AAAAAAAAAAAAAAAAAAAA\""),
             "no at_hash of 16 bytes"},
            {"an exp that is no number", resigned(ours, id_token, "exp", "\"soon\""),
             "lacks sub, aud or exp"},
            {"not a JWT", "a.b", "not a JWS"},
        };
        for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); ++i) {
            int before = logged("CN01303");
            ck_assert_msg(id_info(bad[i].token, &info) == APR_EGENERAL, "%s: known", bad[i].name);
            ck_assert_msg(logged("CN01303") == before + 1 && logged(bad[i].why) >= 1,
                          "%s: no CN01303 line saying \"%s\"", bad[i].name, bad[i].why);
            /* /revoke: a no-op, whoever asks */
            ck_assert_int_eq(cn_token_revoke(&w.ctx, &client, bad[i].token), APR_SUCCESS);
            ck_assert_int_eq(cn_token_revoke(&w.ctx, NULL, bad[i].token), APR_SUCCESS);
            CHECK_SEAMS();
            ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 1);
        }
    }
    /* Signed by us, but naming no live access token of its grant. */
    {
        unsigned char d[32];
        const char *stray;
        SHA256((const unsigned char *)"cnat_x", 6, d);
        stray = resigned(ours, id_token, "at_hash", apr_psprintf(pool, "\"%s\"", b64url(d, 16)));
        const char *other_sub = resigned(ours, id_token, "sub", "\"another-grant\"");
        ck_assert_int_eq(id_info(stray, &info), APR_EGENERAL);
        ck_assert_int_eq(id_info(other_sub, &info), APR_EGENERAL);
        ck_assert_int_eq(cn_token_revoke(&w.ctx, &client, stray), APR_SUCCESS);
        ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 1);
    }

    /* Another application asks: it does not know it, and may not revoke it;
     * nor does an application know one of its own audience that names the
     * access token of another (what /revoke goes by is that token's row). */
    w.ctx.app_id = "app-2";
    ck_assert_int_eq(id_info(id_token, &info), APR_EGENERAL);
    ck_assert_int_eq(logged("it was issued to another application"), 1);
    ck_assert_int_eq(id_info(resigned(ours, id_token, "aud", "\"app-2\""), &info), APR_EGENERAL);
    ck_assert_int_eq(logged("it was issued to another application"), 1);
    w.ctx.app_id = APP_ID;
    ck_assert_int_eq(cn_token_revoke(&w.ctx, &other_client, id_token), APR_EGENERAL);
    ck_assert_str_eq(w.ctx.res.event->type, "unauthorized_client");
    CHECK_SEAMS();
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 1);

    /* Time: good until its exp, then not. */
    w.ctx.now = exp - 1;
    ck_assert_int_eq(id_info(id_token, &info), APR_SUCCESS);
    w.ctx.now = exp;
    ck_assert_int_eq(id_info(id_token, &info), APR_EGENERAL);
    ck_assert_int_eq(logged("it has expired"), 1);
    /* Its access token expired (in the store) before it: not known either. */
    w.ctx.now = exp - 100;
    db_do(apr_psprintf(pool, "UPDATE oauth_tokens SET expires_at = %ld", (long)(exp - 100)));
    ck_assert_int_eq(id_info(id_token, &info), APR_EGENERAL);
    w.ctx.now = exp - 101;
    ck_assert_int_eq(id_info(id_token, &info), APR_SUCCESS);

    /* An expired id_token of ours still revokes what lives of its family. */
    w.ctx.now = exp + 10;
    ck_assert_int_eq(cn_token_revoke(&w.ctx, NULL, id_token), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 0);
    ck_assert_int_eq(events_of("session_revoke_success"), 1);
    w.ctx.now = exp - 1;
    ck_assert_int_eq(id_info(id_token, &info), APR_EGENERAL); /* revoked */

    /* Without ConnectSigningKey, no id_token is known. */
    w.ctx.signing = NULL;
    ck_assert_int_eq(id_info(id_token, &info), APR_EGENERAL);
    ck_assert_int_eq(logged(id_token), 0);
}
END_TEST

/* Rows of kind 'id' that earlier versions stored stay until they expire:
 * nothing reads them, a family's revocation takes them too, the sweep
 * purges them; one whose digest begins like the access token's is not
 * taken for it. */
START_TEST(test_id_token_old_rows)
{
    const char *const q[] = {"client_id", APP_ID, "provider", "google", "redirect_uri", APP_URI,
                             "response_type", "code", "access_type", "offline", NULL, NULL};
    const char *id_token, *access, *family, *grant;
    json_t *a, *info = NULL;
    int purged = 0;
    a = id_token_exchange(q);
    id_token = answer_str(a, "id_token");
    access = answer_str(a, "access_token");
    grant = answer_str(a, "grant_id");
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 2);
    /* As earlier versions stored it, and a row of the access token's prefix
     * (in front of it in the index), in the same family. */
    family = apr_psprintf(pool, "(SELECT family FROM oauth_tokens WHERE digest = '%s')",
                          hex_digest(access));
#define OLD_ID_ROW(digest) \
    apr_psprintf(pool, "INSERT INTO oauth_tokens (digest, kind, app_id, grant_id, family, scope," \
                       " lifetime, auth_time, expires_at, created_at) SELECT '%s', 'id', app_id," \
                       " grant_id, family, scope, lifetime, auth_time, expires_at, created_at" \
                       " FROM oauth_tokens WHERE digest = '%s'", (digest), hex_digest(access))
    db_do(OLD_ID_ROW(hex_digest(id_token)));
    db_do(OLD_ID_ROW(apr_psprintf(pool, "%.32s%032d", hex_digest(access), 0)));
    /* and one of another grant, long expired */
    db_do("INSERT INTO oauth_tokens (digest, kind, app_id, grant_id, family, scope, lifetime,"
          " auth_time, expires_at, created_at) VALUES ('0123', 'id', 'app-1', 'g-old', 'f-old', '',"
          " 3600, 1, 2, 1)");
    ck_assert_int_eq(count_of(apr_psprintf(pool, "SELECT count(*) FROM oauth_tokens"
                                                 " WHERE family = %s", family)), 4);
    ck_assert_int_eq(id_info(id_token, &info), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(info, "grant_id")), grant);
    ck_assert_int_eq(cn_oauth_purge(&w.ctx, &purged), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(purged, 1); /* the expired one */
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 4);
    ck_assert_int_eq(cn_token_revoke(&w.ctx, NULL, id_token), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_tokens"), 0);
    ck_assert_int_eq(id_info(id_token, &info), APR_EGENERAL);
}
END_TEST

/* Requests that never reach the provider: a page, or back to the application. */
static const struct authorize_bad_case {
    const char *name;
    const char *pairs[12]; /* over the good request */
    int page;              /* 1: a page (no location) */
    const char *event;     /* in ctx->res */
    const char *error;     /* the redirect's error */
} authorize_bad_cases[] = {
    {"no provider", {"provider", NULL}, 1, "provider_required", NULL},
    {"provider imap, no integration", {"provider", "imap"}, 1, "integration_not_found", NULL},
    {"no integration", {"provider", "microsoft"}, 1, "integration_not_found", NULL},
    {"unregistered redirect_uri", {"redirect_uri", "https://app.example/cb/"}, 1,
     "redirect_uri_not_allowed", NULL},
    {"redirect_uri twice", {"redirect_uri", APP_URI}, 1, "invalid_request", NULL},
    {"response_type token", {"response_type", "token"}, 0, "unsupported_response_type",
     "unsupported_response_type"},
    {"response_type adminconsent", {"response_type", "adminconsent"}, 0,
     "unsupported_response_type", "unsupported_response_type"},
    {"a bad challenge", {"code_challenge", "short"}, 0, "invalid_request", "invalid_request"},
    {"a bad method", {"code_challenge", VERIFIER, "code_challenge_method", "S384"}, 0,
     "invalid_request", "invalid_request"},
    {"expires_in 86401", {"expires_in", "86401"}, 0, "invalid_request", "invalid_request"},
    {"a bad scope", {"scope", "a\\b"}, 0, "invalid_scope", "invalid_scope"},
    {"state twice", {"state", "another"}, 0, "invalid_request", "invalid_request"},
};

START_TEST(test_authorize_refused)
{
    const struct authorize_bad_case *c = &authorize_bad_cases[_i];
    const char *const good[] = {"client_id", APP_ID, "provider", "google", "redirect_uri", APP_URI,
                                "response_type", "code", "state", APP_STATE, NULL, NULL};
    apr_table_t *q = auth_query(good);
    const char *const *pp;
    cn_flow_t *flow = NULL;
    const char *location = NULL;
    apr_status_t rv;
    make_integration(GOOGLE);
    for (pp = c->pairs; pp[0]; pp += 2) {
        int twice = !strcmp(c->name + strlen(c->name) - 5, "twice");
        if (twice) {
            apr_table_add(q, pp[0], pp[1]);
        }
        else if (pp[1]) {
            apr_table_set(q, pp[0], pp[1]);
        }
        else {
            apr_table_unset(q, pp[0]);
        }
    }
    rv = cn_flow_authorize_begin(&w.ctx, q, &flow, &location);
    CHECK_SEAMS();
    ck_assert_ptr_null(flow);
    ck_assert_msg(w.ctx.res.event && !strcmp(w.ctx.res.event->type, c->event), "%s: %s", c->name,
                  w.ctx.res.event ? w.ctx.res.event->type : "nothing failed");
    if (c->page) {
        ck_assert_int_eq(rv, APR_EGENERAL);
        ck_assert_ptr_null(location);
    }
    else {
        apr_table_t *back;
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert_ptr_nonnull(location);
        ck_assert_str_eq(url_base(location), APP_URI);
        back = query_of(location);
        ck_assert_str_eq(apr_table_get(back, "error"), c->error);
        ck_assert_str_eq(apr_table_get(back, "state"), APP_STATE);
        ck_assert_ptr_nonnull(apr_table_get(back, "error_description"));
        ck_assert_ptr_null(apr_table_get(back, "code"));
        ck_assert_int_eq(logged("CN01311"), 1);
    }
    ck_assert_int_eq(count_of("SELECT count(*) FROM login_requests"), 0);
    ck_assert_int_eq(w.fake.calls->nelts, 0);
}
END_TEST

/* The user refuses at the provider: back with access_denied and the state. */
START_TEST(test_authorize_denied)
{
    const char *const q[] = {"client_id", APP_ID, "provider", "google", "redirect_uri", APP_URI,
                             "response_type", "code", "state", APP_STATE, NULL, NULL};
    browser_t b;
    const char *location = NULL;
    apr_table_t *query, *back;
    memset(&b, 0, sizeof(b));
    make_integration(GOOGLE);
    ck_assert_int_eq(cn_flow_authorize_begin(&w.ctx, auth_query(q), &b.flow, &location),
                     APR_SUCCESS);
    ck_assert_int_eq(cn_flow_seal(&w.ctx, b.flow, &b.key, &b.sealed), APR_SUCCESS);
    ck_assert_int_eq(cn_flow_launch(&w.ctx, b.flow, &b.location), APR_SUCCESS);
    b.authorize = query_of(b.location);
    query = apr_table_make(pool, 4);
    apr_table_set(query, "state", apr_table_get(b.authorize, "state"));
    apr_table_set(query, "error", "access_denied");
    ck_assert_int_eq(visit_callback(&b, query, &location), 0);
    back = query_of(location);
    ck_assert_str_eq(url_base(location), APP_URI);
    ck_assert_str_eq(apr_table_get(back, "error"), "access_denied");
    ck_assert_str_eq(apr_table_get(back, "state"), APP_STATE);
    ck_assert_msg(!strncmp(apr_table_get(back, "error_description"), "oauth_failed (45002)", 20),
                  "%s", apr_table_get(back, "error_description"));
    ck_assert_int_eq(grants_stored(), 0);
    ck_assert_int_eq(count_of("SELECT count(*) FROM oauth_codes"), 0);
    CHECK_SEAMS();
}
END_TEST

/* ---- provider access tokens: retries, cool-down, the refresh job --------- */

#define DAY 86400

/* A native Google grant for the claims CLAIMS (NULL: the provider's). */
static cn_grant_t *native_grant(const char *refresh, const char *claims)
{
    cn_grant_t *g = NULL;
    int reauth = -1;
    w.fake.refresh = refresh;
    w.fake.claims = claims;
    ck_assert_msg(cn_flow_native(&w.ctx, native_body(GOOGLE, refresh), &g, &reauth)
                      == APR_SUCCESS, "%s", w.ctx.res.description);
    CHECK_SEAMS();
    w.fake.claims = NULL;
    return g;
}

static long grant_col(const char *id, const char *col)
{
    return count_of(apr_psprintf(pool, "SELECT %s FROM grants WHERE id = '%s'", col, id));
}

/* POST /grants/{id}/access_token at the clock's time. */
static apr_status_t access_now(const char *id, json_t **out)
{
    apr_status_t rv;
    w.ctx.now = apr_time_sec(w.clock_now);
    memset(&w.ctx.res, 0, sizeof(w.ctx.res));
    rv = cn_grant_access_token(&w.ctx, id, body_of("{}"), out);
    CHECK_SEAMS();
    return rv;
}

static apr_interval_time_t slept(int i)
{
    ck_assert_int_gt(w.slept->nelts, i);
    return APR_ARRAY_IDX(w.slept, i, apr_interval_time_t);
}

/* The cool-down doubles per failure in a row, up to its ceiling. */
static const struct {
    int failures;
    apr_int64_t seconds;
} cooldowns[] = {
    {1, CN_REFRESH_COOLDOWN}, {2, 2 * CN_REFRESH_COOLDOWN}, {3, 4 * CN_REFRESH_COOLDOWN},
    {8, 128 * CN_REFRESH_COOLDOWN}, {9, CN_REFRESH_COOLDOWN_MAX}, {40, CN_REFRESH_COOLDOWN_MAX},
    {100000, CN_REFRESH_COOLDOWN_MAX},
};

/* The backoff doubles per attempt, plus a jitter below as much again. */
static const struct {
    int attempt;
    apr_uint32_t rnd;
    apr_int64_t ms;
} backoffs[] = {
    {1, 0, CN_REFRESH_BACKOFF_MS}, {1, CN_REFRESH_BACKOFF_MS - 1, 2 * CN_REFRESH_BACKOFF_MS - 1},
    {1, CN_REFRESH_BACKOFF_MS, CN_REFRESH_BACKOFF_MS}, {2, 0, 2 * CN_REFRESH_BACKOFF_MS},
    {2, 0xffffffffu, 2 * CN_REFRESH_BACKOFF_MS + 0xffffffffu % (2 * CN_REFRESH_BACKOFF_MS)},
    {3, 5, 4 * CN_REFRESH_BACKOFF_MS + 5},
};

START_TEST(test_refresh_waits)
{
    size_t i;
    for (i = 0; i < sizeof(cooldowns) / sizeof(cooldowns[0]); ++i) {
        ck_assert_int_eq(cn_refresh_cooldown(cooldowns[i].failures), cooldowns[i].seconds);
    }
    for (i = 0; i < sizeof(backoffs) / sizeof(backoffs[0]); ++i) {
        ck_assert_int_eq(cn_refresh_backoff(backoffs[i].attempt, backoffs[i].rnd),
                         apr_time_from_msec(backoffs[i].ms));
    }
}
END_TEST

/* A 503 once: asked again after a backoff, within the same call. */
START_TEST(test_refresh_retried)
{
    cn_grant_t *g;
    json_t *out = NULL;
    make_integration(GOOGLE);
    g = native_grant("rt-retry", NULL);
    db_do("UPDATE grants SET access_expires_at = 0");
    w.fake.fail_next = 1;
    ck_assert_msg(access_now(g->id, &out) == APR_SUCCESS, "%s", w.ctx.res.description);
    ck_assert_str_eq(json_string_value(json_object_get(out, "access_token")), w.fake.access);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), 3); /* native, the 503, the refresh */
    ck_assert_int_eq(w.slept->nelts, 1);
    ck_assert_int_ge(slept(0), apr_time_from_msec(CN_REFRESH_BACKOFF_MS));
    ck_assert_int_lt(slept(0), apr_time_from_msec(2 * CN_REFRESH_BACKOFF_MS));
    ck_assert_int_eq(logged("CN02201"), 1);
    ck_assert_int_eq(grant_col(g->id, "refresh_failures"), 0);
    ck_assert_int_eq(grant_col(g->id, "refresh_lease_until"), 0);
}
END_TEST

/* Failing on: a cool-down in the row, growing, with no provider call during
 * it; the token while it is still valid; a refresh that works ends it. */
START_TEST(test_refresh_cooldown)
{
    cn_grant_t *g;
    json_t *out = NULL;
    apr_int64_t failed_at;
    int calls;
    make_integration(GOOGLE);
    g = native_grant("rt-cool", NULL);
    db_do("UPDATE grants SET access_expires_at = 0");
    w.fake.fail_next = 1000;

    ck_assert_int_ne(access_now(g->id, &out), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "service_unavailable");
    ck_assert_int_eq(w.ctx.res.retry_after, CN_REFRESH_COOLDOWN);
    calls = calls_to(GOOGLE->token_url);
    ck_assert_int_eq(calls, 1 + CN_REFRESH_ATTEMPTS);
    ck_assert_int_eq(w.slept->nelts, CN_REFRESH_ATTEMPTS - 1);
    ck_assert_int_ge(slept(1), apr_time_from_msec(2 * CN_REFRESH_BACKOFF_MS));
    failed_at = apr_time_sec(w.clock_now);
    ck_assert_int_eq(grant_col(g->id, "refresh_failures"), 1);
    ck_assert_int_eq(grant_col(g->id, "refresh_retry_at"), failed_at + CN_REFRESH_COOLDOWN);
    ck_assert_int_eq(grant_col(g->id, "refresh_lease_until"), 0);
    ck_assert_int_eq(logged("CN02202"), 1);

    /* during the cool-down: 503 with the time left, the provider left alone */
    w.clock_now += apr_time_from_sec(4);
    ck_assert_int_ne(access_now(g->id, &out), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "service_unavailable");
    ck_assert_int_eq(w.ctx.res.retry_after, CN_REFRESH_COOLDOWN - 4);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), calls);

    /* a token still valid (if due for a refresh) is answered meanwhile */
    db_do(apr_psprintf(pool, "UPDATE grants SET access_expires_at = %" APR_INT64_T_FMT,
                       apr_time_sec(w.clock_now) + 60));
    ck_assert_int_eq(access_now(g->id, &out), APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(out, "access_token")), w.fake.access);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), calls);
    db_do("UPDATE grants SET access_expires_at = 0");

    /* after it: asked again, failing again, a longer cool-down */
    w.clock_now = apr_time_from_sec(failed_at + CN_REFRESH_COOLDOWN);
    ck_assert_int_ne(access_now(g->id, &out), APR_SUCCESS);
    ck_assert_int_eq(w.ctx.res.retry_after, 2 * CN_REFRESH_COOLDOWN);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), calls + CN_REFRESH_ATTEMPTS);
    ck_assert_int_eq(grant_col(g->id, "refresh_failures"), 2);

    /* the provider back: refreshed, the cool-down gone */
    w.fake.fail_next = 0;
    w.clock_now += apr_time_from_sec(2 * CN_REFRESH_COOLDOWN);
    ck_assert_msg(access_now(g->id, &out) == APR_SUCCESS, "%s", w.ctx.res.description);
    ck_assert_int_eq(grant_col(g->id, "refresh_failures"), 0);
    ck_assert_int_eq(grant_col(g->id, "refresh_retry_at"), 0);
    ck_assert_int_eq(grant_col(g->id, "refreshed_at"), w.ctx.now);
    ck_assert_str_eq(load_grant(g->id)->grant_status, "valid");
}
END_TEST

/* A provider that takes long: no attempt begins past the call's budget. */
START_TEST(test_refresh_budget)
{
    cn_grant_t *g;
    json_t *out = NULL;
    make_integration(GOOGLE);
    g = native_grant("rt-slow", NULL);
    db_do("UPDATE grants SET access_expires_at = 0");
    w.fake.mode = TOKEN_TIMEOUT;
    w.fake.cost = apr_time_from_msec(CN_REFRESH_BUDGET_MS / 2);
    ck_assert_int_ne(access_now(g->id, &out), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "service_unavailable");
    ck_assert_int_eq(calls_to(GOOGLE->token_url), 1 + 2); /* the third would start too late */
    ck_assert_int_eq(w.slept->nelts, 1);
    ck_assert_int_eq(grant_col(g->id, "refresh_failures"), 1);
}
END_TEST

/* invalid_grant is never asked twice: the grant is invalid at once. */
START_TEST(test_refresh_invalid_not_retried)
{
    cn_grant_t *g;
    json_t *out = NULL;
    make_integration(GOOGLE);
    g = native_grant("rt-gone", NULL);
    db_do("UPDATE grants SET access_expires_at = 0");
    w.fake.mode = TOKEN_INVALID_GRANT;
    ck_assert_int_ne(access_now(g->id, &out), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "grant_expired");
    ck_assert_int_eq(w.ctx.res.retry_after, 0);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), 2);
    ck_assert_int_eq(w.slept->nelts, 0);
    ck_assert_int_eq(grant_col(g->id, "refresh_failures"), 0);
}
END_TEST

/* Another process holds the refresh lease and never stores a token: the
 * caller looks again every CN_ACCESS_POLL_MS, never asks the provider, and
 * gives up after CN_ACCESS_WAIT_MS with 503 and Retry-After: 1; a cool-down
 * the holder leaves meanwhile is seen at once. */
START_TEST(test_refresh_waiter)
{
    cn_grant_t *g;
    json_t *out = NULL;
    int calls;
    make_integration(GOOGLE);
    g = native_grant("rt-wait", NULL);
    calls = calls_to(GOOGLE->token_url);
    db_do(apr_psprintf(pool, "UPDATE grants SET access_expires_at = 0, refresh_lease_until = %d",
                       START_TIME + CN_ACCESS_LEASE));
    ck_assert_int_ne(access_now(g->id, &out), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "service_unavailable");
    ck_assert_int_eq(w.ctx.res.retry_after, 1);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), calls);
    ck_assert_int_eq(w.slept->nelts, CN_ACCESS_WAIT_MS / CN_ACCESS_POLL_MS);
    ck_assert_int_eq(slept(0), apr_time_from_msec(CN_ACCESS_POLL_MS));

    /* the holder failed and left a cool-down: the caller answers it */
    db_do(apr_psprintf(pool, "UPDATE grants SET refresh_lease_until = 0, refresh_failures = 3, "
                       "refresh_retry_at = %" APR_INT64_T_FMT, apr_time_sec(w.clock_now) + 40));
    ck_assert_int_ne(access_now(g->id, &out), APR_SUCCESS);
    ck_assert_int_eq(w.ctx.res.retry_after, 40);
    ck_assert_msg(strstr(w.ctx.res.description, "3 times in a row"), "%s", w.ctx.res.description);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), calls);
}
END_TEST

static cn_refresh_counts_t run_job(int batch, cn_job_lease_t *lease)
{
    cn_refresh_counts_t c;
    w.ctx.now = apr_time_sec(w.clock_now);
    memset(&c, 0xff, sizeof(c));
    ck_assert_msg(cn_job_refresh(&w.ctx, 30, batch, lease, &c) == APR_SUCCESS, "%s",
                  w.ctx.res.description);
    CHECK_SEAMS();
    return c;
}

#define BOB_CLAIMS "{\"iss\":\"https://accounts.google.com\",\"sub\":\"2222\"," \
                   "\"email\":\"bob@example.com\",\"email_verified\":true}"

/* The refresh job: grants unused for 30 days are refreshed, a batch at a
 * time, and no others; invalid_grant and failures as for the callers. */
START_TEST(test_refresh_job)
{
    cn_grant_t *ann, *bob;
    cn_refresh_counts_t c;
    apr_int64_t now = START_TIME;
    int calls;
    make_integration(GOOGLE);
    ann = native_grant("rt-ann", NULL);
    bob = native_grant("rt-bob", BOB_CLAIMS);
    ck_assert_int_eq(grant_col(ann->id, "refreshed_at"), START_TIME); /* signed in */
    w.fake.also_refresh = "rt-ann";
    calls = calls_to(GOOGLE->token_url);

    /* fresh grants: nothing to do */
    c = run_job(1, NULL);
    ck_assert_int_eq(c.refreshed + c.invalid + c.failed + c.skipped, 0);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), calls);
    ck_assert_int_eq(logged("CN02210"), 1);

    /* 31 and 29 days unused: Ann's is refreshed, Bob's not yet (ann's
     * access token is fresh: the refresh is for the refresh token's sake) */
    db_do(apr_psprintf(pool, "UPDATE grants SET refreshed_at = %" APR_INT64_T_FMT
                       " WHERE id = '%s'", now - 31 * DAY, ann->id));
    db_do(apr_psprintf(pool, "UPDATE grants SET refreshed_at = %" APR_INT64_T_FMT
                       " WHERE id = '%s'", now - 29 * DAY, bob->id));
    c = run_job(1, NULL);
    ck_assert_int_eq(c.refreshed, 1);
    ck_assert_int_eq(c.invalid + c.failed + c.skipped, 0);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), calls + 1);
    ck_assert_str_eq(apr_table_get(last_call()->form, "refresh_token"), "rt-ann");
    ck_assert_int_eq(grant_col(ann->id, "refreshed_at"), now);
    ck_assert_int_eq(grant_col(ann->id, "refresh_lease_until"), 0);
    ck_assert_str_eq(open_secret(load_grant(ann->id), "access_token",
                                 load_grant(ann->id)->access_token), w.fake.access);

    /* both due, batches of one: both refreshed */
    db_do(apr_psprintf(pool, "UPDATE grants SET refreshed_at = %" APR_INT64_T_FMT,
                       now - 40 * DAY));
    c = run_job(1, NULL);
    ck_assert_int_eq(c.refreshed, 2);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), calls + 3);

    /* a provider failing: the grants cool down, and the next run leaves
     * them alone until the cool-down ends */
    db_do(apr_psprintf(pool, "UPDATE grants SET refreshed_at = %" APR_INT64_T_FMT,
                       now - 40 * DAY));
    w.fake.fail_next = 1000;
    c = run_job(50, NULL);
    ck_assert_int_eq(c.failed, 2);
    ck_assert_int_eq(grant_col(ann->id, "refresh_failures"), 1);
    ck_assert_int_gt(grant_col(bob->id, "refresh_retry_at"), apr_time_sec(w.clock_now));
    calls = calls_to(GOOGLE->token_url);
    c = run_job(50, NULL);
    ck_assert_int_eq(c.refreshed + c.invalid + c.failed + c.skipped, 0);
    ck_assert_int_eq(calls_to(GOOGLE->token_url), calls);

    /* after it, the provider refuses Ann's token: invalid, grant_expired */
    w.clock_now += apr_time_from_sec(CN_REFRESH_COOLDOWN);
    w.fake.fail_next = 0;
    w.fake.also_refresh = NULL;
    c = run_job(50, NULL);
    ck_assert_int_eq(c.refreshed, 1);
    ck_assert_int_eq(c.invalid, 1);
    ck_assert_str_eq(load_grant(ann->id)->grant_status, "invalid");
    ck_assert_str_eq(load_grant(bob->id)->grant_status, "valid");
    ck_assert_int_eq(events_of("grant_expired"), 1);
    ck_assert_int_eq(grant_col(bob->id, "refresh_failures"), 0);
}
END_TEST

/* The job renews its lease between batches when little of it is left, and
 * stops when another holder took it. */
START_TEST(test_refresh_job_lease)
{
    cn_grant_t *ann, *bob;
    cn_job_lease_t lease = {"refresh", "node-a:1", 10, 0};
    cn_refresh_counts_t c;
    make_integration(GOOGLE);
    ann = native_grant("rt-ann", NULL);
    bob = native_grant("rt-bob", BOB_CLAIMS);
    db_do(apr_psprintf(pool, "UPDATE grants SET refreshed_at = %d", START_TIME - 40 * DAY));
    db_do(apr_psprintf(pool, "INSERT INTO job_leases (name, holder, expires_at) "
                       "VALUES ('refresh', 'node-a:1', %d)", START_TIME + 10));
    lease.until = START_TIME + 10;
    w.fake.cost = apr_time_from_sec(6); /* each refresh takes 6 s */
    w.fake.refresh = NULL;              /* ann's and bob's both refused: no matter */
    c = run_job(1, &lease);
    ck_assert_int_eq(c.invalid, 2);
    /* renewed before the second batch (6 s in, 4 s left) and before the
     * third (12 s in), which finds nothing more */
    ck_assert_int_eq(lease.until, START_TIME + 12 + 10);
    ck_assert_int_eq(count_of("SELECT expires_at FROM job_leases WHERE name = 'refresh'"),
                     START_TIME + 22);
    ck_assert_int_eq(logged("CN02221"), 2);
    (void)ann;
    (void)bob;

    /* another node took it: the job stops before its next batch */
    db_do(apr_psprintf(pool, "UPDATE grants SET grant_status = 'valid', refreshed_at = %d",
                       START_TIME - 40 * DAY));
    db_do("UPDATE job_leases SET holder = 'node-b:2'");
    w.clock_now = apr_time_from_sec(lease.until - 1);
    c = run_job(1, &lease);
    ck_assert_int_eq(c.refreshed + c.invalid + c.failed + c.skipped, 0);
    ck_assert_int_eq(logged("CN02220"), 1);
    ck_assert_int_eq(logged("the lease was lost"), 1);
    ck_assert_int_eq(count_of("SELECT count(*) FROM job_leases WHERE holder = 'node-b:2'"), 1);
}
END_TEST

static TCase *world_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, world_setup, world_teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

static Suite *flow_suite(void)
{
    Suite *s = suite_create("flow");
    TCase *tc;

    tc = world_tcase("hosted");
    tcase_add_loop_test(tc, test_hosted_whole_flow, 0, NPROVIDERS);
    tcase_add_test(tc, test_flow_sealed);
    tcase_add_test(tc, test_cookie_nonce);
    suite_add_tcase(s, tc);

    tc = world_tcase("failures");
    tcase_add_loop_test(tc, test_hosted_failure, 0,
                        (int)(sizeof(fail_cases) / sizeof(fail_cases[0])));
    suite_add_tcase(s, tc);

    tc = world_tcase("no handle during provider calls");
    tcase_add_test(tc, test_token_refuses_held_handle);
    tcase_add_test(tc, test_fake_sees_held_handle);
    tcase_add_test(tc, test_callback_with_held_handle);
    tcase_add_test(tc, test_revoke_after_delete);
    suite_add_tcase(s, tc);

    tc = world_tcase("authorize");
    tcase_add_loop_test(tc, test_authorize_whole_flow, 0, NPROVIDERS);
    tcase_add_test(tc, test_code_expiry_and_purge);
    tcase_add_test(tc, test_authorize_id_token);
    tcase_add_test(tc, test_id_token_refused);
    tcase_add_test(tc, test_id_token_old_rows);
    tcase_add_loop_test(tc, test_authorize_refused, 0,
                        (int)(sizeof(authorize_bad_cases) / sizeof(authorize_bad_cases[0])));
    tcase_add_test(tc, test_authorize_denied);
    suite_add_tcase(s, tc);

    tc = world_tcase("native");
    tcase_add_loop_test(tc, test_native_then_reauth, 0, NPROVIDERS);
    tcase_add_test(tc, test_native_unknown_token);
    tcase_add_loop_test(tc, test_native_refused, 0,
                        (int)(sizeof(native_bad_cases) / sizeof(native_bad_cases[0])));
    suite_add_tcase(s, tc);

    tc = world_tcase("refresh");
    tcase_add_test(tc, test_refresh_waits);
    tcase_add_test(tc, test_refresh_retried);
    tcase_add_test(tc, test_refresh_cooldown);
    tcase_add_test(tc, test_refresh_budget);
    tcase_add_test(tc, test_refresh_invalid_not_retried);
    tcase_add_test(tc, test_refresh_waiter);
    tcase_add_test(tc, test_refresh_job);
    tcase_add_test(tc, test_refresh_job_lease);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rc;
    if (!cn_test_tmpdir_make("flow")) {
        return 2;
    }
    rc = cn_test_main(flow_suite());
    cn_test_tmpdir_remove();
    return rc;
}
