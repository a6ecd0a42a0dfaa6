/* Unit tests of IMAP without a server: the core's LOGIN rules (src/core/
 * proto/imap.c) and the IMAP proof and native IMAP grants (src/core/flow/
 * imap.c) with a fake IMAP seam in ctx->imap and a real SQLite store behind
 * the database seam. What a login may hold, where the table sends a mailbox
 * that names no server, which event each outcome is, that no LOGIN is made
 * with a database handle held, and what is stored: one grant per mailbox,
 * its password sealed under its own AAD, its settings without the password. */
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_dbd.h>

#include "cn_flow.h"
#include "cn_proto.h"
#include "cn_test.h"
#include "cn_fakes.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define APP_ID "app-1"
#define NOW 1700000000
#define ANN_PW "ann's pw: p@ss/w0rd%20 x"
#define BOB_PW "bob-secret-0123456789"

/* ---- the fake IMAP servers ------------------------------------------------ */

/* host/port of the fake (cn_fakes.h): an account there logs in with its password. */
static const cn_fake_mailbox_t mailboxes[] = {
    {"imap.example.org", 993, "ann@example.org", ANN_PW},
    {"imap.example.org", 143, "ann@example.org", ANN_PW},
    {"imap.example.org", 993, "bob", BOB_PW},
    {"imap.mail.yahoo.com", 993, "carol@yahoo.com", "yahoo-app-password"},
};

static struct world_t {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    cn_db_t db;
    cn_test_seams_t s; /* the database and log seams (cn_fakes.h) */
    cn_keyring_t *ring;
    unsigned char key[CN_KEY_LEN]; /* the ring's one key */
    cn_fake_imap_t imap;
    cn_ctx_t ctx;
} w;

/* ---- the database and log seams --------------------------------------- */

static void world_setup(void)
{

    cn_test_pool_setup();
    memset(&w, 0, sizeof(w));
    cn_test_store_open("i", &w.db);
    w.driver = w.db.driver;
    w.handle = w.db.handle;
    w.s.log = apr_array_make(pool, 16, sizeof(const char *));
    w.ring = cn_keyring_make(pool);
    ck_assert_int_eq(cn_random_bytes(w.key, sizeof(w.key)), APR_SUCCESS);
    ck_assert_int_eq(cn_keyring_add(w.ring, w.key, sizeof(w.key)), APR_SUCCESS);
    cn_fake_imap_init(&w.imap, mailboxes, N(mailboxes), &w.ctx);

    w.ctx.pool = pool;
    w.s.db = &w.db;
    w.ctx.dbs.open = cn_test_seam_open;
    w.ctx.dbs.close = cn_test_seam_close;
    w.ctx.dbs.baton = &w.s;
    w.ctx.log.write = cn_test_log_write;
    w.ctx.log.baton = &w.s;
    w.ctx.ring = w.ring;
    w.ctx.app_id = APP_ID;
    w.ctx.now = NOW;
    w.ctx.request_id = "req-1";
    w.ctx.imap = &w.imap.client;
    w.ctx.client_ip = "192.0.2.7";
    w.ctx.user_agent = "unit test";
}

static void world_teardown(void)
{
    if (w.handle) {
        apr_dbd_close(w.driver, w.handle);
        w.handle = NULL;
    }
    cn_test_pool_teardown();
}

/* After every core call: sections closed, no LOGIN with a handle held, no
 * password in a log line or a description. */
#define CHECK_SEAMS() check_seams(__LINE__)
static void check_seams(int line)
{
    static const char *const secrets[] = {ANN_PW, BOB_PW, "yahoo-app-password", "wrong-pw"};
    int i, j;
    ck_assert_msg(w.s.opens == w.s.closes && !w.s.held, "line %d: %d sections opened, %d closed",
                  line, w.s.opens, w.s.closes);
    ck_assert_msg(w.ctx.db == NULL && w.ctx.db_depth == 0, "line %d: the context keeps a handle",
                  line);
    for (i = 0; i < w.imap.calls->nelts; ++i) {
        ck_assert_msg(!APR_ARRAY_IDX(w.imap.calls, i, cn_fake_imap_call_t).db_held,
                      "line %d: an IMAP LOGIN with a database handle held", line);
    }
    for (j = 0; j < N(secrets); ++j) {
        for (i = 0; i < w.s.log->nelts; ++i) {
            ck_assert_msg(!strstr(APR_ARRAY_IDX(w.s.log, i, const char *), secrets[j]),
                          "line %d: a password in the log", line);
        }
        ck_assert_msg(!w.ctx.res.description || !strstr(w.ctx.res.description, secrets[j]),
                      "line %d: a password in a description", line);
    }
}

static const cn_fake_imap_call_t *last_call(void)
{
    return cn_fake_imap_last(&w.imap);
}

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

static long grants_stored(void)
{
    return count_of("SELECT count(*) FROM grants");
}

/* TEXT as JSON; "\u0000" is let through (the module's parser refuses it,
 * but the settings reader must not count on that). */
static json_t *body_of(const char *text)
{
    json_error_t err;
    json_t *j = cn_json_own(pool, json_loads(text, JSON_ALLOW_NUL, &err));
    ck_assert_msg(j != NULL, "fixture is not JSON (%s): %s", err.text, text);
    return j;
}

