/* Unit tests of webhooks (src/core/jobs/webhook.c, src/core/model/webhook_delivery.c,
 * the outbox row of cn_event_record) over a real SQLite store, with the
 * time, the randomness and the receiver injected: the signature against
 * vectors made with `openssl dgst -sha256 -hmac`, the backoff window and
 * its jitter, the message in the seed's pub/sub shape written with the
 * event (and only for an application with a webhook), and runs of the
 * delivery: order per grant, retries, giving up after the retry period, an
 * application without a webhook here, the budget, a stop, and what the API
 * shows and requeues. */
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_dbd.h>
#include <openssl/hmac.h>

#include "cn_webhook.h"
#include "cn_model.h"
#include "cn_proto.h"
#include "cn_test.h"
#include "cn_fakes.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define NOW 1700000000
#define SECRET "whsec-test-secret-0123"

/* ---- the world: a store, a receiver, a clock ---------------------------------- */

typedef struct sent_t {
    const char *url, *body, *signature, *delivery, *event;
    apr_int64_t at;
} sent_t;

static struct world_t {
    cn_db_t db;
    cn_test_seams_t s; /* the database and log seams (cn_fakes.h) */
    cn_ctx_t ctx;
    cn_http_t http;
    apr_array_header_t *sent;       /* sent_t */
    const int *answers;              /* HTTP status per request in turn; -1: timeout */
    int nanswers, next_answer, default_answer;
    int took;                        /* seconds an attempt takes on the clock */
    apr_int64_t now;
    apr_uint32_t random;
    int stop_after;                  /* the run is told to stop after this many requests; 0: never */
    apr_hash_t *targets;
    cn_webhook_target_t target;
    cn_webhook_run_t run;
} w;

static const char *header(const cn_http_request_t *req, const char *name)
{
    const char *const *h;
    apr_size_t n = strlen(name);
    for (h = req->headers; h && *h; ++h) {
        if (!strncasecmp(*h, name, n) && (*h)[n] == ':') {
            return apr_pstrdup(pool, *h + n + 2);
        }
    }
    return NULL;
}

/* The receiver: records the request, answers the next scripted status. */
static apr_status_t fake_perform(cn_http_t *http, apr_pool_t *p, const cn_http_request_t *req,
                                 cn_http_response_t *resp)
{
    sent_t *s = apr_array_push(w.sent);
    int answer;
    (void)http;
    (void)p;
    ck_assert_msg(!w.s.held, "a database handle held during an HTTP call");
    ck_assert_str_eq(req->method, "POST");
    ck_assert_str_eq(req->content_type, "application/json");
    ck_assert_int_eq(req->timeout_ms, 2000);
    s->url = apr_pstrdup(pool, req->url);
    s->body = apr_pstrndup(pool, req->body, req->body_len);
    s->signature = header(req, CN_WEBHOOK_SIGNATURE_HEADER);
    s->delivery = header(req, CN_WEBHOOK_DELIVERY_HEADER);
    s->event = header(req, CN_WEBHOOK_EVENT_HEADER);
    s->at = w.now;
    w.now += w.took;
    answer = w.next_answer < w.nanswers ? w.answers[w.next_answer++] : w.default_answer;
    memset(resp, 0, sizeof(*resp));
    if (answer < 0) {
        resp->error = "timed out";
        return APR_TIMEUP;
    }
    resp->status = answer;
    resp->body = "";
    return APR_SUCCESS;
}

static apr_int64_t fake_clock(void *baton)
{
    (void)baton;
    return w.now;
}

static apr_uint32_t fake_random(void *baton)
{
    (void)baton;
    return w.random;
}

static int fake_stopping(void *baton)
{
    (void)baton;
    return w.stop_after && w.sent->nelts >= w.stop_after;
}

