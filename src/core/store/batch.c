/* Group commit for SQLite's writers.
 *
 * On SQLite one writer at a time holds the write lock across all of the
 * server's processes (cn_db_t.write_lock). Every transaction pays for the
 * lock's hand-off between processes, for reading again the pages another
 * connection's commit made stale, and for its commit; under load the
 * requests of one process mostly wait for that lock, one behind the other.
 *
 * cn_db_transact lets them wait together instead: the first caller of a
 * process that finds no transaction running becomes its leader. It takes
 * the writer lock and begins, then takes the works queued by then (its own
 * first, the others' that arrived while it waited for the lock), runs them
 * in one transaction on its own connection, commits once, wakes their
 * callers and hands the lead to the first work still queued, if any. A work
 * fails only when the database does (its checks that refuse a request
 * write nothing), and then the transaction is rolled back for all of them.
 * A caller returns only once the transaction holding its work has committed
 * (or failed), so what it answers is durable as before. */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "cn_store.h"

typedef struct work_t {
    struct work_t *next;
    cn_db_work_fn fn;
    void *baton;
    apr_pool_t *pool; /* the caller's, for what its work allocates */
#if APR_HAS_THREADS
    apr_thread_cond_t *cond; /* its caller waits on it, for DONE or LEAD */
#endif
    int done;
    int lead; /* its caller is to lead the next transaction */
    apr_status_t rv;
    const char *error;
} work_t;

struct cn_db_batch_t {
#if APR_HAS_THREADS
    apr_thread_mutex_t *mutex;
#endif
    work_t *head, **tail;
    int leading; /* a caller leads: it runs a transaction, or is about to */
    int max;     /* works per transaction */
    cn_db_batch_stats_t stats;
    void (*observe)(void *baton, int works);
    void *observe_baton;
};

apr_status_t cn_db_batch_create(apr_pool_t *pool, int max,
                                void (*observe)(void *baton, int works), void *observe_baton,
                                cn_db_batch_t **out)
{
    cn_db_batch_t *b = apr_pcalloc(pool, sizeof(*b));
    *out = NULL;
#if APR_HAS_THREADS
    if (apr_thread_mutex_create(&b->mutex, APR_THREAD_MUTEX_DEFAULT, pool) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
#endif
    b->tail = &b->head;
    b->max = max > 0 ? max : 1;
    b->observe = observe;
    b->observe_baton = observe_baton;
    *out = b;
    return APR_SUCCESS;
}

void cn_db_batch_stats(cn_db_batch_t *b, cn_db_batch_stats_t *stats)
{
#if APR_HAS_THREADS
    apr_thread_mutex_lock(b->mutex);
#endif
    *stats = b->stats;
#if APR_HAS_THREADS
    apr_thread_mutex_unlock(b->mutex);
#endif
}

/* The transaction of the N works from FIRST, on DB, where BEGAN says how
 * cn_db_begin went: each work's rv and error set (none is marked done
 * here). A work that asks for a rollback takes the whole transaction with
 * it: the works after it are not run. */
static void run(apr_pool_t *pool, cn_db_t *db, apr_status_t began, work_t *first, int n)
{
    work_t *w;
    int i;
    const char *error = NULL;
    if (began != APR_SUCCESS) {
        error = db->error ? db->error : "BEGIN failed";
    }
    else {
        for (w = first, i = 0; i < n; w = w->next, ++i) {
            if (!w->fn(db, w->baton, w->pool)) {
                /* DB->error may live in that work's pool: copied now. */
                error = apr_pstrcat(pool, "rolled back: ",
                                    db->error ? db->error : "a statement failed", NULL);
                cn_db_rollback(db);
                break;
            }
        }
        if (cn_db_end(pool, db) != APR_SUCCESS && !error) {
            error = db->error;
        }
    }
    for (w = first, i = 0; i < n; w = w->next, ++i) {
        w->rv = error ? APR_EGENERAL : APR_SUCCESS;
        w->error = error ? apr_pstrdup(w->pool, error) : NULL;
    }
}

/* WORK in a transaction of its own. */
static apr_status_t lone(apr_pool_t *pool, cn_db_t *db, cn_db_work_fn fn, void *baton)
{
    work_t me;
    memset(&me, 0, sizeof(me));
    me.fn = fn;
    me.baton = baton;
    me.pool = pool;
    run(pool, db, cn_db_begin(pool, db), &me, 1);
    if (me.rv != APR_SUCCESS) {
        db->error = me.error;
    }
    return me.rv;
}

apr_status_t cn_db_transact(apr_pool_t *pool, cn_db_t *db, cn_db_work_fn fn, void *baton)
{
#if APR_HAS_THREADS
    cn_db_batch_t *b = db->batch;
    work_t me, *first, *w;
    apr_status_t began;
    int n;
    memset(&me, 0, sizeof(me));
    /* Each caller waits on a condition of its own: woken only when its
     * work is done or it is to lead, never for another's. */
    if (!b || apr_thread_cond_create(&me.cond, pool) != APR_SUCCESS) {
        return lone(pool, db, fn, baton);
    }
    me.fn = fn;
    me.baton = baton;
    me.pool = pool;
    apr_thread_mutex_lock(b->mutex);
    *b->tail = &me;
    b->tail = &me.next;
    if (!b->leading) {
        /* Nobody leads, so the queue held nothing else. */
        b->leading = 1;
        me.lead = 1;
    }
    while (!me.done) {
        if (!me.lead) {
            apr_thread_cond_wait(me.cond, b->mutex);
            continue;
        }
        /* Lead: first the writers' lock and BEGIN (the works that queue
         * while this waits for another process's transaction join this
         * one), then the first MAX works queued: this one is the first. */
        me.lead = 0;
        apr_thread_mutex_unlock(b->mutex);
        began = cn_db_begin(pool, db);
        apr_thread_mutex_lock(b->mutex);
        first = b->head;
        for (w = first, n = 1; n < b->max && w->next; w = w->next) {
            ++n;
        }
        b->head = w->next;
        if (!b->head) {
            b->tail = &b->head;
        }
        w->next = NULL;
        apr_thread_mutex_unlock(b->mutex);
        run(pool, db, began, first, n);
        db->error = NULL; /* it may be in a pool of another caller's */
        if (b->observe) {
            b->observe(b->observe_baton, n);
        }
        apr_thread_mutex_lock(b->mutex);
        /* Under the lock: a caller returns (and its condition goes) only
         * once it sees DONE, which it reads under the lock. */
        for (w = first; w; w = w->next) {
            w->done = 1;
            if (w != &me) {
                apr_thread_cond_signal(w->cond);
            }
        }
        b->stats.transactions++;
        b->stats.works += (apr_uint64_t)n;
        if ((apr_uint64_t)n > b->stats.largest) {
            b->stats.largest = (apr_uint64_t)n;
        }
        /* The first of those still queued leads next. */
        if (b->head) {
            b->head->lead = 1;
            apr_thread_cond_signal(b->head->cond);
        }
        else {
            b->leading = 0;
        }
    }
    apr_thread_mutex_unlock(b->mutex);
    if (me.rv != APR_SUCCESS) {
        db->error = me.error ? me.error : "the transaction failed";
    }
    return me.rv;
#else
    return lone(pool, db, fn, baton);
#endif
}
