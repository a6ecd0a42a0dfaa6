/* Storage over apr_dbd. The core never opens connections itself: the glue hands
 * it a cn_db_t built from a mod_dbd handle (or, at start-up, from a connection
 * it opened for migration). Every statement the module runs is listed in one
 * table with a fixed label, prepared once by mod_dbd at configuration time. */
#ifndef CN_STORE_H
#define CN_STORE_H

#include <apr_pools.h>
#include <apr_hash.h>
#include <apr_tables.h>
#include <apr_dbd.h>
#include <apr_global_mutex.h>

typedef struct cn_db_t {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_hash_t *prepared; /* label -> apr_dbd_prepared_t * (mod_dbd's) */
    int pgsql;            /* 1 for the pgsql driver, 0 for sqlite3 */
    apr_dbd_transaction_t *trans;
    /* SQLite only: one writer at a time across all of the server's processes.
     * Writers queue on this lock instead of meeting SQLite's busy handler,
     * which sleeps 1-100 ms between tries (and apr_dbd's SQLite driver holds
     * a process-wide mutex while it does). NULL: no serialisation. */
    apr_global_mutex_t *write_lock;
    /* SQLite only: the process's group commit (cn_db_transact). NULL: each
     * transaction on its own. */
    struct cn_db_batch_t *batch;
    void *baton; /* the glue's, for giving the handle back */
    const char *error; /* the last failure: the statement's label and the driver's message */
    /* The glue's, told of every failed statement with the driver's code RV
     * while the handle is still held: it finds out whether the database
     * itself went away (a lost connection) rather than the statement
     * failing. May be NULL. */
    void (*failed)(struct cn_db_t *db, int rv);
} cn_db_t;

typedef struct cn_stmt_def_t {
    const char *label;
    const char *sql; /* apr_dbd format: %s text, %d int, %lld bigint */
} cn_stmt_def_t;

/* The statements to prepare, NULL-terminated. */
const cn_stmt_def_t *cn_store_statements(void);

/* The schema version this build migrates to. */
int cn_store_schema_version(void);

/* Create or migrate the schema (idempotent, safe against concurrent starts).
 * *FROM and *TO report the versions; *ERR a driver message on failure. */
apr_status_t cn_store_migrate(apr_pool_t *pool, cn_db_t *db, int *from, int *to,
                              const char **err);

/* Per-connection settings (SQLite busy timeout); cheap, call on acquire. */
void cn_store_connection_setup(apr_pool_t *pool, cn_db_t *db);

/* SQLite's write-ahead log is copied back into the database by a background
 * checkpoint (cn_store_checkpoint, every second), not by the commit that
 * happens to cross a threshold: that commit would do it inside the write
 * section every writer waits for. A connection checkpoints by itself only
 * when the log reaches this many pages (4 KiB each), in case the background
 * checkpoint stalls. */
#define CN_SQLITE_AUTOCHECKPOINT 16384

/* A passive checkpoint of DB (SQLite; a no-op on PostgreSQL): the log's
 * frames no reader still needs are copied into the database, without
 * blocking readers or writers. LOG_PAGES and DONE_PAGES, when given, tell the
 * log's size and how much of it is in the database now (-1 when unknown). */
apr_status_t cn_store_checkpoint(apr_pool_t *pool, cn_db_t *db, int *log_pages,
                                 int *done_pages, const char **err);

/* A row: NCOLS column values, NULL for SQL NULL. */
typedef struct cn_row_t {
    int ncols;
    const char **cols;
} cn_row_t;

/* Run the prepared statement LABEL with NARGS string arguments; rows as
 * cn_row_t * into *ROWS (may be NULL for statements without results). */
apr_status_t cn_db_select(apr_pool_t *pool, cn_db_t *db, const char *label, int nargs,
                          const char **args, apr_array_header_t **rows);
/* Same for INSERT/UPDATE/DELETE; *AFFECTED gets the row count when given. */
apr_status_t cn_db_exec(apr_pool_t *pool, cn_db_t *db, const char *label, int nargs,
                        const char **args, int *affected);

/* Transactions: begin; then end commits, unless cn_db_rollback was called
 * or a statement failed inside. */
apr_status_t cn_db_begin(apr_pool_t *pool, cn_db_t *db);
void cn_db_rollback(cn_db_t *db);
apr_status_t cn_db_end(apr_pool_t *pool, cn_db_t *db);

/* Group commit (src/core/store/batch.c). A work runs the statements of one
 * transaction on DB (perhaps not the caller's connection: another thread's,
 * in a transaction holding other callers' works too), allocating from POOL
 * (the caller's), and returns nonzero when its statements succeeded, 0 when
 * one failed: then the whole transaction is rolled back, the other works
 * in it included (their callers see the failure too). */
typedef int (*cn_db_work_fn)(cn_db_t *db, void *baton, apr_pool_t *pool);
typedef struct cn_db_batch_t cn_db_batch_t;
typedef struct cn_db_batch_stats_t {
    apr_uint64_t transactions, works, largest;
} cn_db_batch_stats_t;
/* A process's group commit, at most MAX works per transaction; OBSERVE, when
 * given, is told of each transaction and how many works it held (by its
 * leader, outside the batch's lock). */
apr_status_t cn_db_batch_create(apr_pool_t *pool, int max,
                                void (*observe)(void *baton, int works), void *observe_baton,
                                cn_db_batch_t **batch);
void cn_db_batch_stats(cn_db_batch_t *batch, cn_db_batch_stats_t *stats);
/* WORK in a transaction: alone when DB has no batch, else with the works of
 * the process's other callers waiting at the same time. Returns once that
 * transaction has ended: APR_SUCCESS when it committed, else the failure,
 * DB->error saying it, and nothing WORK did is kept. */
apr_status_t cn_db_transact(apr_pool_t *pool, cn_db_t *db, cn_db_work_fn work, void *baton);

/* The driver's last error text (for logs; never holds parameter values). */
const char *cn_db_error(cn_db_t *db, int rv);

#endif
