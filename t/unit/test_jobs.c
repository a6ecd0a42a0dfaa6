/* Unit tests of the background jobs (src/core/jobs) over a real SQLite
 * store, with the time injected in ctx->now (and, for a leased job, the
 * clock seam): a lease is taken when free, refused while another holds it,
 * taken over once it expired, given back by its holder only, kept by a long
 * job until another takes it; the purge deletes what expired before now and events older
 * than the retention, batch after batch, keeps the rest, and logs its counts. */
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_dbd.h>

#include "cn_jobs.h"
#include "cn_test.h"
#include "cn_fakes.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define NOW 1700000000
#define DAY 86400

static struct world_t {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    cn_db_t db;
    cn_test_seams_t s; /* the database and log seams (cn_fakes.h) */
    cn_clock_seam_t clock;   /* a leased job's time: clock_now, moved by each section */
    apr_time_t clock_now;
    apr_interval_time_t section_cost;
    cn_ctx_t ctx;
} w;

static apr_time_t clock_now(void *baton)
{
    (void)baton;
    return w.clock_now;
}

static void clock_sleep(void *baton, apr_interval_time_t t)
{
    (void)baton;
    w.clock_now += t;
}

/* The shared seam (cn_fakes.h), each section costing w.section_cost of
 * the injected clock. */
static apr_status_t seam_open(void *baton, apr_pool_t *p, cn_db_t **db)
{
    w.clock_now += w.section_cost;
    return cn_test_seam_open(baton, p, db);
}

static void world_setup(void)
{

    cn_test_pool_setup();
    memset(&w, 0, sizeof(w));
    cn_test_store_open("j", &w.db);
    w.driver = w.db.driver;
    w.handle = w.db.handle;
    w.s.log = apr_array_make(pool, 16, sizeof(const char *));
    w.ctx.pool = pool;
    w.s.db = &w.db;
    w.ctx.dbs.open = seam_open;
    w.ctx.dbs.close = cn_test_seam_close;
    w.ctx.dbs.baton = &w.s;
    w.ctx.log.write = cn_test_log_write;
    w.ctx.log.baton = &w.s;
    w.ctx.now = NOW;
    w.clock.now = clock_now;
    w.clock.sleep = clock_sleep;
    w.clock_now = apr_time_from_sec(NOW);
    w.ctx.clock = &w.clock;
}

static void world_teardown(void)
{
    if (w.handle) {
        apr_dbd_close(w.driver, w.handle);
        w.handle = NULL;
    }
    cn_test_pool_teardown();
}

static void sql(const char *q)
{
    int n = 0, rv = apr_dbd_query(w.driver, w.handle, &n, q);
    ck_assert_msg(rv == 0, "%s: %s", q, apr_dbd_error(w.driver, w.handle, rv));
}

static const char *value_of(const char *q)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;
    int rv = apr_dbd_select(w.driver, pool, w.handle, &res, q, 0);
    ck_assert_msg(rv == 0, "%s: %s", q, apr_dbd_error(w.driver, w.handle, rv));
    while (apr_dbd_get_row(w.driver, pool, res, &row, -1) == 0) {
        if (!v) {
            const char *e = apr_dbd_get_entry(w.driver, row, 0);
            v = apr_pstrdup(pool, e ? e : "NULL");
        }
    }
    return v ? v : "(no row)";
}

/* Every section closed again. */
static void check_sections(void)
{
    ck_assert_int_eq(w.s.held, 0);
    ck_assert_int_eq(w.s.opens, w.s.closes);
}

/* ---- leases ------------------------------------------------------------------ */

static int take(const char *holder, apr_int64_t now, apr_int64_t ttl)
{
    int taken = -1;
    w.ctx.now = now;
    ck_assert_int_eq(cn_job_lease_take(&w.ctx, "purge", holder, ttl, &taken), APR_SUCCESS);
    check_sections();
    ck_assert(taken == 0 || taken == 1);
    return taken;
}

static const char *holder_row(void)
{
    return value_of("SELECT holder || ' ' || expires_at FROM job_leases WHERE name = 'purge'");
}