static void make_imap_integration(void)
{
    json_t *out = NULL;
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_msg(cn_integration_create(&w.ctx, body_of("{\"name\":\"IMAP\",\"provider\":"
                                                        "\"imap\",\"redirect_uris\":"
                                                        "[\"https://app.example/cb\"]}"),
                                        &out) == APR_SUCCESS,
                  "integration: %s", w.ctx.res.description);
    cn_ctx_db_close(&w.ctx);
    CHECK_SEAMS();
}

static cn_grant_t *load_grant(const char *id)
{
    cn_grant_t *g = NULL;
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_int_eq(cn_grant_load(&w.ctx, id, &g), APR_SUCCESS);
    cn_ctx_db_close(&w.ctx);
    return g;
}

/* The sealed VALUE of grant G opened with the AAD of COLUMN, or NULL. */
static const char *open_sealed(const cn_grant_t *g, const char *column, const char *value)
{
    const char *plain = NULL;
    apr_size_t len = 0;
    if (cn_crypto_open(pool, w.ring, value, cn_crypto_aad(pool, "grants", column, g->id), &plain,
                       &len) != APR_SUCCESS) {
        return NULL;
    }
    return plain;
}

static cn_imap_login_t ann_login(void)
{
    cn_imap_login_t l;
    memset(&l, 0, sizeof(l));
    l.username = "ann@example.org";
    l.password = ANN_PW;
    l.host = "IMAP.Example.org";
    l.port = 993;
    l.security = CN_IMAP_SSL;
    return l;
}

/* ---- the core's LOGIN rules ----------------------------------------------- */

static const struct host_case {
    const char *host;
    int valid;
} host_cases[] = {
    {"imap.example.org", 1}, {"IMAP.Example.ORG", 1}, {"localhost", 1}, {"127.0.0.1", 1},
    {"a-b.c", 1}, {"x", 1}, {"", 0}, {"imap..example.org", 0}, {".example.org", 0},
    {"example.org.", 0}, {"-imap.example.org", 0}, {"imap-.example.org", 0},
    {"imap.example.org:993", 0}, {"user@imap.example.org", 0}, {"imap.example.org/x", 0},
    {"imap example.org", 0}, {"[::1]", 0}, {"imap_1.example.org", 0}, {"ımap.example.org", 0},
    {"imap.example.org\r\n", 0},
};

START_TEST(test_host_valid)
{
    const struct host_case *c = &host_cases[_i];
    ck_assert_msg(cn_imap_host_valid(c->host) == c->valid, "'%s': expected %d", c->host,
                  c->valid);
}
END_TEST

START_TEST(test_host_length)
{
    char label[64], host[300];
    memset(label, 'a', 63);
    label[63] = '\0';
    ck_assert(cn_imap_host_valid(label));
    ck_assert(!cn_imap_host_valid(apr_pstrcat(pool, label, "a", NULL))); /* a 64-byte label */
    snprintf(host, sizeof(host), "%s.%s.%s.%.61s", label, label, label, label); /* 253 */
    ck_assert_int_eq(strlen(host), 253);
    ck_assert(cn_imap_host_valid(host));
    ck_assert(!cn_imap_host_valid(apr_pstrcat(pool, host, "a", NULL)));
}
END_TEST

static const struct outcome_case {
    cn_imap_outcome_t outcome;
    const char *event;
} outcome_cases[] = {
    {CN_IMAP_DENIED, "invalid_authentication"},
    {CN_IMAP_NO_MECHANISM, "invalid_authentication"},
    {CN_IMAP_NO_ANSWER, "provider_not_responding"},
    {CN_IMAP_ADDRESS_REFUSED, "provider_not_responding"},
    {CN_IMAP_TLS_UNTRUSTED, "provider_tls_failed"},
    {CN_IMAP_TLS_FAILED, "provider_tls_failed"},
    {CN_IMAP_PLAIN_REFUSED, "provider_settings_invalid"},
    {CN_IMAP_CLIENT_FAILED, "service_unavailable"},
};

START_TEST(test_outcome_event)
{
    const struct outcome_case *c = &outcome_cases[_i];
    ck_assert_str_eq(cn_event(cn_imap_outcome_event(c->outcome))->type, c->event);
    ck_assert_int_eq(cn_imap_outcome_event(CN_IMAP_LOGGED_IN), CN_EV__COUNT);
}
END_TEST

/* The events of IMAP in the table: the seed's codes, and the one beyond it. */
START_TEST(test_imap_events)
{
    ck_assert_int_eq(cn_event_by_type("invalid_authentication")->code, 25021);
    ck_assert_int_eq(cn_event_by_type("provider_not_responding")->code, 25022);
    ck_assert_int_eq(cn_event_by_type("auth_limit_reached")->code, 25023);
    ck_assert_int_eq(cn_event_by_type("provider_tls_failed")->code, 45014);
    ck_assert_str_eq(cn_event_by_type("provider_tls_failed")->category, "Provider");
}
END_TEST

static cn_imap_request_t request(const char *host, int port, const char *security,
                                 const char *password)
{
    cn_imap_request_t r = {host, port, security, "ann@example.org", password, NULL};
    return r;
}

