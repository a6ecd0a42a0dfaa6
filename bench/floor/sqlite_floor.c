/* The database floor of a code exchange: what SQLite alone costs for the
 * statements POST /token runs for one authorization code, with nothing of
 * the module around them (no apr_dbd, no lock but SQLite's, a warm
 * connection per process, statements prepared once).
 *
 *   sqlite_floor DB BATCH N LAYOUT [PROCESSES]
 *
 * DB is a copy of the benchmark's database (bench/run leaves it in
 * bench/out/db), whose unspent codes it spends: N exchanges, BATCH to a
 * transaction (the group commit's size under load), each one
 *   - the code read by its digest          (cn_code_get)
 *   - its grant read                       (cn_grant_get)
 *   - the code spent                       (cn_code_use)
 *   - the access and refresh tokens stored (cn_token_insert_pair)
 * with the module's settings (WAL, synchronous NORMAL, its autocheckpoint,
 * and a passive checkpoint once a second as the connect-wal job does).
 * Tokens are random 256-bit digests, as the module's are.
 *
 * LAYOUT is where the tokens go:
 *   shipped     oauth_tokens as the schema makes it: the digest as primary
 *               key, indexes on family, grant and expiry
 *   no_digest   a table with the same rows under an integer key (a token
 *               naming its row), the family, grant and expiry indexes kept
 *   family      the same with the family index only
 *   none        no index at all: the least any layout could cost
 * Every layout but shipped starts as a copy of oauth_tokens' rows.
 *
 * PROCESSES (1 unless given) processes share the N exchanges, each on its
 * own connection with its own slice of the codes, as httpd's children do:
 * they take turns at SQLite's one writer lock, and each transaction begins
 * by reading again what the other's commit made stale.
 *
 * It prints the CPU time (user + system, all processes) and the wall time
 * per exchange. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

static sqlite3 *db;

static void die(const char *what)
{
    fprintf(stderr, "sqlite_floor: %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

static void exec(const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        die(sql);
    }
}

static sqlite3_stmt *prepare(const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        die(sql);
    }
    return st;
}

static void step_done(sqlite3_stmt *st, const char *what)
{
    if (sqlite3_step(st) != SQLITE_DONE) {
        die(what);
    }
    sqlite3_reset(st);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* The tokens' digests, each process from a seed of its own. */
static unsigned long long seed = 0x9e3779b97f4a7c15ULL;

/* The layouts: the table the tokens go to and the indexes it gets (every
 * layout but shipped starts as a copy of oauth_tokens' rows). */
static const struct {
    const char *name, *table, *indexes;
} layouts[] = {
    {"shipped", "oauth_tokens", NULL},
    {"no_digest", "floor_tokens",
     "CREATE INDEX floor_tokens_family ON floor_tokens (family);"
     "CREATE INDEX floor_tokens_grant ON floor_tokens (grant_id);"
     "CREATE INDEX floor_tokens_expires ON floor_tokens (expires_at)"},
    {"family", "floor_tokens", "CREATE INDEX floor_tokens_family ON floor_tokens (family)"},
    {"none", "floor_tokens", ""},
};

/* The module's per-connection settings (cn_store_connection_setup). */
static void connection_settings(void)
{
    exec("PRAGMA synchronous = NORMAL");
    exec("PRAGMA busy_timeout = 5000");
    exec("PRAGMA wal_autocheckpoint = 16384");
}