/* One lease's life, step by step: who asks, when, what happens, the row after. */
static const struct lease_step {
    const char *what;
    const char *holder;
    apr_int64_t now, ttl;
    int release; /* 1: holder releases instead of taking */
    int taken;
    const char *row;
} lease_steps[] = {
    {"free: the first taker makes the row", "node-a:1", NOW, 60, 0, 1, "node-a:1 1700000060"},
    {"held by another: refused", "node-b:2", NOW + 30, 60, 0, 0, "node-a:1 1700000060"},
    {"held by another, one second before expiry", "node-b:2", NOW + 59, 60, 0, 0,
     "node-a:1 1700000060"},
    {"its holder again: extended", "node-a:1", NOW + 40, 60, 0, 1, "node-a:1 1700000100"},
    {"expired: taken over", "node-b:2", NOW + 100, 60, 0, 1, "node-b:2 1700000160"},
    {"the old holder: refused", "node-a:1", NOW + 101, 60, 0, 0, "node-b:2 1700000160"},
    {"released by one who does not hold it: nothing", "node-a:1", NOW + 102, 0, 1, 0,
     "node-b:2 1700000160"},
    {"released by its holder: free from now", "node-b:2", NOW + 110, 0, 1, 0,
     "node-b:2 1700000110"},
    {"free again: taken at once", "node-a:1", NOW + 110, 60, 0, 1, "node-a:1 1700000170"},
};

START_TEST(test_lease_life)
{
    int i;
    for (i = 0; i < N(lease_steps); ++i) {
        const struct lease_step *st = &lease_steps[i];
        if (st->release) {
            w.ctx.now = st->now;
            ck_assert_int_eq(cn_job_lease_release(&w.ctx, "purge", st->holder), APR_SUCCESS);
            check_sections();
        }
        else {
            ck_assert_msg(take(st->holder, st->now, st->ttl) == st->taken, "%s", st->what);
        }
        ck_assert_msg(!strcmp(holder_row(), st->row), "%s: the row is %s, not %s", st->what,
                      holder_row(), st->row);
    }
    ck_assert_str_eq(value_of("SELECT count(*) FROM job_leases"), "1");
}
END_TEST

/* Leases of different names do not meet. */
START_TEST(test_lease_names)
{
    int taken = 0;
    ck_assert_int_eq(take("node-a:1", NOW, 60), 1);
    ck_assert_int_eq(cn_job_lease_take(&w.ctx, "refresh", "node-b:2", 60, &taken), APR_SUCCESS);
    ck_assert_int_eq(taken, 1);
    ck_assert_str_eq(value_of("SELECT count(*) FROM job_leases"), "2");
}
END_TEST

/* A database that fails: an error, never "taken". */
START_TEST(test_lease_db_failure)
{
    int taken = 7;
    sql("DROP TABLE job_leases");
    ck_assert_int_ne(cn_job_lease_take(&w.ctx, "purge", "node-a:1", 60, &taken), APR_SUCCESS);
    ck_assert_int_eq(taken, 0);
    check_sections();
    ck_assert_int_ne(cn_job_lease_release(&w.ctx, "purge", "node-a:1"), APR_SUCCESS);
    check_sections();
}
END_TEST

/* A long job keeps its lease: renewed only when less than half of it is
 * left (no database section otherwise), refused once another holds it. */
static const struct keep_step {
    const char *what;
    apr_int64_t now;
    const char *taker; /* another node takes the lease first (NULL: none) */
    int held, opens;   /* what the keep says, the sections it opened */
    apr_int64_t until; /* the lease's end as the job knows it */
    const char *row;
} keep_steps[] = {
    {"6 of 10 s left: nothing to do", NOW + 4, NULL, 1, 0, NOW + 10, "node-a:1 1700000010"},
    {"5 of 10 s left: still half", NOW + 5, NULL, 1, 0, NOW + 10, "node-a:1 1700000010"},
    {"4 s left: renewed for 10 s", NOW + 6, NULL, 1, 1, NOW + 16, "node-a:1 1700000016"},
    {"run out and not taken: renewed", NOW + 30, NULL, 1, 1, NOW + 40, "node-a:1 1700000040"},
    {"taken by another after it ran out: lost", NOW + 80, "node-b:2", 0, 1, NOW + 40,
     "node-b:2 1700000090"},
};

START_TEST(test_lease_keep)
{
    cn_job_lease_t l = {"purge", "node-a:1", 10, NOW + 10};
    int i;
    ck_assert_int_eq(take("node-a:1", NOW, 10), 1);
    for (i = 0; i < N(keep_steps); ++i) {
        const struct keep_step *st = &keep_steps[i];
        int held = -1, opens;
        if (st->taker) {
            ck_assert_int_eq(take(st->taker, st->now, 10), 1);
        }
        opens = w.s.opens;
        w.ctx.now = st->now;
        ck_assert_int_eq(cn_job_lease_keep(&w.ctx, &l, &held), APR_SUCCESS);
        check_sections();
        ck_assert_msg(held == st->held, "%s: held %d", st->what, held);
        ck_assert_msg(w.s.opens - opens == st->opens, "%s: %d sections", st->what, w.s.opens - opens);
        ck_assert_msg(l.until == st->until, "%s: until %" APR_INT64_T_FMT, st->what, l.until);
        ck_assert_msg(!strcmp(holder_row(), st->row), "%s: the row is %s", st->what,
                      holder_row());
    }
    ck_assert_int_eq(cn_test_logged(&w.s, "CN02221: job purge: lease renewed"), 2);
    ck_assert_int_eq(cn_test_logged(&w.s, "CN02220: job purge: its lease went to another holder"), 1);
}
END_TEST