static void world_setup(void)
{
    cn_test_pool_setup();
    memset(&w, 0, sizeof(w));
    cn_test_store_open("w", &w.db);
    w.s.log = apr_array_make(pool, 16, sizeof(const char *));
    w.sent = apr_array_make(pool, 16, sizeof(sent_t));
    w.now = NOW;
    w.default_answer = 200;
    w.http.perform = fake_perform;
    w.target.url = "https://hooks.example/in";
    w.target.secret = (const unsigned char *)SECRET;
    w.target.secret_len = strlen(SECRET);
    w.targets = apr_hash_make(pool);
    apr_hash_set(w.targets, "app-one", APR_HASH_KEY_STRING, &w.target);
    w.ctx.pool = pool;
    w.s.db = &w.db;
    w.ctx.dbs.open = cn_test_seam_open;
    w.ctx.dbs.close = cn_test_seam_close;
    w.ctx.dbs.baton = &w.s;
    w.ctx.log.write = cn_test_log_write;
    w.ctx.log.baton = &w.s;
    w.ctx.now = NOW;
    w.ctx.http = &w.http;
    w.ctx.webhooks = w.targets;
    w.run.policy.backoff_min = 10;
    w.run.policy.backoff_max = 40;
    w.run.policy.retry_for = 100;
    w.run.policy.timeout_ms = 2000;
    w.run.policy.batch = 2;
    w.run.policy.budget = 1000;
    w.run.targets = w.targets;
    w.run.clock = fake_clock;
    w.run.random = fake_random;
    w.run.stopping = fake_stopping;
}

static void world_teardown(void)
{
    if (w.db.handle) {
        apr_dbd_close(w.db.driver, w.db.handle);
        w.db.handle = NULL;
    }
    cn_test_pool_teardown();
}

static const char *value_of(const char *q)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;
    int rv = apr_dbd_select(w.db.driver, pool, w.db.handle, &res, q, 0);
    ck_assert_msg(rv == 0, "%s: %s", q, apr_dbd_error(w.db.driver, w.db.handle, rv));
    while (apr_dbd_get_row(w.db.driver, pool, res, &row, -1) == 0) {
        if (!v) {
            const char *e = apr_dbd_get_entry(w.db.driver, row, 0);
            v = apr_pstrdup(pool, e ? e : "NULL");
        }
    }
    return v ? v : "(no row)";
}

static void check_sections(void)
{
    ck_assert_int_eq(w.s.held, 0);
    ck_assert_int_eq(w.s.opens, w.s.closes);
}

/* An event of APP about GRANT (NULL: none) at time AT, as a request records it. */
static void event(const char *app, cn_event_id_t type, const char *grant, apr_int64_t at)
{
    json_t *data = cn_json_own(pool, grant ? json_pack("{s:s,s:s}", "grant_id", grant, "provider",
                                                       "google")
                                           : json_pack("{s:s}", "provider", "google"));
    w.ctx.app_id = app;
    w.ctx.now = at;
    w.ctx.request_id = "req-1";
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_int_eq(cn_event_record(&w.ctx, type, "info", data), APR_SUCCESS);
    cn_ctx_db_close(&w.ctx);
    check_sections();
}

static cn_webhook_counts_t deliver(void)
{
    cn_webhook_counts_t c = {-1, -1, -1};
    w.ctx.app_id = NULL;
    ck_assert_int_eq(cn_webhook_deliver(&w.ctx, &w.run, &c), APR_SUCCESS);
    check_sections();
    return c;
}

static const char *sent_type(int i)
{
    return APR_ARRAY_IDX(w.sent, i, sent_t).event;
}

static const char *sent_grant(int i)
{
    const sent_t *s = &APR_ARRAY_IDX(w.sent, i, sent_t);
    json_t *m = cn_json_parse(pool, s->body, strlen(s->body), NULL);
    ck_assert_ptr_nonnull(m);
    return apr_pstrdup(pool, json_string_value(json_object_get(json_object_get(m, "data"),
                                                               "grant_id")));
}

/* ---- the signature ---------------------------------------------------------- */