static const struct login_case {
    const char *host;
    int port;
    const char *security, *password, *event, *says;
} login_cases[] = {
    {"imap.example.org", 993, CN_IMAP_SSL, ANN_PW, NULL, NULL},
    {"imap.example.org", 143, CN_IMAP_STARTTLS, ANN_PW, NULL, NULL},
    {"imap.example.org", 993, CN_IMAP_SSL, "wrong-pw", "invalid_authentication",
     "refused the username or password"},
    {"nomech.example", 993, CN_IMAP_SSL, ANN_PW, "invalid_authentication",
     "offers no password login"},
    {"silent.example", 993, CN_IMAP_SSL, ANN_PW, "provider_not_responding",
     "no IMAP answer from silent.example:993 (ssl) within 2 s"},
    {"untrusted.example", 993, CN_IMAP_SSL, ANN_PW, "provider_tls_failed",
     "certificate of untrusted.example:993 (ssl) is not trusted"},
};

START_TEST(test_login_outcomes)
{
    const struct login_case *c = &login_cases[_i];
    cn_imap_request_t req = request(c->host, c->port, c->security, c->password);
    apr_status_t rv = cn_imap_login(&w.ctx, &req);
    CHECK_SEAMS();
    ck_assert_int_eq(w.imap.calls->nelts, 1);
    ck_assert_int_eq(cn_test_logged(&w.s, "CN00702: IMAP LOGIN at"), 1);
    if (!c->event) {
        ck_assert_msg(rv == APR_SUCCESS, "%s", w.ctx.res.description);
        return;
    }
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, c->event);
    ck_assert_msg(strstr(w.ctx.res.description, c->says), "'%s' does not say '%s'",
                  w.ctx.res.description, c->says);
}
END_TEST

/* A server at an address the rule refuses fails like one that does not
 * answer; the log, not the application, learns which address it was. */