/* A database that fails: an error, and the job goes on (held) until the
 * lease runs out. */
START_TEST(test_lease_keep_db_failure)
{
    cn_job_lease_t l = {"purge", "node-a:1", 10, NOW + 1};
    int held = -1;
    apr_hash_set(w.db.prepared, "cn_lease_renew", APR_HASH_KEY_STRING, NULL);
    ck_assert_int_ne(cn_job_lease_keep(&w.ctx, &l, &held), APR_SUCCESS);
    check_sections();
    ck_assert_int_eq(held, 1);
    ck_assert_int_eq(l.until, NOW + 1);
}
END_TEST

/* ---- the purge --------------------------------------------------------------- */

static void add_login(const char *id, apr_int64_t expires_at)
{
    sql(apr_psprintf(pool, "INSERT INTO login_requests (id_digest, app_id, integration_id, "
                           "provider, request, expires_at, created_at, kind) VALUES ('%s', 'app', "
                           "'i1', 'google', '{}', %" APR_INT64_T_FMT ", %d, 'hosted')",
                     id, expires_at, NOW - DAY));
}

static void add_code(const char *id, apr_int64_t expires_at)
{
    sql(apr_psprintf(pool, "INSERT INTO oauth_codes (digest, app_id, grant_id, redirect_uri, "
                           "scope, offline, token_lifetime, auth_time, expires_at, created_at) "
                           "VALUES ('%s', 'app', 'g1', 'https://app.example/cb', 'openid', 0, "
                           "3600, %d, %" APR_INT64_T_FMT ", %d)",
                     id, NOW - DAY, expires_at, NOW - DAY));
}

static void add_token(const char *id, const char *kind, apr_int64_t expires_at)
{
    sql(apr_psprintf(pool, "INSERT INTO oauth_tokens (digest, kind, app_id, grant_id, family, "
                           "scope, lifetime, auth_time, expires_at, created_at) VALUES ('%s', "
                           "'%s', 'app', 'g1', 'f1', 'openid', 3600, %d, %" APR_INT64_T_FMT
                           ", %d)",
                     id, kind, NOW - DAY, expires_at, NOW - DAY));
}

/* A Context.IO connect token: USED_AT 0 until it was used. */
static void add_connect_token(const char *id, apr_int64_t expires_at, apr_int64_t used_at)
{
    sql(apr_psprintf(pool, "INSERT INTO cio_connect_tokens (digest, token, app_id, account_id, "
                           "for_account, email, first_name, last_name, callback_url, options, "
                           "created_at, expires_at, used_at) VALUES ('%s', 'sealed', 'app', '', "
                           "0, '', '', '', 'https://app.example/cb', '{}', %d, %" APR_INT64_T_FMT
                           ", %" APR_INT64_T_FMT ")",
                     id, NOW - DAY, expires_at, used_at));
}

static void add_event(const char *id, apr_int64_t time)
{
    sql(apr_psprintf(pool, "INSERT INTO events (log_id, app_id, code, type, level, message, "
                           "data, time) VALUES ('%s', 'app', 25001, 'grant_created', 'info', "
                           "'m', '{}', %" APR_INT64_T_FMT ")",
                     id, time));
}

static const char *ids(const char *q)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *out = "";
    int rv = apr_dbd_select(w.driver, pool, w.handle, &res, q, 0);
    ck_assert_msg(rv == 0, "%s: %s", q, apr_dbd_error(w.driver, w.handle, rv));
    while (apr_dbd_get_row(w.driver, pool, res, &row, -1) == 0) {
        out = apr_pstrcat(pool, out, *out ? " " : "", apr_dbd_get_entry(w.driver, row, 0), NULL);
    }
    return out;
}