static const struct sig_vector {
    const char *secret;
    apr_int64_t t;
    const char *body;
    const char *expect;
} sig_vectors[] = {
    /* printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec-test-secret-0123' */
    {SECRET, 1700000000, "{\"a\":1}",
     "t=1700000000,v1=68d0d2c2b1fd8dd3cf9757f6711713db6c1f8e87bc8e05ae6ebfab6607942326"},
    /* an empty body: the timestamp and the dot are signed all the same */
    {SECRET, 1700000000, "",
     "t=1700000000,v1=f852dbf9af2bac0c47bc6e24f23eec9092a9c7b2be6e75b0602cc5a7b7aa19d1"},
};

START_TEST(test_signature_vectors)
{
    const struct sig_vector *v = &sig_vectors[_i];
    const char *sig = cn_webhook_signature(pool, (const unsigned char *)v->secret,
                                           strlen(v->secret), v->t, v->body, strlen(v->body));
    ck_assert_ptr_nonnull(sig);
    ck_assert_str_eq(sig, v->expect);
}
END_TEST

START_TEST(test_signature_binds_everything)
{
    const char *base = cn_webhook_signature(pool, (const unsigned char *)SECRET, strlen(SECRET),
                                            NOW, "{\"a\":1}", 7);
    ck_assert_str_ne(base, cn_webhook_signature(pool, (const unsigned char *)SECRET,
                                                strlen(SECRET), NOW + 1, "{\"a\":1}", 7));
    ck_assert_str_ne(base, cn_webhook_signature(pool, (const unsigned char *)SECRET,
                                                strlen(SECRET), NOW, "{\"a\":2}", 7));
    ck_assert_str_ne(base, cn_webhook_signature(pool, (const unsigned char *)"another-secret-x",
                                                16, NOW, "{\"a\":1}", 7));
}
END_TEST

/* ---- the backoff -------------------------------------------------------------- */

static const struct backoff_vector {
    int min, max, attempts;
    apr_uint32_t random;
    apr_int64_t expect;
} backoff_vectors[] = {
    {10, 3600, 1, 0, 10},           /* the first retry: the window is MIN itself */
    {10, 3600, 1, 0xffffffffu, 10},
    {10, 3600, 2, 0, 10},           /* window 20: from 10 ... */
    {10, 3600, 2, 10, 20},          /* ... to 20 */
    {10, 3600, 2, 11, 10},          /* (random modulo 11) */
    {10, 3600, 3, 30, 40},          /* window 40 */
    {10, 3600, 9, 2550, 2560},      /* window 2560 */
    {10, 3600, 10, 3590, 3600},     /* window 5120, capped at MAX */
    {10, 3600, 1000000, 3590, 3600}, /* no overflow however many */
    {1, 2, 5, 1, 2},                /* the test configuration's 1 2 */
    {5, 5, 3, 7, 5},                /* MIN = MAX: no jitter */
};

START_TEST(test_backoff_vectors)
{
    const struct backoff_vector *v = &backoff_vectors[_i];
    cn_webhook_policy_t p;
    memset(&p, 0, sizeof(p));
    p.backoff_min = v->min;
    p.backoff_max = v->max;
    ck_assert_int_eq(cn_webhook_backoff(&p, v->attempts, v->random), v->expect);
}
END_TEST

START_TEST(test_backoff_bounds)
{
    cn_webhook_policy_t p;
    int attempts;
    apr_uint32_t r;
    memset(&p, 0, sizeof(p));
    p.backoff_min = 10;
    p.backoff_max = 3600;
    for (attempts = 1; attempts < 40; ++attempts) {
        apr_int64_t window = 10;
        int i;
        for (i = 1; i < attempts && window < 3600; ++i) {
            window *= 2;
        }
        window = window > 3600 ? 3600 : window;
        for (r = 0; r < 100000; r += 997) {
            apr_int64_t d = cn_webhook_backoff(&p, attempts, r * 2654435761u);
            ck_assert_msg(d >= 10 && d <= window, "attempt %d: %lld outside [10, %lld]", attempts,
                          (long long)d, (long long)window);
        }
    }
}
END_TEST

/* ---- the outbox row, written with the event ---------------------------------------- */