START_TEST(test_login_address_refused)
{
    cn_imap_request_t req = request("internal.example", 993, CN_IMAP_SSL, ANN_PW);
    ck_assert_int_ne(cn_imap_login(&w.ctx, &req), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_str_eq(w.ctx.res.event->type, "provider_not_responding");
    ck_assert_str_eq(w.ctx.res.description, "the IMAP server internal.example:993 (ssl) is not "
                     "at a public address; this server does not connect there "
                     "(ConnectAllowAddresses)");
    ck_assert_int_eq(cn_test_logged(&w.s, "CN01011: IMAP LOGIN at internal.example:993 (ssl) refused: "
                            "10.0.0.5 is not a public address (private); nothing was "
                            "connected"), 1);
    ck_assert_int_eq(cn_test_logged(&w.s, "CN00702: "), 0);
    ck_assert_int_eq(cn_test_logged(&w.s, ANN_PW), 0);
}
END_TEST

/* Refused before any call: a handle held, no client, plain not allowed. */
START_TEST(test_login_refusals)
{
    cn_imap_request_t req = request("imap.example.org", 993, CN_IMAP_SSL, ANN_PW);
    cn_db_t held;
    memset(&held, 0, sizeof(held));
    w.ctx.db = &held;
    ck_assert_int_ne(cn_imap_login(&w.ctx, &req), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "internal_error");
    ck_assert_int_eq(cn_test_logged(&w.s, "CN00701: a database handle is held across an IMAP LOGIN"), 1);
    w.ctx.db = NULL;

    w.ctx.imap = NULL;
    ck_assert_int_ne(cn_imap_login(&w.ctx, &req), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "service_unavailable");
    w.ctx.imap = &w.imap.client;

    req = request("imap.example.org", 143, CN_IMAP_PLAIN, ANN_PW);
    ck_assert_int_ne(cn_imap_login(&w.ctx, &req), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "provider_settings_invalid");
    ck_assert_msg(strstr(w.ctx.res.description, "ConnectIMAPAllowPlain"), "%s",
                  w.ctx.res.description);
    ck_assert_int_eq(w.imap.calls->nelts, 0);
    CHECK_SEAMS();

    /* allowed: the LOGIN goes, without TLS */
    w.imap.client.allow_plain = 1;
    ck_assert_int_eq(cn_imap_login(&w.ctx, &req), APR_SUCCESS);
    ck_assert_int_eq(w.imap.calls->nelts, 1);
    ck_assert_str_eq(last_call()->req.security, CN_IMAP_PLAIN);
    CHECK_SEAMS();
}
END_TEST

/* ---- the proof ------------------------------------------------------------ */

START_TEST(test_subject)
{
    ck_assert_str_eq(cn_imap_subject(pool, "IMAP.Example.ORG", "Ann@Example.org"),
                     "imap.example.org/Ann@Example.org");
    ck_assert_str_eq(cn_imap_subject(pool, "imap.example.org", "bob"), "imap.example.org/bob");
    /* the username as given: a server may tell them apart */
    ck_assert_str_ne(cn_imap_subject(pool, "h", "bob"), cn_imap_subject(pool, "h", "Bob"));
    /* no port in it: the same mailbox over IMAPS and STARTTLS */
}
END_TEST

static const struct check_case {
    const char *name;
    const char *username, *password, *host;
    int port;
    const char *security, *email, *type, *says;
} check_cases[] = {
    {"no username", NULL, "pw", "h.example", 993, "ssl", NULL, NULL, "imap_username is required"},
    {"empty username", "", "pw", "h.example", 993, "ssl", NULL, NULL, "imap_username is required"},
    {"a control character", "ann\r\nA1 LOGOUT", "pw", "h.example", 993, "ssl", "a@b.c", NULL,
     "imap_username must be"},
    {"no password", "a@b.c", NULL, "h.example", 993, "ssl", NULL, NULL,
     "imap_password is required"},
    {"empty password", "a@b.c", "", "h.example", 993, "ssl", NULL, NULL,
     "imap_password is required"},
    {"no host", "a@b.c", "pw", NULL, 993, "ssl", NULL, NULL, "imap_host must be"},
    {"a bad host", "a@b.c", "pw", "h.example:993", 993, "ssl", NULL, NULL, "imap_host must be"},
    {"port 0", "a@b.c", "pw", "h.example", 0, "ssl", NULL, NULL, "imap_port must be"},
    {"port 65536", "a@b.c", "pw", "h.example", 65536, "ssl", NULL, NULL, "imap_port must be"},
    {"security tls", "a@b.c", "pw", "h.example", 993, "tls", NULL, NULL, "imap_security must be"},
    {"no security", "a@b.c", "pw", "h.example", 993, NULL, NULL, NULL, "imap_security must be"},
    {"a username that is no address, no email", "ann", "pw", "h.example", 993, "ssl", NULL, NULL,
     "email is required"},
    {"a bad email", "ann", "pw", "h.example", 993, "ssl", "ann", NULL, "email must be"},
    {"a type with capitals", "a@b.c", "pw", "h.example", 993, "ssl", NULL, "Yahoo", "type must be"},
    {"a type too long", "a@b.c", "pw", "h.example", 993, "ssl", NULL,
     "abcdefghijabcdefghijabcdefghijabc", "type must be"},
};

START_TEST(test_login_check)
{
    const struct check_case *c = &check_cases[_i];
    cn_imap_login_t l = {c->email, c->username, c->password, c->host, c->security, c->port,
                         c->type};
    cn_flow_proof_t proof = {0};
    ck_assert_int_ne(cn_imap_login_check(&w.ctx, &l), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "invalid_request_payload");
    ck_assert_msg(strstr(w.ctx.res.description, c->says), "%s: '%s'", c->name,
                  w.ctx.res.description);
    /* and the proof refuses it without a LOGIN */
    ck_assert_int_ne(cn_imap_prove(&w.ctx, &l, &proof), APR_SUCCESS);
    ck_assert_int_eq(w.imap.calls->nelts, 0);
    ck_assert_ptr_null(proof.id);
}
END_TEST

START_TEST(test_login_limits)
{
    cn_imap_login_t l = ann_login();
    char *big = apr_palloc(pool, 2000);
    memset(big, 'p', 1999);
    big[1999] = '\0';
    big[CN_IMAP_PASSWORD_MAX] = '\0';
    l.password = big;
    ck_assert_int_eq(cn_imap_login_check(&w.ctx, &l), APR_SUCCESS);
    big[CN_IMAP_PASSWORD_MAX] = 'p';
    big[CN_IMAP_PASSWORD_MAX + 1] = '\0';
    ck_assert_int_ne(cn_imap_login_check(&w.ctx, &l), APR_SUCCESS);
    l = ann_login();
    l.email = "ann@example.org";
    big[CN_IMAP_USERNAME_MAX] = '\0';
    l.username = big;
    ck_assert_int_eq(cn_imap_login_check(&w.ctx, &l), APR_SUCCESS);
    big[CN_IMAP_USERNAME_MAX] = 'p';
    ck_assert_int_ne(cn_imap_login_check(&w.ctx, &l), APR_SUCCESS);
}
END_TEST

START_TEST(test_prove)
{
    cn_imap_login_t l = ann_login();
    cn_flow_proof_t proof = {0};
    const char *dump;
    l.type = "generic";
    ck_assert_msg(cn_imap_prove(&w.ctx, &l, &proof) == APR_SUCCESS, "%s",
                  w.ctx.res.description);
    CHECK_SEAMS();
    /* the LOGIN: the host lowercased, the rest as given */
    ck_assert_str_eq(last_call()->req.host, "imap.example.org");
    ck_assert_int_eq(last_call()->req.port, 993);
    ck_assert_str_eq(last_call()->req.username, "ann@example.org");
    ck_assert_str_eq(last_call()->req.password, ANN_PW);
    /* the proof */
    ck_assert_ptr_null(proof.tokens);
    ck_assert_str_eq(proof.password, ANN_PW);
    ck_assert_str_eq(proof.id->subject, "imap.example.org/ann@example.org");
    ck_assert_str_eq(proof.id->legacy_subject, proof.id->subject);
    ck_assert_str_eq(proof.id->user_id, "ann@example.org");
    ck_assert_str_eq(proof.id->email, "ann@example.org");
    dump = cn_json_dump(pool, proof.settings);
    ck_assert_str_eq(dump, "{\"imap_username\":\"ann@example.org\",\"imap_host\":"
                           "\"imap.example.org\",\"imap_port\":993,\"imap_security\":\"ssl\","
                           "\"type\":\"generic\"}");

    /* an email of its own, lowercased; no type: null, which removes a stored one */
    l = ann_login();
    l.email = "Ann.Other@Example.ORG";
    memset(&proof, 0, sizeof(proof));
    ck_assert_int_eq(cn_imap_prove(&w.ctx, &l, &proof), APR_SUCCESS);
    ck_assert_str_eq(proof.id->email, "ann.other@example.org");
    ck_assert(json_is_null(json_object_get(proof.settings, "type")));

    /* a wrong password: nothing proven */
    l = ann_login();
    l.password = "wrong-pw";
    memset(&proof, 0, sizeof(proof));
    ck_assert_int_ne(cn_imap_prove(&w.ctx, &l, &proof), APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "invalid_authentication");
    ck_assert_ptr_null(proof.id);
    ck_assert_ptr_null(proof.password);
    CHECK_SEAMS();
}
END_TEST

/* ---- POST /grants with provider imap: reading and filling the settings ------ */

static const struct read_case {
    const char *name, *settings, *says; /* says NULL: read */
} read_cases[] = {
    {"the seed's Yahoo example", "{\"imap_username\":\"john.doe@yahoo.com\",\"imap_password\":"
     "\"super-secret-app-password\",\"imap_host\":\"imap.mail.yahoo.com\",\"imap_port\":993,"
     "\"type\":\"yahoo\"}", NULL},
    {"nulls are absent", "{\"imap_username\":\"a@b.c\",\"imap_password\":\"p\","
     "\"imap_host\":null,\"imap_port\":null,\"imap_security\":null,\"type\":null,"
     "\"email\":null}", NULL},
    {"no settings", NULL, "settings with imap_username and imap_password are required"},
    {"settings not an object", "[]", "settings with imap_username and imap_password"},
    {"no username", "{\"imap_password\":\"p\"}", "settings.imap_username is required"},
    {"no password", "{\"imap_username\":\"a@b.c\"}", "settings.imap_password is required"},
    {"an empty password", "{\"imap_username\":\"a@b.c\",\"imap_password\":\"\"}",
     "settings.imap_password is required"},
    {"a refresh token", "{\"refresh_token\":\"rt\"}", "unknown setting 'refresh_token'"},
    {"a password as a number", "{\"imap_username\":\"a@b.c\",\"imap_password\":1234}",
     "settings.imap_password must be a string"},
    {"a NUL in the password", "{\"imap_username\":\"a@b.c\",\"imap_password\":\"a\\u0000b\"}",
     "settings.imap_password must be a string"},
    {"a port as a string", "{\"imap_username\":\"a@b.c\",\"imap_password\":\"p\","
     "\"imap_port\":\"993\"}", "settings.imap_port must be a number"},
    {"a port out of range", "{\"imap_username\":\"a@b.c\",\"imap_password\":\"p\","
     "\"imap_port\":70000}", "settings.imap_port must be a number"},
    {"a port of 1.5", "{\"imap_username\":\"a@b.c\",\"imap_password\":\"p\","
     "\"imap_port\":1.5}", "settings.imap_port must be a number"},
    {"security tls", "{\"imap_username\":\"a@b.c\",\"imap_password\":\"p\","
     "\"imap_security\":\"tls\"}", "settings.imap_security must be ssl, starttls or plain"},
};

START_TEST(test_settings_read)
{
    const struct read_case *c = &read_cases[_i];
    cn_imap_login_t l;
    apr_status_t rv = cn_imap_settings_read(&w.ctx, c->settings ? body_of(c->settings) : NULL,
                                            &l);
    if (!c->says) {
        ck_assert_msg(rv == APR_SUCCESS, "%s: %s", c->name, w.ctx.res.description);
        return;
    }
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "invalid_request_payload");
    ck_assert_msg(strstr(w.ctx.res.description, c->says), "%s: '%s'", c->name,
                  w.ctx.res.description);
}
END_TEST

