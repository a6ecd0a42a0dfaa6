/* sqlite_floor's exchanges (the shipped layout) through apr_dbd's SQLite
 * driver, as the module runs them: statements prepared once with apr_dbd's
 * formats, selects read row by row into a pool, one pool per exchange, one
 * connection and one thread, nothing else running.
 *
 *   dbd_floor DB BATCH N
 *
 * Beside sqlite_floor's "shipped" line, the difference is what apr_dbd
 * itself adds to the exchange's database part. */
#include <apr_dbd.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "floor.h"

static const apr_dbd_driver_t *driver;
static apr_dbd_t *handle;

static void die(const char *what, int rv)
{
    fprintf(stderr, "dbd_floor: %s: %s\n", what,
            handle ? apr_dbd_error(driver, handle, rv) : "no connection");
    exit(1);
}

static apr_dbd_prepared_t *prepare(apr_pool_t *p, const char *sql)
{
    apr_dbd_prepared_t *st = NULL;
    int rv = apr_dbd_prepare(driver, p, handle, sql, NULL, &st);
    if (rv) {
        die(sql, rv);
    }
    return st;
}

/* A statement whose rows, if any, are discarded (SQLite's PRAGMAs answer some).
 */
static void query(apr_pool_t *p, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv = apr_dbd_select(driver, p, handle, &res, sql, 0);
    if (rv) {
        die(sql, rv);
    }
    while (apr_dbd_get_row(driver, p, res, &row, -1) == 0) {
    }
}

/* The rows of ST (ARGS) read the way the module's cn_db_select does;
 * the first row's columns in COLS (up to 32). */
static int select_rows(apr_pool_t *p, apr_dbd_prepared_t *st, int nargs, const char **args,
                       const char **cols)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rows = 0, rv, i, n;
    if ((rv = apr_dbd_pselect(driver, p, handle, &res, st, 1, nargs, args))) {
        die("a select", rv);
    }
    n = apr_dbd_num_cols(driver, res);
    while (apr_dbd_get_row(driver, p, res, &row, -1) == 0) {
        for (i = 0; i < n && i < 32; ++i) {
            const char *v = apr_dbd_get_entry(driver, row, i);
            if (!rows) {
                cols[i] = v ? apr_pstrdup(p, v) : NULL;
            }
        }
        ++rows;
    }
    return rows;
}

static const char *random_digest(apr_pool_t *p)
{
    static unsigned long long seed = 0x9e3779b97f4a7c15ULL;
    char out[65];
    floor_random_digest(&seed, out);
    return apr_pstrdup(p, out);
}