START_TEST(test_purge_boundaries)
{
    cn_purge_counts_t c = {-1, -1, -1, -1, -1};
    /* expired a second ago, expiring now (still good: "expires_at < now"), later */
    add_login("login-old", NOW - 1);
    add_login("login-now", NOW);
    add_login("login-new", NOW + 600);
    add_code("code-old", NOW - 1);
    add_code("code-new", NOW + 60);
    add_token("tok-old-access", "access", NOW - 10);
    add_token("tok-old-refresh", "refresh", NOW - 1);
    add_token("tok-old-id", "id", NOW - 3600); /* of earlier versions */
    add_token("tok-live-access", "access", NOW + 3600);
    add_token("tok-live-refresh", "refresh", NOW + 30 * DAY);
    /* events: the retention is 30 days */
    add_event("ev-31d", NOW - 31 * DAY);
    add_event("ev-30d-1s", NOW - 30 * DAY - 1);
    add_event("ev-30d", NOW - 30 * DAY);
    add_event("ev-1d", NOW - DAY);
    add_event("ev-now", NOW);
    /* connect tokens: unused past their time go; used ones stay */
    add_connect_token("ct-unused-old", NOW - 1, 0);
    add_connect_token("ct-unused-live", NOW + 3600, 0);
    add_connect_token("ct-used-old", NOW - 1, NOW - 7200);

    ck_assert_int_eq(cn_job_purge(&w.ctx, 30, &c), APR_SUCCESS);
    check_sections();
    ck_assert_int_eq(c.logins, 1);
    ck_assert_int_eq(c.codes, 1);
    ck_assert_int_eq(c.tokens, 3);
    ck_assert_int_eq(c.events, 2);
    ck_assert_int_eq(c.connect_tokens, 1);
    ck_assert_str_eq(ids("SELECT digest FROM cio_connect_tokens ORDER BY 1"),
                     "ct-unused-live ct-used-old");
    ck_assert_str_eq(ids("SELECT id_digest FROM login_requests ORDER BY 1"), "login-new login-now");
    ck_assert_str_eq(ids("SELECT digest FROM oauth_codes ORDER BY 1"), "code-new");
    ck_assert_str_eq(ids("SELECT digest FROM oauth_tokens ORDER BY 1"),
                     "tok-live-access tok-live-refresh");
    ck_assert_str_eq(ids("SELECT log_id FROM events ORDER BY 1"), "ev-1d ev-30d ev-now");
    ck_assert_int_eq(cn_test_logged(&w.s, "5 CN01502: purge: 1 expired login requests, 1 codes, 3 tokens and "
                            "2 events older than 30 days deleted; 1 unused connect tokens"), 1);

    /* Nothing left to delete: nothing deleted, an info line. */
    ck_assert_int_eq(cn_job_purge(&w.ctx, 30, &c), APR_SUCCESS);
    ck_assert_int_eq(c.logins + c.codes + c.tokens + c.events, 0);
    ck_assert_int_eq(cn_test_logged(&w.s, "6 CN01502: purge: 0 expired login requests, 0 codes, 0 tokens and "
                            "0 events older than 30 days deleted"), 1);

    /* Two days later with a retention of two days: what is older than NOW goes. */
    w.ctx.now = NOW + 2 * DAY;
    ck_assert_int_eq(cn_job_purge(&w.ctx, 2, &c), APR_SUCCESS);
    ck_assert_int_eq(c.events, 2);
    ck_assert_int_eq(c.logins, 2);
    ck_assert_str_eq(ids("SELECT log_id FROM events ORDER BY 1"), "ev-now");
    ck_assert_str_eq(ids("SELECT id_digest FROM login_requests"), "");
}
END_TEST

/* More rows than a batch: every one goes, in several statements, each its
 * own database section. */
START_TEST(test_purge_batches)
{
    cn_purge_counts_t c;
    int i;
    sql("BEGIN");
    for (i = 0; i < 1234; ++i) {
        add_event(apr_psprintf(pool, "ev-%04d", i), NOW - 40 * DAY + i);
    }
    add_event("ev-keep", NOW - 10);
    sql("COMMIT");
    ck_assert_int_eq(cn_job_purge(&w.ctx, 30, &c), APR_SUCCESS);
    check_sections();
    ck_assert_int_eq(c.events, 1234);
    ck_assert_str_eq(ids("SELECT log_id FROM events"), "ev-keep");
    /* three batches of events (500, 500, 234), one each for the other tables */
    ck_assert_int_eq(w.s.opens, 3 + 4);
}
END_TEST

/* Under a lease: a purge of many batches renews it as it goes, and stops
 * where it is once another node holds it. */
