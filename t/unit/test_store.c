/* Unit tests of include/cn_store.h against a real SQLite database opened
 * through apr_dbd (the sqlite3 driver of apr-util), each test on a fresh file
 * in a temporary directory. */

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_dbd.h>
#include <apr_thread_proc.h>

#include "cn_store.h"
#include "cn_test.h"


/* Per-test state (set up in the checked fixture, i.e. in the forked child). */
static const apr_dbd_driver_t *driver;
static apr_dbd_t *handle;
static const char *dbpath;
static cn_db_t db;

static void store_setup(void)
{
    static unsigned counter;
    const char *err = NULL;
    cn_test_pool_setup();
    ck_assert_int_eq(apr_dbd_init(pool), APR_SUCCESS);
    ck_assert_int_eq(apr_dbd_get_driver(pool, "sqlite3", &driver), APR_SUCCESS);
    ck_assert_ptr_nonnull(driver);
    dbpath = apr_psprintf(pool, "%s/t%ld-%u.db", cn_test_tmpdir(), (long)getpid(), ++counter);
    handle = NULL;
    ck_assert_msg(apr_dbd_open_ex(driver, pool, dbpath, &handle, &err) == APR_SUCCESS,
                  "apr_dbd_open %s: %s", dbpath, err ? err : "?");
    ck_assert_ptr_nonnull(handle);
    memset(&db, 0, sizeof(db));
    db.driver = driver;
    db.handle = handle;
    db.prepared = NULL;
    db.pgsql = 0;
}

static void store_teardown(void)
{
    if (handle) {
        apr_dbd_close(driver, handle); /* finalizes the prepared statements */
        handle = NULL;
    }
    cn_test_pool_teardown();
}

/* ---- helpers ----------------------------------------------------------- */

/* Run a query returning rows; the first column of the first row, or NULL. */
static const char *query_value(const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *value = NULL;
    int rv = apr_dbd_select(driver, pool, handle, &res, sql, 0);
    ck_assert_msg(rv == 0, "%s: %s", sql, apr_dbd_error(driver, handle, rv));
    while (apr_dbd_get_row(driver, pool, res, &row, -1) == 0) {
        if (!value) {
            const char *v = apr_dbd_get_entry(driver, row, 0);
            value = v ? apr_pstrdup(pool, v) : "(null)";
        }
    }
    return value;
}

static void migrate_ok(int *from, int *to)
{
    const char *err = NULL;
    apr_status_t rv = cn_store_migrate(pool, &db, from, to, &err);
    ck_assert_msg(rv == APR_SUCCESS, "cn_store_migrate failed: %s", err ? err : "(no message)");
}

/* Migrate and prepare every statement under its label, as mod_dbd would. */
static void migrate_and_prepare(void)
{
    const cn_stmt_def_t *s;
    int from = -1, to = -1;
    migrate_ok(&from, &to);
    db.prepared = apr_hash_make(pool);
    for (s = cn_store_statements(); s->label; ++s) {
        apr_dbd_prepared_t *st = NULL;
        int rv = apr_dbd_prepare(driver, pool, handle, s->sql, s->label, &st);
        ck_assert_msg(rv == 0, "prepare %s: %s", s->label, apr_dbd_error(driver, handle, rv));
        apr_hash_set(db.prepared, s->label, APR_HASH_KEY_STRING, st);
    }
}

static apr_status_t insert_integration(const char *id, const char *app, const char *provider,
                                       const char *secret, const char *created)
{
    const char *args[11];
    int affected = -1;
    apr_status_t rv;
    args[0] = id;
    args[1] = app;
    args[2] = provider;
    args[3] = apr_pstrcat(pool, "Name of ", provider, NULL);
    args[4] = "{\"tenant\":\"common\"}";
    args[5] = secret;
    args[6] = "[\"https://app.example/cb\"]";
    args[7] = "[\"email\",\"profile\"]";
    args[8] = "1209600";
    args[9] = created;
    args[10] = apr_psprintf(pool, "%" APR_INT64_T_FMT, apr_atoi64(created) + 1);
    rv = cn_db_exec(pool, &db, "cn_integration_insert", 11, args, &affected);
    if (rv == APR_SUCCESS) {
        ck_assert_int_eq(affected, 1);
    }
    return rv;
}