START_TEST(test_enqueue_with_event)
{
    const char *body;
    json_t *m;
    event("app-one", CN_EV_GRANT_CREATED, "g1", NOW);
    ck_assert_str_eq(value_of("SELECT COUNT(*) FROM events"), "1");
    ck_assert_str_eq(value_of("SELECT COUNT(*) FROM webhook_deliveries"), "1");
    ck_assert_str_eq(value_of("SELECT status || ' ' || attempts || ' ' || next_attempt_at || ' ' "
                              "|| retry_from || ' ' || grant_key || ' ' || type "
                              "FROM webhook_deliveries"),
                     "pending 0 1700000000 1700000000 g1 grant_created");
    ck_assert_str_eq(value_of("SELECT COUNT(*) FROM webhook_deliveries d JOIN events e "
                              "ON e.log_id = d.log_id"), "1");
    body = value_of("SELECT body FROM webhook_deliveries");
    m = cn_json_parse(pool, body, strlen(body), NULL);
    ck_assert_ptr_nonnull(m);
    /* the seed's pub/sub message, in its order */
    ck_assert_int_eq(json_object_size(m), 8);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "code")), 25012);
    ck_assert_str_eq(json_string_value(json_object_get(m, "type")), "grant_created");
    ck_assert_str_eq(json_string_value(json_object_get(m, "level")), "info");
    ck_assert_str_eq(json_string_value(json_object_get(m, "message")), "Grant created");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "data"), "grant_id")),
                     "g1");
    ck_assert_str_eq(json_string_value(json_object_get(m, "log_id")),
                     value_of("SELECT log_id FROM events"));
    ck_assert_str_eq(json_string_value(json_object_get(m, "request_id")), "req-1");
    ck_assert_int_eq(json_integer_value(json_object_get(m, "time")), NOW);
    ck_assert_ptr_eq(strstr(body, "{\"code\":"), body);

    /* an application without a webhook, and an event of no application */
    event("app-two", CN_EV_GRANT_CREATED, "g2", NOW);
    event(NULL, CN_EV_GRANT_CREATED, "g3", NOW);
    ck_assert_str_eq(value_of("SELECT COUNT(*) FROM events"), "3");
    ck_assert_str_eq(value_of("SELECT COUNT(*) FROM webhook_deliveries"), "1");
    /* an event of no grant keeps the order of the application's other such events */
    event("app-one", CN_EV_HOSTED_LOGIN_STARTED, NULL, NOW);
    ck_assert_str_eq(value_of("SELECT '[' || grant_key || ']' FROM webhook_deliveries "
                              "WHERE type = 'hosted_login_started'"), "[]");
}
END_TEST

START_TEST(test_enqueue_rolls_back_with_event)
{
    /* the outbox row cannot be written: nor is the event */
    apr_dbd_query(w.db.driver, w.db.handle, &(int){0}, "DROP TABLE webhook_deliveries");
    w.ctx.app_id = "app-one";
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_int_ne(cn_event_record(&w.ctx, CN_EV_GRANT_CREATED, "info", NULL), APR_SUCCESS);
    cn_ctx_db_close(&w.ctx);
    ck_assert_str_eq(value_of("SELECT COUNT(*) FROM events"), "0");
}
END_TEST

/* ---- runs ----------------------------------------------------------------------- */