START_TEST(test_settings_read_values)
{
    cn_imap_login_t l;
    ck_assert_int_eq(cn_imap_settings_read(&w.ctx, body_of(read_cases[0].settings), &l),
                     APR_SUCCESS);
    ck_assert_str_eq(l.username, "john.doe@yahoo.com");
    ck_assert_str_eq(l.password, "super-secret-app-password");
    ck_assert_str_eq(l.host, "imap.mail.yahoo.com");
    ck_assert_int_eq(l.port, 993);
    ck_assert_str_eq(l.type, "yahoo");
    ck_assert_ptr_null(l.security);
    ck_assert_ptr_null(l.email);
}
END_TEST

static const struct fill_case {
    const char *name;
    const char *username, *email, *host;
    int port;
    const char *security, *type;
    /* what it becomes; says: the failure */
    const char *want_host;
    int want_port;
    const char *want_security, *want_type, *says;
} fill_cases[] = {
    {"yahoo from the table", "john.doe@yahoo.com", NULL, NULL, 0, NULL, NULL,
     "imap.mail.yahoo.com", 993, "ssl", "yahoo", NULL},
    {"icloud from the email", "jdoe", "jdoe@me.com", NULL, 0, NULL, NULL,
     "imap.mail.me.com", 993, "ssl", "icloud", NULL},
    {"a domain the table has by pattern", "x@gmx.fr", NULL, NULL, 0, NULL, NULL,
     "imap.gmx.com", 993, "ssl", "gmx", NULL},
    {"the type given is kept", "x@aol.com", NULL, NULL, 0, NULL, "generic",
     "imap.aol.com", 993, "ssl", "generic", NULL},
    {"the port given is kept", "x@yahoo.com", NULL, NULL, 143, NULL, NULL,
     "imap.mail.yahoo.com", 143, "starttls", "yahoo", NULL},
    {"an unknown domain", "x@example.net", NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL,
     "no IMAP server was found for example.net"},
    {"a domain that signs in with OAuth", "x@gmail.com", NULL, NULL, 0, NULL, NULL, NULL, 0,
     NULL, NULL, "no IMAP server was found for gmail.com (it signs in with google)"},
    {"no address at all", "ann", NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, NULL,
     "no email address to find the IMAP server from"},
    {"host given: no table", "x@yahoo.com", NULL, "imap.other.example", 0, NULL, NULL,
     "imap.other.example", 993, "ssl", NULL, NULL},
    {"port 143: starttls", "x@b.c", NULL, "h.example", 143, NULL, NULL,
     "h.example", 143, "starttls", NULL, NULL},
    {"starttls: port 143", "x@b.c", NULL, "h.example", 0, "starttls", NULL,
     "h.example", 143, "starttls", NULL, NULL},
    {"plain: port 143", "x@b.c", NULL, "h.example", 0, "plain", NULL,
     "h.example", 143, "plain", NULL, NULL},
    {"another port: ssl", "x@b.c", NULL, "h.example", 10993, NULL, NULL,
     "h.example", 10993, "ssl", NULL, NULL},
    {"all given", "x@b.c", NULL, "h.example", 1143, "starttls", "generic",
     "h.example", 1143, "starttls", "generic", NULL},
};