START_TEST(test_purge_leased)
{
    cn_job_lease_t l = {"purge", "node-a:1", 4, NOW + 4};
    cn_purge_counts_t c;
    int i;
    sql("BEGIN");
    for (i = 0; i < 1234; ++i) {
        add_event(apr_psprintf(pool, "ev-%04d", i), NOW - 40 * DAY + i);
    }
    sql("COMMIT");
    ck_assert_int_eq(take("node-a:1", NOW, 4), 1);
    w.section_cost = apr_time_from_sec(1); /* every section takes a second */
    ck_assert_int_eq(cn_job_purge_leased(&w.ctx, 30, CN_PURGE_BATCH, &l, &c), APR_SUCCESS);
    check_sections();
    ck_assert_int_eq(c.events, 1234);
    ck_assert_int_gt(l.until, NOW + 4);
    ck_assert_int_ge(cn_test_logged(&w.s, "CN02221"), 1);
    ck_assert_str_eq(holder_row(), apr_psprintf(pool, "node-a:1 %" APR_INT64_T_FMT, l.until));

    /* another node took it meanwhile: nothing deleted, the run says why */
    sql("BEGIN");
    for (i = 0; i < 10; ++i) {
        add_event(apr_psprintf(pool, "ev-again-%d", i), NOW - 40 * DAY);
    }
    sql("COMMIT");
    sql("UPDATE job_leases SET holder = 'node-b:2'");
    w.clock_now = apr_time_from_sec(l.until - 1);
    w.ctx.now = NOW;
    ck_assert_int_eq(cn_job_purge_leased(&w.ctx, 30, CN_PURGE_BATCH, &l, &c), APR_SUCCESS);
    check_sections();
    ck_assert_int_eq(c.events + c.logins + c.codes + c.tokens, 0);
    ck_assert_str_eq(value_of("SELECT count(*) FROM events"), "10");
    ck_assert_int_eq(cn_test_logged(&w.s, "CN02220"), 1);
    ck_assert_int_eq(cn_test_logged(&w.s, "stopped: the lease was lost"), 1);
}
END_TEST

/* ConnectPurgeBatch: rows per statement as configured, a section each. */
START_TEST(test_purge_batch_size)
{
    cn_purge_counts_t c;
    int i;
    sql("BEGIN");
    for (i = 0; i < 7; ++i) {
        add_login(apr_psprintf(pool, "login-%d", i), NOW - 10 - i);
    }
    add_login("login-keep", NOW + 10);
    sql("COMMIT");
    ck_assert_int_eq(cn_job_purge_batch(&w.ctx, 30, 3, &c), APR_SUCCESS);
    check_sections();
    ck_assert_int_eq(c.logins, 7);
    ck_assert_str_eq(ids("SELECT id_digest FROM login_requests"), "login-keep");
    /* logins in 3 + 3 + 1, then one statement for each other table (codes,
     * tokens, events, connect tokens) */
    ck_assert_int_eq(w.s.opens, 3 + 4);
}
END_TEST

/* A failing statement: an error and a line naming what failed, and the
 * counts so far. */
START_TEST(test_purge_failure)
{
    cn_purge_counts_t c = {-1, -1, -1, -1, -1};
    add_login("login-old", NOW - 1);
    /* the tokens' statement is not there (a DROP TABLE would make SQLite
     * refuse every statement prepared before it) */
    apr_hash_set(w.db.prepared, "cn_job_purge_tokens", APR_HASH_KEY_STRING, NULL);
    ck_assert_int_ne(cn_job_purge(&w.ctx, 30, &c), APR_SUCCESS);
    check_sections();
    ck_assert_int_eq(c.logins, 1);
    ck_assert_int_eq(c.tokens, 0);
    ck_assert_int_eq(cn_test_logged(&w.s, "CN01501: purge: deleting tokens failed"), 1);
    ck_assert_int_eq(cn_test_logged(&w.s, "CN01502"), 0);
}
END_TEST

static Suite *jobs_suite(void)
{
    Suite *s = suite_create("jobs");
    TCase *tc = tcase_create("lease");
    tcase_add_checked_fixture(tc, world_setup, world_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lease_life);
    tcase_add_test(tc, test_lease_names);
    tcase_add_test(tc, test_lease_keep);
    tcase_add_test(tc, test_lease_keep_db_failure);
    tcase_add_test(tc, test_lease_db_failure);
    suite_add_tcase(s, tc);

    tc = tcase_create("purge");
    tcase_add_checked_fixture(tc, world_setup, world_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_purge_boundaries);
    tcase_add_test(tc, test_purge_batches);
    tcase_add_test(tc, test_purge_leased);
    tcase_add_test(tc, test_purge_batch_size);
    tcase_add_test(tc, test_purge_failure);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rv;
    if (!cn_test_tmpdir_make("jobs")) {
        return 2;
    }
    rv = cn_test_main(jobs_suite());
    cn_test_tmpdir_remove();
    return rv;
}