START_TEST(test_deliver_signed_in_order)
{
    cn_webhook_counts_t c;
    int i;
    event("app-one", CN_EV_GRANT_CREATED, "g1", NOW);
    event("app-one", CN_EV_GRANT_CREATED, "g2", NOW);
    event("app-one", CN_EV_GRANT_UPDATED, "g1", NOW);
    event("app-one", CN_EV_GRANT_DELETED, "g1", NOW);
    w.now = NOW + 3;
    c = deliver();
    ck_assert_int_eq(c.delivered, 4);
    ck_assert_int_eq(c.retried + c.failed, 0);
    ck_assert_int_eq(w.sent->nelts, 4);
    /* batches of 2 heads: g1 created, g2 created; then g1 updated; then g1 deleted */
    ck_assert_str_eq(sent_type(0), "grant_created");
    ck_assert_str_eq(sent_grant(0), "g1");
    ck_assert_str_eq(sent_grant(1), "g2");
    ck_assert_str_eq(sent_type(2), "grant_updated");
    ck_assert_str_eq(sent_type(3), "grant_deleted");
    for (i = 0; i < w.sent->nelts; ++i) {
        const sent_t *s = &APR_ARRAY_IDX(w.sent, i, sent_t);
        ck_assert_str_eq(s->url, "https://hooks.example/in");
        ck_assert_str_eq(s->signature,
                         cn_webhook_signature(pool, (const unsigned char *)SECRET, strlen(SECRET),
                                              s->at, s->body, strlen(s->body)));
        ck_assert_int_eq(strlen(s->delivery), 36);
    }
    ck_assert_str_eq(value_of("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered' "
                              "AND attempts = 1 AND last_status = 200 AND last_attempt_at = 1700000003"),
                     "4");
    ck_assert_int_eq(cn_test_logged(&w.s, "CN02001: webhook: "), 4);
    ck_assert_int_eq(cn_test_logged(&w.s, "CN02004: webhook run: 4 delivered, 0 to retry, 0 failed"), 1);
    /* nothing due: nothing sent */
    c = deliver();
    ck_assert_int_eq(c.delivered + c.retried + c.failed, 0);
    ck_assert_int_eq(w.sent->nelts, 4);
}
END_TEST

START_TEST(test_retry_holds_the_grant)
{
    static const int answers[] = {500, 200, 200, -1, 200};
    cn_webhook_counts_t c;
    int due = -1;
    w.answers = answers;
    w.nanswers = N(answers);
    w.random = 25; /* the first wait: window 10, so 10 s */
    event("app-one", CN_EV_GRANT_CREATED, "g1", NOW);
    event("app-one", CN_EV_GRANT_CREATED, "g2", NOW);
    event("app-one", CN_EV_GRANT_UPDATED, "g1", NOW);
    c = deliver();
    /* g1's first fails (500): its update waits; g2's goes */
    ck_assert_int_eq(c.delivered, 1);
    ck_assert_int_eq(c.retried, 1);
    ck_assert_int_eq(w.sent->nelts, 2);
    ck_assert_str_eq(value_of("SELECT status || ' ' || attempts || ' ' || next_attempt_at || ' ' || "
                              "last_status || ' ' || last_error FROM webhook_deliveries "
                              "WHERE grant_key = 'g1' AND type = 'grant_created'"),
                     "pending 1 1700000010 500 HTTP 500");
    ck_assert_int_eq(cn_test_logged(&w.s, "CN02002: webhook: "), 1);
    ck_assert_int_eq(cn_test_logged(&w.s, "(attempt 1: HTTP 500 in 0 ms); next attempt in 10 s"), 1);
    /* not yet due */
    w.now = NOW + 9;
    ck_assert_int_eq(cn_webhook_any_due(&w.ctx, w.now, &due), APR_SUCCESS);
    ck_assert_int_eq(due, 0);
    c = deliver();
    ck_assert_int_eq(w.sent->nelts, 2);
    /* due: the created one, then the update (a timeout: retried, window 10 s) */
    w.now = NOW + 10;
    ck_assert_int_eq(cn_webhook_any_due(&w.ctx, w.now, &due), APR_SUCCESS);
    ck_assert_int_eq(due, 1);
    c = deliver();
    ck_assert_int_eq(c.delivered, 1);
    ck_assert_int_eq(c.retried, 1);
    ck_assert_str_eq(sent_type(2), "grant_created");
    ck_assert_str_eq(sent_type(3), "grant_updated");
    ck_assert_int_eq(cn_test_logged(&w.s, "(attempt 1: timed out in 0 ms)"), 1);
    w.now = NOW + 20;
    c = deliver();
    ck_assert_int_eq(c.delivered, 1);
    ck_assert_str_eq(sent_type(4), "grant_updated");
    ck_assert_str_eq(APR_ARRAY_IDX(w.sent, 3, sent_t).delivery,
                     APR_ARRAY_IDX(w.sent, 4, sent_t).delivery);
    ck_assert_str_eq(value_of("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'"),
                     "3");
    ck_assert_str_eq(value_of("SELECT attempts || ' ' || COALESCE(last_error, 'none') FROM "
                              "webhook_deliveries WHERE type = 'grant_updated'"), "2 none");
}
END_TEST