int main(int argc, char **argv)
{
    const char *table = NULL, *indexes = NULL;
    sqlite3_stmt *list, *get, *grant, *use, *insert, *begin, *commit, *checkpoint;
    char **codes, digest[2][65], sql[1024];
    int batch, n, have = 0, i, k, processes = 1, me;
    size_t l;
    double wall0, last_checkpoint;

    if ((argc != 5 && argc != 6) || (batch = atoi(argv[2])) < 1 || (n = atoi(argv[3])) < 1
        || (argc == 6 && (processes = atoi(argv[5])) < 1)) {
        fprintf(stderr, "usage: sqlite_floor DB BATCH N shipped|no_digest|family|none "
                        "[PROCESSES]\n");
        return 2;
    }
    for (l = 0; l < sizeof(layouts) / sizeof(layouts[0]); ++l) {
        if (!strcmp(argv[4], layouts[l].name)) {
            table = layouts[l].table;
            indexes = layouts[l].indexes;
        }
    }
    if (!table) {
        fprintf(stderr, "sqlite_floor: no layout %s\n", argv[4]);
        return 2;
    }
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        die(argv[1]);
    }
    exec("PRAGMA journal_mode = WAL");
    connection_settings();
    if (indexes) {
        exec("CREATE TABLE floor_tokens (id INTEGER PRIMARY KEY, digest TEXT NOT NULL,"
             " kind TEXT NOT NULL, app_id TEXT NOT NULL, grant_id TEXT NOT NULL,"
             " family TEXT NOT NULL, scope TEXT NOT NULL, lifetime INTEGER NOT NULL,"
             " auth_time BIGINT NOT NULL, expires_at BIGINT NOT NULL, rotated_at BIGINT,"
             " created_at BIGINT NOT NULL)");
        exec("INSERT INTO floor_tokens (" TOKEN_COLS ") SELECT " TOKEN_COLS " FROM oauth_tokens");
        exec(indexes);
    }
    exec("PRAGMA wal_checkpoint(TRUNCATE)");

    codes = calloc((size_t)n, sizeof(*codes));
    list = prepare("SELECT digest FROM oauth_codes WHERE used_at IS NULL ORDER BY rowid");
    while (have < n && sqlite3_step(list) == SQLITE_ROW) {
        codes[have++] = strdup((const char *)sqlite3_column_text(list, 0));
    }
    sqlite3_finalize(list);
    if (have < n) {
        fprintf(stderr, "sqlite_floor: only %d unspent codes\n", have);
        return 1;
    }

    sqlite3_close_v2(db);

    wall0 = seconds();
    for (me = 0; me < processes; ++me) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            break;
        }
    }
    if (me == processes) {
        int status, failed = 0;
        while (wait(&status) > 0) {
            failed |= !WIFEXITED(status) || WEXITSTATUS(status);
        }
        if (failed) {
            return 1;
        }
        printf("%-10s %d exchanges, %d a transaction, %d process%s: %.1f us CPU and %.1f us "
               "wall each\n",
               argv[4], n, batch, processes, processes > 1 ? "es" : "",
               floor_cpu(RUSAGE_CHILDREN) / n * 1e6, (seconds() - wall0) / n * 1e6);
        return 0;
    }
    seed += 0x2545f4914f6cdd1dULL * (unsigned long long)(me + 1);
    if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
        die(argv[1]);
    }
    connection_settings();
    get = prepare("SELECT " CODE_COLS ", used_at FROM oauth_codes WHERE digest = ?");
    grant = prepare("SELECT " GRANT_COLS " FROM grants WHERE id = ? AND app_id = ?");
    use = prepare("UPDATE oauth_codes SET used_at = ? WHERE digest = ? AND "
                  "used_at IS NULL");
    snprintf(sql, sizeof(sql),
             "INSERT INTO %s (" TOKEN_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?), "
             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             table);
    insert = prepare(sql);
    begin = prepare("BEGIN IMMEDIATE");
    commit = prepare("COMMIT");
    checkpoint = prepare("PRAGMA wal_checkpoint(PASSIVE)");

    last_checkpoint = seconds();
    /* This process's slice: every PROCESSES-th code from its own. */
    for (i = me, k = 0; i < n; i += processes, ++k) {
        long long now = (long long)time(NULL);
        char app[128], grant_id[128];
        if (k % batch == 0) {
            step_done(begin, "BEGIN");
        }
        sqlite3_bind_text(get, 1, codes[i], -1, SQLITE_STATIC);
        if (sqlite3_step(get) != SQLITE_ROW) {
            die("the code's row");
        }
        snprintf(app, sizeof(app), "%s", (const char *)sqlite3_column_text(get, 1));
        snprintf(grant_id, sizeof(grant_id), "%s", (const char *)sqlite3_column_text(get, 2));
        sqlite3_reset(get);
        sqlite3_bind_text(grant, 1, grant_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(grant, 2, app, -1, SQLITE_STATIC);
        if (sqlite3_step(grant) != SQLITE_ROW) {
            die("the grant's row");
        }
        sqlite3_reset(grant);
        sqlite3_bind_int64(use, 1, now);
        sqlite3_bind_text(use, 2, codes[i], -1, SQLITE_STATIC);
        step_done(use, "spending the code");
        if (sqlite3_changes(db) != 1) {
            die("the code was spent already");
        }
        for (int t = 0; t < 2; ++t) {
            int at = 10 * t;
            floor_random_digest(&seed, digest[t]);
            sqlite3_bind_text(insert, at + 1, digest[t], -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, at + 2, t ? "refresh" : "access", -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, at + 3, app, -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, at + 4, grant_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, at + 5, codes[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(insert, at + 6, "openid email", -1, SQLITE_STATIC);
            sqlite3_bind_int(insert, at + 7, 3600);
            sqlite3_bind_int64(insert, at + 8, now);
            sqlite3_bind_int64(insert, at + 9, now + (t ? 30 * 86400 : 3600));
            sqlite3_bind_int64(insert, at + 10, now);
        }
        step_done(insert, "storing the tokens");
        if (k % batch == batch - 1 || i + processes >= n) {
            step_done(commit, "COMMIT");
            if (seconds() - last_checkpoint >= 1) {
                if (sqlite3_step(checkpoint) != SQLITE_ROW) {
                    die("checkpoint");
                }
                sqlite3_reset(checkpoint);
                last_checkpoint = seconds();
            }
        }
    }
    sqlite3_close_v2(db);
    return 0;
}