static apr_array_header_t *get_integration(const char *app, const char *provider)
{
    const char *args[2];
    apr_array_header_t *rows = NULL;
    args[0] = app;
    args[1] = provider;
    ck_assert_int_eq(cn_db_select(pool, &db, "cn_integration_get", 2, args, &rows),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(rows);
    return rows;
}

#define ROW(rows, i) APR_ARRAY_IDX((rows), (i), cn_row_t *)

/* ---- schema ------------------------------------------------------------ */

START_TEST(test_schema_version)
{
    ck_assert_int_ge(cn_store_schema_version(), 1);
}
END_TEST

START_TEST(test_migrate_fresh)
{
    int from = -1, to = -1;
    migrate_ok(&from, &to);
    ck_assert_int_eq(from, 0);
    ck_assert_int_eq(to, cn_store_schema_version());
    ck_assert_str_eq(query_value("SELECT count(*) FROM schema_version"), "1");
    ck_assert_str_eq(query_value("SELECT version FROM schema_version"),
                     apr_itoa(pool, cn_store_schema_version()));
    ck_assert_str_eq(query_value("SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                                 " AND name IN ('integrations', 'credentials')"),
                     "2");
}
END_TEST

START_TEST(test_migrate_again_is_noop)
{
    int from = -1, to = -1;
    migrate_ok(&from, &to);
    from = to = -1;
    migrate_ok(&from, &to);
    ck_assert_int_eq(from, cn_store_schema_version());
    ck_assert_int_eq(to, cn_store_schema_version());
    ck_assert_int_eq(from, to);
    ck_assert_str_eq(query_value("SELECT count(*) FROM schema_version"), "1");
}
END_TEST

/* A database whose schema_version table says 0 (a start that died before
 * migrating): the migration runs, and one version row is left. */
START_TEST(test_migrate_from_recorded_zero)
{
    int from = -1, to = -1, n = 0;
    ck_assert_int_eq(apr_dbd_query(driver, handle, &n,
                                   "CREATE TABLE schema_version (version INTEGER NOT NULL)"),
                     0);
    ck_assert_int_eq(apr_dbd_query(driver, handle, &n,
                                   "INSERT INTO schema_version (version) VALUES (0)"),
                     0);
    migrate_ok(&from, &to);
    ck_assert_int_eq(from, 0);
    ck_assert_int_eq(to, cn_store_schema_version());
    ck_assert_str_eq(query_value("SELECT count(*) FROM schema_version"), "1");
    ck_assert_str_eq(query_value("SELECT max(version) FROM schema_version"),
                     apr_itoa(pool, cn_store_schema_version()));
}
END_TEST

/* Migrations run by their numbers, whatever their order in the table and
 * with any gaps between them: a database at 11 gets 12's columns and records
 * 12; one at 12 is left alone. */
START_TEST(test_migrate_across_a_gap)
{
    int from = -1, to = -1, n = 0;
    static const char *const undo_12[] = {
        "ALTER TABLE credentials DROP COLUMN consented_tenant",
        "ALTER TABLE credentials DROP COLUMN consented_at",
        "ALTER TABLE grants DROP COLUMN credential_id",
        "UPDATE schema_version SET version = 11",
        NULL
    };
    const char *const *u;
    ck_assert_int_ge(cn_store_schema_version(), 12);
    migrate_ok(&from, &to);
    for (u = undo_12; *u; ++u) {
        ck_assert_int_eq(apr_dbd_query(driver, handle, &n, *u), 0);
    }
    from = to = -1;
    migrate_ok(&from, &to);
    ck_assert_int_eq(from, 11);
    ck_assert_int_eq(to, cn_store_schema_version());
    ck_assert_str_eq(query_value("SELECT count(*) FROM pragma_table_info('credentials')"
                                 " WHERE name IN ('consented_tenant', 'consented_at')"), "2");
    ck_assert_str_eq(query_value("SELECT count(*) FROM pragma_table_info('grants')"
                                 " WHERE name = 'credential_id'"), "1");
    ck_assert_str_eq(query_value("SELECT version FROM schema_version"),
                     apr_itoa(pool, cn_store_schema_version()));
}
END_TEST

START_TEST(test_migrate_keeps_data)
{
    int from = -1, to = -1;
    migrate_and_prepare();
    ck_assert_int_eq(insert_integration("i1", "app", "google", "s", "100"), APR_SUCCESS);
    migrate_ok(&from, &to);
    ck_assert_int_eq(from, to);
    ck_assert_str_eq(query_value("SELECT count(*) FROM integrations"), "1");
}
END_TEST

START_TEST(test_journal_mode_wal)
{
    int from = -1, to = -1;
    migrate_ok(&from, &to);
    ck_assert_str_eq(query_value("PRAGMA journal_mode"), "wal");
}
END_TEST

/* SQLite's default is to fail at once on a locked database; after the
 * per-connection setup a writer waits (the length is the core's choice). */
START_TEST(test_connection_setup_busy_timeout)
{
    ck_assert_str_eq(query_value("PRAGMA busy_timeout"), "0");
    cn_store_connection_setup(pool, &db);
    ck_assert_int_gt(atoi(query_value("PRAGMA busy_timeout")), 0);
}
END_TEST

/* Commits leave the log to the background checkpoint: a connection copies
 * it back by itself only past CN_SQLITE_AUTOCHECKPOINT pages. */
START_TEST(test_connection_setup_autocheckpoint)
{
    cn_store_connection_setup(pool, &db);
    ck_assert_int_eq(atoi(query_value("PRAGMA wal_autocheckpoint")), CN_SQLITE_AUTOCHECKPOINT);
}
END_TEST

/* A passive checkpoint copies every frame of the log into the database and
 * says so; on PostgreSQL it is nothing. */
START_TEST(test_checkpoint)
{
    int from = -1, to = -1, log_pages = -2, done_pages = -2;
    const char *err = NULL;
    migrate_ok(&from, &to);
    cn_store_connection_setup(pool, &db);
    query_value("CREATE TABLE cp (v TEXT)");
    query_value("INSERT INTO cp (v) VALUES ('a')");
    ck_assert_int_eq(cn_store_checkpoint(pool, &db, &log_pages, &done_pages, &err), APR_SUCCESS);
    ck_assert_int_gt(log_pages, 0);
    ck_assert_int_eq(done_pages, log_pages);
    db.pgsql = 1;
    ck_assert_int_eq(cn_store_checkpoint(pool, &db, &log_pages, &done_pages, &err), APR_SUCCESS);
    ck_assert_int_eq(log_pages, -1);
    ck_assert_int_eq(done_pages, -1);
}
END_TEST

START_TEST(test_statements_prepare)
{
    const cn_stmt_def_t *s, *t;
    int n = 0, from = -1, to = -1;
    migrate_ok(&from, &to);
    for (s = cn_store_statements(); s->label; ++s, ++n) {
        apr_dbd_prepared_t *st = NULL;
        int rv;
        ck_assert_ptr_nonnull(s->sql);
        ck_assert_msg(*s->label && *s->sql, "empty label or statement at %d", n);
        for (t = s + 1; t->label; ++t) {
            ck_assert_msg(strcmp(s->label, t->label) != 0, "label %s listed twice", s->label);
        }
        rv = apr_dbd_prepare(driver, pool, handle, s->sql, s->label, &st);
        ck_assert_msg(rv == 0, "prepare %s (%s): %s", s->label, s->sql,
                      apr_dbd_error(driver, handle, rv));
        ck_assert_ptr_nonnull(st);
    }
    ck_assert_int_gt(n, 0);
}
END_TEST

/* The statements must fail to prepare without the schema: proves that the
 * test above prepares against the migrated tables. */
START_TEST(test_statements_need_schema)
{
    apr_dbd_prepared_t *st = NULL;
    const cn_stmt_def_t *s = cn_store_statements();
    ck_assert_ptr_nonnull(s->label);
    ck_assert_int_ne(apr_dbd_prepare(driver, pool, handle, s->sql, s->label, &st), 0);
}
END_TEST

/* ---- statements -------------------------------------------------------- */

START_TEST(test_insert_select_roundtrip)
{
    apr_array_header_t *rows;
    cn_row_t *r;
    const char *args[11] = {"int-1",
                            "app-1",
                            "google",
                            "My Google",
                            "{\"client_id\":\"abc\"}",
                            "cn1.0123abcd.c2VjcmV0",
                            "[\"https://app.example/cb\"]",
                            "[\"openid\",\"email\"]",
                            "1209600",
                            "1700000000",
                            "1700000001"};
    int affected = -1, i;

    migrate_and_prepare();
    ck_assert_int_eq(cn_db_exec(pool, &db, "cn_integration_insert", 11, args, &affected),
                     APR_SUCCESS);
    ck_assert_int_eq(affected, 1);

    rows = get_integration("app-1", "google");
    ck_assert_int_eq(rows->nelts, 1);
    r = ROW(rows, 0);
    ck_assert_int_eq(r->ncols, 11);
    for (i = 0; i < 11; ++i) {
        ck_assert_msg(r->cols[i] != NULL, "column %d is NULL", i);
        ck_assert_str_eq(r->cols[i], args[i]);
    }

    /* other application, other provider: nothing */
    ck_assert_int_eq(get_integration("app-2", "google")->nelts, 0);
    ck_assert_int_eq(get_integration("app-1", "microsoft")->nelts, 0);

    /* UNIQUE (app_id, provider) */
    args[0] = "int-2";
    ck_assert_int_ne(cn_db_exec(pool, &db, "cn_integration_insert", 11, args, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(get_integration("app-1", "google")->nelts, 1);
}
END_TEST

START_TEST(test_null_column_roundtrip)
{
    apr_array_header_t *rows;
    migrate_and_prepare();
    ck_assert_int_eq(insert_integration("int-n", "app-1", "imap", NULL, "5"), APR_SUCCESS);
    rows = get_integration("app-1", "imap");
    ck_assert_int_eq(rows->nelts, 1);
    ck_assert_str_eq(ROW(rows, 0)->cols[0], "int-n");
    ck_assert_ptr_null(ROW(rows, 0)->cols[5]); /* client_secret */
    ck_assert_str_eq(ROW(rows, 0)->cols[9], "5");
}
END_TEST

START_TEST(test_list_limit_offset)
{
    apr_array_header_t *rows = NULL;
    const char *args[3];
    migrate_and_prepare();
    /* inserted out of order: the list is ordered by created_at */
    ck_assert_int_eq(insert_integration("i-b", "app-1", "microsoft", "s", "200"), APR_SUCCESS);
    ck_assert_int_eq(insert_integration("i-c", "app-1", "imap", "s", "300"), APR_SUCCESS);
    ck_assert_int_eq(insert_integration("i-a", "app-1", "google", "s", "100"), APR_SUCCESS);
    ck_assert_int_eq(insert_integration("i-x", "app-2", "google", "s", "50"), APR_SUCCESS);

    args[0] = "app-1";
    args[1] = "2";
    args[2] = "0";
    ck_assert_int_eq(cn_db_select(pool, &db, "cn_integration_list", 3, args, &rows),
                     APR_SUCCESS);
    ck_assert_int_le(rows->nelts, 2);
    ck_assert_int_eq(rows->nelts, 2); /* three rows exist */
    ck_assert_str_eq(ROW(rows, 0)->cols[0], "i-a");
    ck_assert_str_eq(ROW(rows, 1)->cols[0], "i-b");

    args[2] = "2";
    ck_assert_int_eq(cn_db_select(pool, &db, "cn_integration_list", 3, args, &rows),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 1);
    ck_assert_str_eq(ROW(rows, 0)->cols[0], "i-c");

    args[1] = "10";
    args[2] = "0";
    ck_assert_int_eq(cn_db_select(pool, &db, "cn_integration_list", 3, args, &rows),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 3);

    args[0] = "app-2";
    ck_assert_int_eq(cn_db_select(pool, &db, "cn_integration_list", 3, args, &rows),
                     APR_SUCCESS);
    ck_assert_int_eq(rows->nelts, 1);
    ck_assert_str_eq(ROW(rows, 0)->cols[0], "i-x");
}
END_TEST

START_TEST(test_update_delete_affected)
{
    const char *del[2];
    int affected = -1;
    migrate_and_prepare();
    ck_assert_int_eq(insert_integration("i-1", "app-1", "google", "s", "1"), APR_SUCCESS);
    del[0] = "i-1";
    del[1] = "app-other";
    ck_assert_int_eq(cn_db_exec(pool, &db, "cn_integration_delete", 2, del, &affected),
                     APR_SUCCESS);
    ck_assert_int_eq(affected, 0);
    del[1] = "app-1";
    ck_assert_int_eq(cn_db_exec(pool, &db, "cn_integration_delete", 2, del, &affected),
                     APR_SUCCESS);
    ck_assert_int_eq(affected, 1);
    ck_assert_int_eq(get_integration("app-1", "google")->nelts, 0);
}
END_TEST

START_TEST(test_unknown_label)
{
    const char *args[1] = {"x"};
    apr_array_header_t *rows = NULL;
    migrate_and_prepare();
    ck_assert_int_eq(cn_db_select(pool, &db, "cn_no_such_statement", 1, args, &rows),
                     APR_ENOENT);
    ck_assert_int_eq(cn_db_exec(pool, &db, "cn_no_such_statement", 1, args, NULL), APR_ENOENT);
    db.prepared = NULL;
    ck_assert_int_eq(cn_db_exec(pool, &db, "cn_integration_delete", 1, args, NULL), APR_ENOENT);
}
END_TEST

/* ---- transactions ------------------------------------------------------- */

START_TEST(test_transaction_rollback)
{
    migrate_and_prepare();
    ck_assert_int_eq(cn_db_begin(pool, &db), APR_SUCCESS);
    ck_assert_ptr_nonnull(db.trans);
    ck_assert_int_eq(insert_integration("i-r", "app-1", "google", "s", "1"), APR_SUCCESS);
    /* visible inside the transaction */
    ck_assert_int_eq(get_integration("app-1", "google")->nelts, 1);
    cn_db_rollback(&db);
    ck_assert_int_eq(cn_db_end(pool, &db), APR_SUCCESS);
    ck_assert_ptr_null(db.trans);
    ck_assert_int_eq(get_integration("app-1", "google")->nelts, 0);
}
END_TEST

START_TEST(test_transaction_commit)
{
    migrate_and_prepare();
    ck_assert_int_eq(cn_db_begin(pool, &db), APR_SUCCESS);
    ck_assert_int_eq(insert_integration("i-c", "app-1", "google", "s", "1"), APR_SUCCESS);
    ck_assert_int_eq(insert_integration("i-d", "app-1", "imap", "s", "2"), APR_SUCCESS);
    ck_assert_int_eq(cn_db_end(pool, &db), APR_SUCCESS);
    ck_assert_ptr_null(db.trans);
    ck_assert_int_eq(get_integration("app-1", "google")->nelts, 1);
    ck_assert_int_eq(get_integration("app-1", "imap")->nelts, 1);
}
END_TEST

START_TEST(test_transaction_failed_statement_rolls_back)
{
    migrate_and_prepare();
    ck_assert_int_eq(cn_db_begin(pool, &db), APR_SUCCESS);
    ck_assert_int_eq(insert_integration("i-1", "app-1", "google", "s", "1"), APR_SUCCESS);
    /* same (app_id, provider): violates UNIQUE */
    ck_assert_int_ne(insert_integration("i-2", "app-1", "google", "s", "2"), APR_SUCCESS);
    cn_db_end(pool, &db);
    ck_assert_ptr_null(db.trans);
    ck_assert_int_eq(get_integration("app-1", "google")->nelts, 0);
}
END_TEST

START_TEST(test_end_without_begin)
{
    ck_assert_ptr_null(db.trans);
    cn_db_rollback(&db); /* no transaction: nothing to do, no crash */
    ck_assert_int_eq(cn_db_end(pool, &db), APR_SUCCESS);
}
END_TEST


/* ---- group commit (cn_db_transact) ------------------------------------------ */

/* A work of the tests: inserts KEY into table w (or runs SQL instead),
 * after sleeping SLEEP_MS; records the thread's connection it ran on. */
typedef struct work_arg_t {
    const char *key, *sql;
    int sleep_ms;
    apr_dbd_t *ran_on;
} work_arg_t;

static int test_work(cn_db_t *on, void *baton, apr_pool_t *p)
{
    work_arg_t *w = baton;
    int n = 0;
    const char *sql = w->sql ? w->sql : apr_psprintf(p, "INSERT INTO w (k) VALUES ('%s')", w->key);
    w->ran_on = on->handle;
    if (w->sleep_ms) {
        apr_sleep(apr_time_from_msec(w->sleep_ms));
    }
    if (apr_dbd_query(on->driver, on->handle, &n, sql)) {
        on->error = "test statement failed";
        return 0;
    }
    return 1;
}

START_TEST(test_transact_alone)
{
    work_arg_t ok = {"a", NULL, 0, NULL}, bad = {"b", "INSERT INTO nosuch VALUES (1)", 0, NULL};
    int n = 0;
    ck_assert_int_eq(apr_dbd_query(driver, handle, &n, "CREATE TABLE w (k TEXT)"), 0);
    /* no batch: the work alone in its transaction, on the caller's connection */
    ck_assert_int_eq(cn_db_transact(pool, &db, test_work, &ok), APR_SUCCESS);
    ck_assert_ptr_eq(ok.ran_on, handle);
    ck_assert_ptr_null(db.trans);
    ck_assert_str_eq(query_value("SELECT count(*) FROM w"), "1");
    ck_assert_int_ne(cn_db_transact(pool, &db, test_work, &bad), APR_SUCCESS);
    ck_assert_ptr_null(db.trans);
    ck_assert_ptr_nonnull(strstr(db.error, "rolled back: test statement failed"));
    ck_assert_str_eq(query_value("SELECT count(*) FROM w"), "1");
}
END_TEST

#define CALLERS 8

typedef struct caller_t {
    cn_db_t db;
    apr_pool_t *pool;
    work_arg_t arg;
    apr_status_t rv;
    const char *error;
} caller_t;

static void *APR_THREAD_FUNC caller_main(apr_thread_t *t, void *data)
{
    caller_t *c = data;
    c->rv = cn_db_transact(c->pool, &c->db, test_work, &c->arg);
    c->error = c->rv == APR_SUCCESS ? NULL : c->db.error;
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* CALLERS threads, each with its own connection to the test's database and
 * one batch: the first one's work is slow, so that the others queue behind
 * it and share the next transaction. FAIL: the index of a work that fails. */
static void run_callers(caller_t *callers, cn_db_batch_t *batch, int fail)
{
    apr_thread_t *threads[CALLERS];
    apr_status_t trv;
    const char *err = NULL;
    int i, n = 0;
    ck_assert_int_eq(apr_dbd_query(driver, handle, &n, "CREATE TABLE w (k TEXT)"), 0);
    cn_store_connection_setup(pool, &db);
    for (i = 0; i < CALLERS; ++i) {
        caller_t *c = &callers[i];
        memset(c, 0, sizeof(*c));
        ck_assert_int_eq(apr_pool_create(&c->pool, NULL), APR_SUCCESS);
        c->db = db;
        c->db.handle = NULL;
        ck_assert_msg(apr_dbd_open_ex(driver, pool, dbpath, &c->db.handle, &err) == APR_SUCCESS,
                      "apr_dbd_open %s: %s", dbpath, err ? err : "?");
        cn_store_connection_setup(pool, &c->db);
        c->db.batch = batch;
        c->arg.key = apr_psprintf(pool, "k%d", i);
        c->arg.sleep_ms = i == 0 ? 300 : 0;
        c->arg.sql = i == fail ? "INSERT INTO nosuch VALUES (1)" : NULL;
    }
    for (i = 0; i < CALLERS; ++i) {
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, caller_main, &callers[i], pool),
                         APR_SUCCESS);
        if (i == 0) {
            apr_sleep(apr_time_from_msec(50)); /* the first one leads, alone */
        }
    }
    for (i = 0; i < CALLERS; ++i) {
        apr_thread_join(&trv, threads[i]);
    }
    for (i = 0; i < CALLERS; ++i) {
        apr_dbd_close(driver, callers[i].db.handle);
        apr_pool_destroy(callers[i].pool);
    }
}

START_TEST(test_transact_batched)
{
    caller_t callers[CALLERS];
    cn_db_batch_t *batch = NULL;
    cn_db_batch_stats_t st;
    int i, others = 0;
    ck_assert_int_eq(cn_db_batch_create(pool, 64, NULL, NULL, &batch), APR_SUCCESS);
    run_callers(callers, batch, -1);
    for (i = 0; i < CALLERS; ++i) {
        ck_assert_int_eq(callers[i].rv, APR_SUCCESS);
        others += callers[i].arg.ran_on != callers[i].db.handle;
    }
    ck_assert_str_eq(query_value("SELECT count(*) FROM w"), "8");
    ck_assert_str_eq(query_value("SELECT count(DISTINCT k) FROM w"), "8");
    cn_db_batch_stats(batch, &st);
    /* the first alone, the seven that queued behind it together */
    ck_assert_uint_eq(st.works, CALLERS);
    ck_assert_uint_eq(st.transactions, 2);
    ck_assert_uint_eq(st.largest, CALLERS - 1);
    /* six of them ran on the leader's connection */
    ck_assert_int_eq(others, CALLERS - 2);
}
END_TEST

START_TEST(test_transact_batched_failure)
{
    caller_t callers[CALLERS];
    cn_db_batch_t *batch = NULL;
    int i;
    ck_assert_int_eq(cn_db_batch_create(pool, 64, NULL, NULL, &batch), APR_SUCCESS);
    run_callers(callers, batch, 5);
    /* the first, alone, committed; the failure of the sixth took its whole
     * transaction with it, and every caller in it is told */
    ck_assert_int_eq(callers[0].rv, APR_SUCCESS);
    for (i = 1; i < CALLERS; ++i) {
        ck_assert_int_ne(callers[i].rv, APR_SUCCESS);
        ck_assert_ptr_nonnull(callers[i].error);
        ck_assert_msg(strstr(callers[i].error, "rolled back: test statement failed"), "%s",
                      callers[i].error);
    }
    ck_assert_str_eq(query_value("SELECT count(*) FROM w"), "1");
    ck_assert_str_eq(query_value("SELECT k FROM w"), "k0");
}
END_TEST

START_TEST(test_transact_batch_limit)
{
    caller_t callers[CALLERS];
    cn_db_batch_t *batch = NULL;
    cn_db_batch_stats_t st;
    int i;
    /* at most 3 works a transaction: 1, then 3, 3, 1 */
    ck_assert_int_eq(cn_db_batch_create(pool, 3, NULL, NULL, &batch), APR_SUCCESS);
    run_callers(callers, batch, -1);
    for (i = 0; i < CALLERS; ++i) {
        ck_assert_int_eq(callers[i].rv, APR_SUCCESS);
    }
    ck_assert_str_eq(query_value("SELECT count(*) FROM w"), "8");
    cn_db_batch_stats(batch, &st);
    ck_assert_uint_eq(st.works, CALLERS);
    ck_assert_uint_eq(st.largest, 3);
    ck_assert_uint_eq(st.transactions, 4);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc;

    tc = tcase_create("schema");
    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_schema_version);
    tcase_add_test(tc, test_migrate_across_a_gap);
    tcase_add_test(tc, test_migrate_fresh);
    tcase_add_test(tc, test_migrate_again_is_noop);
    tcase_add_test(tc, test_migrate_from_recorded_zero);
    tcase_add_test(tc, test_migrate_keeps_data);
    tcase_add_test(tc, test_journal_mode_wal);
    tcase_add_test(tc, test_connection_setup_busy_timeout);
    tcase_add_test(tc, test_connection_setup_autocheckpoint);
    tcase_add_test(tc, test_checkpoint);
    tcase_add_test(tc, test_statements_prepare);
    tcase_add_test(tc, test_statements_need_schema);
    suite_add_tcase(s, tc);

    tc = tcase_create("statements");
    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_insert_select_roundtrip);
    tcase_add_test(tc, test_null_column_roundtrip);
    tcase_add_test(tc, test_list_limit_offset);
    tcase_add_test(tc, test_update_delete_affected);
    tcase_add_test(tc, test_unknown_label);
    suite_add_tcase(s, tc);

    tc = tcase_create("transactions");
    tcase_add_checked_fixture(tc, store_setup, store_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_transaction_rollback);
    tcase_add_test(tc, test_transaction_commit);
    tcase_add_test(tc, test_transaction_failed_statement_rolls_back);
    tcase_add_test(tc, test_end_without_begin);
    tcase_add_test(tc, test_transact_alone);
    tcase_add_test(tc, test_transact_batched);
    tcase_add_test(tc, test_transact_batched_failure);
    tcase_add_test(tc, test_transact_batch_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rc;
    if (!cn_test_tmpdir_make("store")) {
        return 2;
    }
    rc = cn_test_main(store_suite());
    cn_test_tmpdir_remove();
    return rc;
}