START_TEST(test_login_fill)
{
    const struct fill_case *c = &fill_cases[_i];
    cn_imap_login_t l = {c->email, c->username, "pw", c->host, c->security, c->port, c->type};
    apr_status_t rv = cn_imap_login_fill(&w.ctx, &l);
    if (c->says) {
        ck_assert_int_ne(rv, APR_SUCCESS);
        ck_assert_str_eq(w.ctx.res.event->type, "invalid_request_payload");
        ck_assert_msg(strstr(w.ctx.res.description, c->says), "%s: '%s'", c->name,
                      w.ctx.res.description);
        return;
    }
    ck_assert_msg(rv == APR_SUCCESS, "%s: %s", c->name, w.ctx.res.description);
    ck_assert_str_eq(l.host, c->want_host);
    ck_assert_int_eq(l.port, c->want_port);
    ck_assert_str_eq(l.security, c->want_security);
    if (c->want_type) {
        ck_assert_str_eq(l.type, c->want_type);
    }
    else {
        ck_assert_ptr_null(l.type);
    }
    ck_assert_int_eq(w.imap.calls->nelts, 0);
}
END_TEST

/* ---- native IMAP grants, stored -------------------------------------------- */

static json_t *native(const char *username, const char *password, const char *host, int port,
                      const char *security)
{
    json_t *settings = json_pack("{s:s,s:s}", "imap_username", username, "imap_password",
                                 password);
    if (host) {
        json_object_set_new(settings, "imap_host", json_string(host));
    }
    if (port) {
        json_object_set_new(settings, "imap_port", json_integer(port));
    }
    if (security) {
        json_object_set_new(settings, "imap_security", json_string(security));
    }
    return cn_json_own(pool, json_pack("{s:s,s:o,s:s}", "provider", "imap", "settings",
                                       settings, "state", "imap-state"));
}