START_TEST(test_give_up_after_retry_period)
{
    cn_webhook_counts_t c;
    json_t *list = NULL, *again = NULL;
    int rounds = 0;
    w.default_answer = 503;
    w.random = 340; /* the top of each window: 340 % 1, % 11, % 31 */
    event("app-one", CN_EV_GRANT_CREATED, "g1", NOW);
    event("app-one", CN_EV_GRANT_UPDATED, "g1", NOW + 1);
    /* retry_for 100 s: attempts until then, the last one at the end at the latest */
    while (rounds++ < 50) {
        c = deliver();
        if (c.failed) {
            break;
        }
        w.now = apr_atoi64(value_of("SELECT next_attempt_at FROM webhook_deliveries "
                                    "WHERE type = 'grant_created'"));
        ck_assert_int_le(w.now, NOW + 100);
    }
    ck_assert_int_eq(c.failed, 1);
    ck_assert_int_eq(w.now, NOW + 100);
    ck_assert_str_eq(value_of("SELECT status || ' ' || last_status || ' ' || last_error FROM "
                              "webhook_deliveries WHERE type = 'grant_created'"),
                     "failed 503 HTTP 503");
    ck_assert_int_eq(cn_test_logged(&w.s, "CN02003: webhook: "), 1);
    /* the waits grew: 10, 20, 40 (the cap), 40 ... up to the end */
    ck_assert_int_eq(APR_ARRAY_IDX(w.sent, 1, sent_t).at - APR_ARRAY_IDX(w.sent, 0, sent_t).at, 10);
    ck_assert_int_eq(APR_ARRAY_IDX(w.sent, 2, sent_t).at - APR_ARRAY_IDX(w.sent, 1, sent_t).at, 20);
    ck_assert_int_eq(APR_ARRAY_IDX(w.sent, 3, sent_t).at - APR_ARRAY_IDX(w.sent, 2, sent_t).at, 40);
    /* given up, it no longer holds the grant back: the update is tried in the same run */
    ck_assert_str_eq(sent_type(w.sent->nelts - 1), "grant_updated");

    /* what the application sees, and queues again */
    w.ctx.app_id = "app-one";
    w.ctx.now = w.now;
    ck_assert_int_eq(cn_ctx_db_open(&w.ctx), APR_SUCCESS);
    ck_assert_int_eq(cn_webhook_list(&w.ctx, "failed", 10, 0, &list), APR_SUCCESS);
    ck_assert_int_eq(json_array_size(list), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "status")), "failed");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(list, 0), "last_status")), 503);
    ck_assert(json_is_null(json_object_get(json_array_get(list, 0), "next_attempt_at")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(list, 0),
                                                                       "event"), "type")),
                     "grant_created");
    ck_assert_int_eq(cn_webhook_retry(&w.ctx, json_string_value(json_object_get(
                                                  json_array_get(list, 0), "id")), &again),
                     APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(again, "status")), "pending");
    ck_assert_int_ne(cn_webhook_list(&w.ctx, "lost", 10, 0, &list), APR_SUCCESS);
    ck_assert_int_eq(w.ctx.res.event->code, 701);
    ck_assert_int_ne(cn_webhook_retry(&w.ctx, "no-such-id", &again), APR_SUCCESS);
    ck_assert_int_eq(w.ctx.res.event->code, 404);
    w.ctx.app_id = "app-two"; /* another application's: not found */
    ck_assert_int_ne(cn_webhook_retry(&w.ctx, json_string_value(json_object_get(again, "id")),
                                      &again), APR_SUCCESS);
    ck_assert_int_eq(w.ctx.res.event->code, 404);
    cn_ctx_db_close(&w.ctx);
    ck_assert_str_eq(value_of("SELECT retry_from FROM webhook_deliveries WHERE status = 'pending' "
                              "AND type = 'grant_created'"), apr_psprintf(pool, "%" APR_INT64_T_FMT, w.now));
}
END_TEST

