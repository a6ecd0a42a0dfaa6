/* Running prepared statements and transactions over apr_dbd. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_store.h"

const char *cn_db_error(cn_db_t *db, int rv)
{
    const char *e = apr_dbd_error(db->driver, db->handle, rv);
    return e ? e : "unknown database error";
}

static apr_dbd_prepared_t *stmt_get(cn_db_t *db, const char *label)
{
    apr_dbd_prepared_t *st = db->prepared ? apr_hash_get(db->prepared, label,
                                                         APR_HASH_KEY_STRING) : NULL;
    if (!st) {
        db->error = label; /* a statement that was never prepared */
    }
    return st;
}

/* Keep what the driver said, for the log of whoever turns it into an answer. */
static apr_status_t failed(apr_pool_t *pool, cn_db_t *db, const char *what, int rv)
{
    db->error = apr_pstrcat(pool, what, ": ", cn_db_error(db, rv), NULL);
    if (db->failed) {
        db->failed(db, rv);
    }
    return APR_EGENERAL;
}

apr_status_t cn_db_select(apr_pool_t *pool, cn_db_t *db, const char *label, int nargs,
                          const char **args, apr_array_header_t **rows)
{
    apr_dbd_prepared_t *st = stmt_get(db, label);
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv, ncols, i;
    if (!st) {
        return APR_ENOENT;
    }
    /* Random access: the pgsql driver knows its columns only then. */
    rv = apr_dbd_pselect(db->driver, pool, db->handle, &res, st, 1, nargs, args);
    if (rv) {
        return failed(pool, db, label, rv);
    }
    ncols = apr_dbd_num_cols(db->driver, res);
    *rows = apr_array_make(pool, 4, sizeof(cn_row_t *));
    while (apr_dbd_get_row(db->driver, pool, res, &row, -1) == 0) {
        cn_row_t *r = apr_palloc(pool, sizeof(*r));
        r->ncols = ncols;
        r->cols = apr_palloc(pool, sizeof(char *) * (apr_size_t)(ncols ? ncols : 1));
        for (i = 0; i < ncols; ++i) {
            /* The pgsql driver frees its result after the last row, so its
             * values are copied; SQLite's already live in POOL. */
            const char *v = apr_dbd_get_entry(db->driver, row, i);
            r->cols[i] = v && db->pgsql ? apr_pstrdup(pool, v) : v;
        }
        APR_ARRAY_PUSH(*rows, cn_row_t *) = r;
    }
    return APR_SUCCESS;
}

apr_status_t cn_db_exec(apr_pool_t *pool, cn_db_t *db, const char *label, int nargs,
                        const char **args, int *affected)
{
    apr_dbd_prepared_t *st = stmt_get(db, label);
    int n = 0, rv, lock = db->write_lock && !db->trans;
    if (!st) {
        return APR_ENOENT;
    }
    if (lock) {
        apr_global_mutex_lock(db->write_lock);
    }
    rv = apr_dbd_pquery(db->driver, pool, db->handle, &n, st, nargs, args);
    if (lock) {
        apr_global_mutex_unlock(db->write_lock);
    }
    if (affected) {
        *affected = n;
    }
    return rv ? failed(pool, db, label, rv) : APR_SUCCESS;
}

apr_status_t cn_db_begin(apr_pool_t *pool, cn_db_t *db)
{
    int rv;
    db->trans = NULL;
    if (db->write_lock) {
        apr_global_mutex_lock(db->write_lock);
    }
    if ((rv = apr_dbd_transaction_start(db->driver, pool, db->handle, &db->trans))) {
        db->trans = NULL;
        failed(pool, db, "BEGIN", rv);
        if (db->write_lock) {
            apr_global_mutex_unlock(db->write_lock);
        }
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

void cn_db_rollback(cn_db_t *db)
{
    if (db->trans) {
        apr_dbd_transaction_mode_set(db->driver, db->trans, APR_DBD_TRANSACTION_ROLLBACK);
    }
}

apr_status_t cn_db_end(apr_pool_t *pool, cn_db_t *db)
{
    int rv;
    if (!db->trans) {
        return APR_SUCCESS;
    }
    rv = apr_dbd_transaction_end(db->driver, pool, db->trans);
    db->trans = NULL;
    if (db->write_lock) {
        apr_global_mutex_unlock(db->write_lock);
    }
    return rv ? failed(pool, db, "COMMIT", rv) : APR_SUCCESS;
}