START_TEST(test_native_imap)
{
    cn_grant_t *g = NULL, *again = NULL, *stored;
    json_t *shown, *settings;
    int reauth = -1;
    make_imap_integration();

    ck_assert_msg(cn_flow_native(&w.ctx, native("ann@example.org", ANN_PW, "imap.example.org",
                                                993, NULL), &g, &reauth) == APR_SUCCESS,
                  "%s", w.ctx.res.description);
    CHECK_SEAMS();
    ck_assert_int_eq(reauth, 0);
    ck_assert_int_eq(w.imap.calls->nelts, 1);
    ck_assert_str_eq(g->provider, "imap");
    ck_assert_str_eq(g->email, "ann@example.org");
    ck_assert_str_eq(g->provider_user_id, "ann@example.org");
    ck_assert_str_eq(g->state, "imap-state");
    stored = load_grant(g->id);
    ck_assert_str_eq(stored->subject, "imap.example.org/ann@example.org");
    ck_assert_ptr_null(stored->access_token);
    /* the password: sealed in the secret column under its own AAD, nowhere else */
    ck_assert_ptr_nonnull(stored->refresh_token);
    ck_assert_ptr_null(strstr(stored->refresh_token, ANN_PW));
    ck_assert_str_eq(open_sealed(stored, CN_GRANT_PASSWORD_AAD, stored->refresh_token), ANN_PW);
    ck_assert_ptr_null(open_sealed(stored, "refresh_token", stored->refresh_token));
    ck_assert_ptr_null(strstr(stored->settings_text, ANN_PW));
    /* the settings: where the mailbox is, shown by the API without a password */
    settings = cn_json_load_stored(pool, stored->settings_text);
    ck_assert_str_eq(json_string_value(json_object_get(settings, "imap_host")),
                     "imap.example.org");
    ck_assert_int_eq(json_integer_value(json_object_get(settings, "imap_port")), 993);
    ck_assert_str_eq(json_string_value(json_object_get(settings, "imap_security")), "ssl");
    shown = cn_grant_json(pool, stored);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(shown, "settings"),
                                                       "imap_username")),
                     "ann@example.org");
    ck_assert_ptr_null(strstr(cn_json_dump(pool, shown), ANN_PW));
    ck_assert_ptr_null(strstr(cn_json_dump(pool, shown), "cn1."));
    ck_assert_int_eq(count_of("SELECT count(*) FROM events WHERE type = 'grant_created'"), 1);

    /* the same mailbox over STARTTLS: the same grant, re-authenticated */
    ck_assert_int_eq(cn_flow_native(&w.ctx, native("ann@example.org", ANN_PW,
                                                   "imap.example.org", 143, NULL), &again,
                                    &reauth), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(reauth, 1);
    ck_assert_str_eq(again->id, g->id);
    ck_assert_int_eq(grants_stored(), 1);
    ck_assert_str_eq(last_call()->req.security, CN_IMAP_STARTTLS);
    stored = load_grant(g->id);
    settings = cn_json_load_stored(pool, stored->settings_text);
    ck_assert_int_eq(json_integer_value(json_object_get(settings, "imap_port")), 143);
    ck_assert_str_eq(json_string_value(json_object_get(settings, "imap_security")), "starttls");
    ck_assert_str_eq(open_sealed(stored, CN_GRANT_PASSWORD_AAD, stored->refresh_token), ANN_PW);
    ck_assert_int_eq(count_of("SELECT count(*) FROM events WHERE type = "
                              "'grant_reauthenticated'"), 1);

    /* another mailbox of the same server: another grant */
    ck_assert_int_eq(cn_flow_native(&w.ctx, body_of("{\"provider\":\"imap\",\"settings\":{"
                                                    "\"imap_username\":\"bob\",\"imap_password\":"
                                                    "\"" BOB_PW "\",\"imap_host\":"
                                                    "\"imap.example.org\",\"email\":"
                                                    "\"Bob@Example.org\"}}"), &again, &reauth),
                     APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(reauth, 0);
    ck_assert_str_eq(again->email, "bob@example.org");
    ck_assert_int_eq(grants_stored(), 2);
}
END_TEST

/* Settings the application PATCHed stay through a re-auth; the password
 * column takes no refresh token. */
START_TEST(test_native_imap_patch)
{
    cn_grant_t *g = NULL, *again = NULL, *stored;
    json_t *out = NULL, *settings;
    int reauth = -1;
    make_imap_integration();
    ck_assert_int_eq(cn_flow_native(&w.ctx, native("ann@example.org", ANN_PW,
                                                   "imap.example.org", 993, NULL), &g, &reauth),
                     APR_SUCCESS);
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_int_eq(cn_grant_update(&w.ctx, g->id, body_of("{\"settings\":{\"label\":\"work\"}}"),
                                     &out), APR_SUCCESS);
    ck_assert_int_ne(cn_grant_update(&w.ctx, g->id,
                                     body_of("{\"settings\":{\"refresh_token\":\"rt\"}}"), &out),
                     APR_SUCCESS);
    ck_assert_str_eq(w.ctx.res.event->type, "invalid_request_payload");
    cn_ctx_db_close(&w.ctx);
    ck_assert_int_eq(cn_flow_native(&w.ctx, native("ann@example.org", ANN_PW,
                                                   "imap.example.org", 993, NULL), &again,
                                    &reauth), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_int_eq(reauth, 1);
    stored = load_grant(g->id);
    settings = cn_json_load_stored(pool, stored->settings_text);
    ck_assert_str_eq(json_string_value(json_object_get(settings, "label")), "work");
    ck_assert_str_eq(json_string_value(json_object_get(settings, "imap_host")),
                     "imap.example.org");
    ck_assert_str_eq(open_sealed(stored, CN_GRANT_PASSWORD_AAD, stored->refresh_token), ANN_PW);
}
END_TEST

static const struct native_bad_case {
    const char *name, *body, *event;
    int integration, calls;
} native_bad_cases[] = {
    {"a wrong password", "{\"provider\":\"imap\",\"settings\":{\"imap_username\":"
     "\"ann@example.org\",\"imap_password\":\"wrong-pw\",\"imap_host\":\"imap.example.org\"}}",
     "invalid_authentication", 1, 1},
    {"no answer", "{\"provider\":\"imap\",\"settings\":{\"imap_username\":\"ann@example.org\","
     "\"imap_password\":\"" ANN_PW "\",\"imap_host\":\"silent.example\"}}",
     "provider_not_responding", 1, 1},
    {"an untrusted certificate", "{\"provider\":\"imap\",\"settings\":{\"imap_username\":"
     "\"ann@example.org\",\"imap_password\":\"" ANN_PW "\",\"imap_host\":"
     "\"untrusted.example\"}}", "provider_tls_failed", 1, 1},
    {"plain IMAP", "{\"provider\":\"imap\",\"settings\":{\"imap_username\":\"ann@example.org\","
     "\"imap_password\":\"" ANN_PW "\",\"imap_host\":\"imap.example.org\",\"imap_port\":143,"
     "\"imap_security\":\"plain\"}}", "provider_settings_invalid", 1, 0},
    {"no integration", "{\"provider\":\"imap\",\"settings\":{\"imap_username\":"
     "\"ann@example.org\",\"imap_password\":\"" ANN_PW "\",\"imap_host\":\"imap.example.org\"}}",
     "integration_not_found", 0, 0},
    {"no password", "{\"provider\":\"imap\",\"settings\":{\"imap_username\":\"ann@example.org\","
     "\"imap_host\":\"imap.example.org\"}}", "invalid_request_payload", 1, 0},
    {"no host, an unknown domain", "{\"provider\":\"imap\",\"settings\":{\"imap_username\":"
     "\"ann@example.org\",\"imap_password\":\"" ANN_PW "\"}}", "invalid_request_payload", 1, 0},
    {"an unknown field", "{\"provider\":\"imap\",\"settings\":{\"imap_username\":\"a@b.c\","
     "\"imap_password\":\"p\",\"imap_host\":\"h.example\"},\"email\":\"a@b.c\"}",
     "invalid_request_payload", 1, 0},
    {"state not a string", "{\"provider\":\"imap\",\"settings\":{\"imap_username\":\"a@b.c\","
     "\"imap_password\":\"p\",\"imap_host\":\"h.example\"},\"state\":5}",
     "invalid_request_payload", 1, 0},
};

START_TEST(test_native_imap_refused)
{
    const struct native_bad_case *c = &native_bad_cases[_i];
    cn_grant_t *g = NULL;
    int reauth = -1;
    if (c->integration) {
        make_imap_integration();
    }
    ck_assert_int_ne(cn_flow_native(&w.ctx, body_of(c->body), &g, &reauth), APR_SUCCESS);
    CHECK_SEAMS();
    ck_assert_msg(!strcmp(w.ctx.res.event->type, c->event), "%s: %s (%s), expected %s", c->name,
                  w.ctx.res.event->type, w.ctx.res.description, c->event);
    ck_assert_int_eq(w.imap.calls->nelts, c->calls);
    ck_assert_int_eq(grants_stored(), 0);
}
END_TEST

/* Without host and port, the table: the seed's Yahoo example without them. */
START_TEST(test_native_imap_discovered)
{
    cn_grant_t *g = NULL;
    int reauth = -1;
    make_imap_integration();
    ck_assert_msg(cn_flow_native(&w.ctx, body_of("{\"provider\":\"imap\",\"settings\":{"
                                                 "\"imap_username\":\"carol@yahoo.com\","
                                                 "\"imap_password\":\"yahoo-app-password\"}}"),
                                 &g, &reauth) == APR_SUCCESS,
                  "%s", w.ctx.res.description);
    CHECK_SEAMS();
    ck_assert_str_eq(last_call()->req.host, "imap.mail.yahoo.com");
    ck_assert_int_eq(last_call()->req.port, 993);
    ck_assert_str_eq(last_call()->req.security, CN_IMAP_SSL);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(cn_grant_json(pool, load_grant(g->id)), "settings"),
                         "type")), "yahoo");
}
END_TEST