int main(int argc, char **argv)
{
    apr_pool_t *root, *p;
    apr_dbd_prepared_t *list, *get, *grant, *use, *insert;
    apr_dbd_transaction_t *trans = NULL;
    const char **codes, *cols[32];
    int batch, n, have = 0, i, k, rv;
    apr_time_t wall0, last_checkpoint;
    double cpu0;

    if (argc != 4 || (batch = atoi(argv[2])) < 1 || (n = atoi(argv[3])) < 1) {
        fprintf(stderr, "usage: dbd_floor DB BATCH N\n");
        return 2;
    }
    apr_initialize();
    apr_pool_create(&root, NULL);
    apr_dbd_init(root);
    if ((rv = apr_dbd_get_driver(root, "sqlite3", &driver)) != APR_SUCCESS) {
        fprintf(stderr, "dbd_floor: no apr_dbd sqlite3 driver\n");
        return 1;
    }
    if (apr_dbd_open(driver, root, argv[1], &handle) != APR_SUCCESS) {
        handle = NULL;
        die(argv[1], 0);
    }
    query(root, "PRAGMA journal_mode = WAL");
    query(root, "PRAGMA synchronous = NORMAL");
    query(root, "PRAGMA busy_timeout = 5000");
    query(root, "PRAGMA wal_autocheckpoint = 16384");

    codes = apr_pcalloc(root, sizeof(*codes) * (apr_size_t)n);
    {
        apr_dbd_results_t *res = NULL;
        apr_dbd_row_t *row = NULL;
        list = prepare(root, "SELECT digest FROM oauth_codes WHERE used_at IS NULL ORDER BY rowid");
        if ((rv = apr_dbd_pselect(driver, root, handle, &res, list, 0, 0, NULL))) {
            die("the codes", rv);
        }
        while (apr_dbd_get_row(driver, root, res, &row, -1) == 0) {
            if (have < n) {
                codes[have++] = apr_pstrdup(root, apr_dbd_get_entry(driver, row, 0));
            }
        }
    }
    if (have < n) {
        fprintf(stderr, "dbd_floor: only %d unspent codes\n", have);
        return 1;
    }
    get = prepare(root, "SELECT " CODE_COLS ", used_at FROM oauth_codes WHERE digest = %s");
    grant = prepare(root, "SELECT " GRANT_COLS " FROM grants WHERE id = %s AND app_id = %s");
    use = prepare(root,
                  "UPDATE oauth_codes SET used_at = %lld WHERE digest = %s AND used_at IS NULL");
    insert = prepare(root, "INSERT INTO oauth_tokens (" TOKEN_COLS ") VALUES "
                           "(%s, %s, %s, %s, %s, %s, %d, %lld, %lld, %lld), "
                           "(%s, %s, %s, %s, %s, %s, %d, %lld, %lld, %lld)");

    apr_pool_create(&p, root);
    wall0 = last_checkpoint = apr_time_now();
    cpu0 = floor_cpu(RUSAGE_SELF);
    for (i = 0; i < n; ++i) {
        const char *now = apr_ltoa(p, (long)apr_time_sec(apr_time_now()));
        const char *args[20], *app, *grant_id;
        int changed = 0;
        if (i % batch == 0 && (rv = apr_dbd_transaction_start(driver, root, handle, &trans))) {
            die("BEGIN", rv);
        }
        args[0] = codes[i];
        if (select_rows(p, get, 1, args, cols) != 1) {
            die("the code's row", 0);
        }
        app = cols[1];
        grant_id = cols[2];
        args[0] = grant_id;
        args[1] = app;
        if (select_rows(p, grant, 2, args, cols) != 1) {
            die("the grant's row", 0);
        }
        args[0] = now;
        args[1] = codes[i];
        if ((rv = apr_dbd_pquery(driver, p, handle, &changed, use, 2, args)) || changed != 1) {
            die("spending the code", rv);
        }
        for (k = 0; k < 2; ++k) {
            const char **a = args + 10 * k;
            a[0] = random_digest(p);
            a[1] = k ? "refresh" : "access";
            a[2] = app;
            a[3] = grant_id;
            a[4] = codes[i];
            a[5] = "openid email";
            a[6] = "3600";
            a[7] = now;
            a[8] = apr_ltoa(p, atol(now) + (k ? 30 * 86400 : 3600));
            a[9] = now;
        }
        if ((rv = apr_dbd_pquery(driver, p, handle, &changed, insert, 20, args))) {
            die("storing the tokens", rv);
        }
        if (i % batch == batch - 1 || i == n - 1) {
            if ((rv = apr_dbd_transaction_end(driver, root, trans))) {
                die("COMMIT", rv);
            }
            if (apr_time_now() - last_checkpoint >= apr_time_from_sec(1)) {
                query(p, "PRAGMA wal_checkpoint(PASSIVE)");
                last_checkpoint = apr_time_now();
            }
        }
        apr_pool_clear(p);
    }
    printf("%-10s %d exchanges, %d a transaction, 1 process, through apr_dbd: %.1f us CPU and "
           "%.1f us wall each\n",
           "shipped", n, batch, (floor_cpu(RUSAGE_SELF) - cpu0) / n * 1e6,
           (double)(apr_time_now() - wall0) / n);
    apr_dbd_close(driver, handle);
    apr_terminate();
    return 0;
}