START_TEST(test_application_without_webhook_here)
{
    cn_webhook_counts_t c;
    apr_hash_t *none = apr_hash_make(pool);
    event("app-one", CN_EV_GRANT_CREATED, "g1", NOW);
    w.run.targets = none; /* this node's configuration lacks it */
    c = deliver();
    ck_assert_int_eq(w.sent->nelts, 0);
    ck_assert_int_eq(c.retried, 1);
    ck_assert_str_eq(value_of("SELECT attempts || ' ' || next_attempt_at FROM webhook_deliveries"),
                     "0 1700000040");
    w.now = NOW + 100;
    c = deliver();
    ck_assert_int_eq(c.failed, 1);
    ck_assert_str_eq(value_of("SELECT status || ': ' || last_error FROM webhook_deliveries"),
                     "failed: the application has no webhook_url on this server");
}
END_TEST

START_TEST(test_budget_and_stop)
{
    cn_webhook_counts_t c;
    int i;
    for (i = 0; i < 6; ++i) {
        event("app-one", CN_EV_GRANT_UPDATED, apr_psprintf(pool, "g%d", i), NOW);
    }
    /* each attempt takes 4 s of a budget of 10: three are started */
    w.took = 4;
    w.run.policy.budget = 10;
    c = deliver();
    ck_assert_int_eq(c.delivered, 3);
    /* told to stop after the next request */
    w.took = 0;
    w.stop_after = 4;
    c = deliver();
    ck_assert_int_eq(c.delivered, 1);
    w.stop_after = 0;
    c = deliver();
    ck_assert_int_eq(c.delivered, 2);
    ck_assert_str_eq(value_of("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'"),
                     "0");
}
END_TEST

START_TEST(test_purge_keeps_pending)
{
    int n = -1;
    event("app-one", CN_EV_GRANT_CREATED, "g1", NOW);
    event("app-one", CN_EV_GRANT_CREATED, "g2", NOW);
    w.answers = (const int[]){200, 500};
    w.nanswers = 2;
    (void)deliver();
    ck_assert_int_eq(cn_webhook_purge(&w.ctx, NOW + 1, &n), APR_SUCCESS);
    check_sections();
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(value_of("SELECT grant_key || ' ' || status FROM webhook_deliveries"),
                     "g2 pending");
    ck_assert_int_eq(cn_webhook_purge(&w.ctx, NOW + 1000, &n), APR_SUCCESS);
    ck_assert_int_eq(n, 0);
}
END_TEST

static Suite *webhook_suite(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = cn_tcase("signature");
    tcase_add_loop_test(tc, test_signature_vectors, 0, N(sig_vectors));
    tcase_add_test(tc, test_signature_binds_everything);
    tcase_add_loop_test(tc, test_backoff_vectors, 0, N(backoff_vectors));
    tcase_add_test(tc, test_backoff_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("outbox");
    tcase_add_checked_fixture(tc, world_setup, world_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_enqueue_with_event);
    tcase_add_test(tc, test_enqueue_rolls_back_with_event);
    tcase_add_test(tc, test_deliver_signed_in_order);
    tcase_add_test(tc, test_retry_holds_the_grant);
    tcase_add_test(tc, test_give_up_after_retry_period);
    tcase_add_test(tc, test_application_without_webhook_here);
    tcase_add_test(tc, test_budget_and_stop);
    tcase_add_test(tc, test_purge_keeps_pending);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rv;
    if (!cn_test_tmpdir_make("webhook")) {
        return 2;
    }
    rv = cn_test_main(webhook_suite());
    cn_test_tmpdir_remove();
    return rv;
}