/* ConnectReencrypt re-seals a password under the new first key, with its AAD. */
START_TEST(test_reencrypt_password)
{
    cn_grant_t *g = NULL, *stored;
    unsigned char key[CN_KEY_LEN];
    cn_keyring_t *ring = cn_keyring_make(pool);
    int reauth = -1, count = -1;
    make_imap_integration();
    ck_assert_int_eq(cn_flow_native(&w.ctx, native("ann@example.org", ANN_PW,
                                                   "imap.example.org", 993, NULL), &g, &reauth),
                     APR_SUCCESS);
    ck_assert_int_eq(cn_random_bytes(key, sizeof(key)), APR_SUCCESS);
    ck_assert_int_eq(cn_keyring_add(ring, key, sizeof(key)), APR_SUCCESS);
    ck_assert_int_eq(cn_keyring_add(ring, w.key, sizeof(w.key)), APR_SUCCESS);
    w.ring = ring;
    w.ctx.ring = ring;
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_msg(cn_store_reencrypt(&w.ctx, &count) == APR_SUCCESS, "%s",
                  w.ctx.res.description);
    cn_ctx_db_close(&w.ctx);
    ck_assert_int_eq(count, 1);
    stored = load_grant(g->id);
    ck_assert(!cn_crypto_needs_rekey(ring, stored->refresh_token));
    ck_assert_str_eq(open_sealed(stored, CN_GRANT_PASSWORD_AAD, stored->refresh_token), ANN_PW);
}
END_TEST

static Suite *imap_suite(void)
{
    Suite *s = suite_create("imap");
    TCase *tc = cn_tcase("rules");
    tcase_add_loop_test(tc, test_host_valid, 0, N(host_cases));
    tcase_add_test(tc, test_host_length);
    tcase_add_loop_test(tc, test_outcome_event, 0, N(outcome_cases));
    tcase_add_test(tc, test_imap_events);
    tcase_add_test(tc, test_subject);
    suite_add_tcase(s, tc);

    tc = tcase_create("login");
    tcase_add_checked_fixture(tc, world_setup, world_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_login_outcomes, 0, N(login_cases));
    tcase_add_test(tc, test_login_refusals);
    tcase_add_test(tc, test_login_address_refused);
    tcase_add_loop_test(tc, test_login_check, 0, N(check_cases));
    tcase_add_test(tc, test_login_limits);
    tcase_add_test(tc, test_prove);
    tcase_add_loop_test(tc, test_settings_read, 0, N(read_cases));
    tcase_add_test(tc, test_settings_read_values);
    tcase_add_loop_test(tc, test_login_fill, 0, N(fill_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("native");
    tcase_add_checked_fixture(tc, world_setup, world_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_native_imap);
    tcase_add_test(tc, test_native_imap_patch);
    tcase_add_loop_test(tc, test_native_imap_refused, 0, N(native_bad_cases));
    tcase_add_test(tc, test_native_imap_discovered);
    tcase_add_test(tc, test_reencrypt_password);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rv;
    if (!cn_test_tmpdir_make("imap")) {
        return 2;
    }
    rv = cn_test_main(imap_suite());
    cn_test_tmpdir_remove();
    return rv;
}
