/* mod_dbd glue: statements registered at configuration time, the schema
 * created or migrated at start-up, a cn_db_t per request. */
#include <stdint.h>
#include <unistd.h>
#include <apr_optional.h>

#include "cn_httpd.h"
#include "cn_util.h"
#include "cn_metrics.h"

#include <mod_dbd.h>
#include <unixd.h>
#include <util_mutex.h>
#include <libpq-fe.h>

static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare_fn;
/* One SQLite writer at a time across the server's processes (see
 * cn_db_t.write_lock); its mechanism and file follow "Mutex connect-db". */
#define CN_MUTEX_TYPE "connect-db"
static apr_global_mutex_t *sqlite_write_lock;
static const char *sqlite_write_lock_file;
/* The child's group commit of SQLite writers (cn_db_transact): under load,
 * the transactions of its threads that queue for the writer lock at the
 * same time share one. */
#define CN_DB_BATCH_MAX 64
static cn_db_batch_t *sqlite_batch;

int cn_dbd_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    return ap_mutex_register(pconf, CN_MUTEX_TYPE, NULL, CN_LOCK_MECH, 0) == APR_SUCCESS
               ? OK
               : HTTP_INTERNAL_SERVER_ERROR;
}

apr_status_t cn_dbd_mutex_create(apr_pool_t *pconf, server_rec *s)
{
    sqlite_write_lock = NULL;
    sqlite_write_lock_file = NULL;
    /* ap_global_mutex_create logs its own failure and sets the permissions
     * the children (running as User) need. */
    return ap_global_mutex_create(&sqlite_write_lock, &sqlite_write_lock_file, CN_MUTEX_TYPE,
                                  NULL, s, pconf, 0);
}

/* Each transaction of the group commit, counted in the metrics. */
static void batch_observed(void *baton, int works)
{
    (void)baton;
    cn_metrics_db_transaction(cn_metrics_shared(), works);
}

void cn_dbd_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (sqlite_write_lock
        && apr_global_mutex_child_init(&sqlite_write_lock, sqlite_write_lock_file, pchild)
               != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     CNLOGNO(00021) "cannot attach to the " CN_MUTEX_TYPE " writer lock");
        sqlite_write_lock = NULL;
    }
    if (cn_db_batch_create(pchild, CN_DB_BATCH_MAX, batch_observed, NULL, &sqlite_batch)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     CNLOGNO(00044) "no group commit: each transaction commits alone");
        sqlite_batch = NULL;
    }
}
static APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;

int cn_dbd_functions_present(void)
{
    dbd_prepare_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    dbd_acquire_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    return dbd_prepare_fn && dbd_acquire_fn && dbd_open_fn && dbd_close_fn;
}

apr_status_t cn_dbd_prepare_all(server_rec *s)
{
    server_rec *vs;
    const cn_stmt_def_t *st;
    for (vs = s; vs; vs = vs->next) {
        for (st = cn_store_statements(); st->label; ++st) {
            dbd_prepare_fn(vs, st->sql, st->label);
        }
    }
    return APR_SUCCESS;
}

/* mod_dbd keeps DBDriver/DBDParams private; read them from the parsed
 * configuration tree (main server level, including <IfModule> and the like). */
static void find_dbd_params(const ap_directive_t *d, const char **driver, const char **params)
{
    for (; d; d = d->next) {
        if (!strcasecmp(d->directive, "DBDriver")) {
            *driver = d->args;
        }
        else if (!strcasecmp(d->directive, "DBDParams")) {
            *params = d->args;
        }
        else if (d->first_child && strcasecmp(d->directive, "<VirtualHost")) {
            find_dbd_params(d->first_child, driver, params);
        }
    }
}

static const char *unquote(apr_pool_t *p, const char *v)
{
    char *w;
    if (!v) {
        return NULL;
    }
    w = ap_getword_conf(p, &v);
    return w;
}

/* Give the SQLite file (and its WAL companions) to the user the children
 * run as, when the parent, started as root, has just created them. */
static void chown_sqlite(apr_pool_t *p, server_rec *s, const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", NULL};
    const char *const *sfx;
    if (geteuid() != 0) {
        return;
    }
    for (sfx = suffixes; *sfx; ++sfx) {
        const char *f = apr_pstrcat(p, path, *sfx, NULL);
        if (access(f, F_OK) == 0
            && chown(f, ap_unixd_config.user_id, ap_unixd_config.group_id) != 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                         CNLOGNO(00011) "cannot give %s to the server's User", f);
        }
    }
}

static apr_status_t prepare_local(apr_pool_t *p, cn_db_t *db, const char **bad)
{
    const cn_stmt_def_t *st;
    db->prepared = apr_hash_make(p);
    for (st = cn_store_statements(); st->label; ++st) {
        apr_dbd_prepared_t *stmt = NULL;
        if (apr_dbd_prepare(db->driver, p, db->handle, st->sql, st->label, &stmt)) {
            *bad = st->label;
            return APR_EGENERAL;
        }
        apr_hash_set(db->prepared, st->label, APR_HASH_KEY_STRING, stmt);
    }
    return APR_SUCCESS;
}

apr_status_t cn_dbd_migrate(apr_pool_t *ptemp, server_rec *s, cn_server_conf_t *sc)
{
    const char *name = NULL, *params = NULL, *err = NULL, *bad = NULL;
    cn_db_t db = {0};
    int from = 0, to = 0;
    apr_status_t rv;

    find_dbd_params(ap_conftree, &name, &params);
    name = unquote(ptemp, name);
    params = unquote(ptemp, params);
    if (!name || !params) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     CNLOGNO(00012) "DBDriver/DBDParams: not configured at server level; "
                     "mod_connect needs a database (sqlite3 or pgsql)");
        return APR_EGENERAL;
    }
    if (strcmp(name, "sqlite3") && strcmp(name, "pgsql")) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     CNLOGNO(00013) "DBDriver: '%s' is not supported (sqlite3, pgsql)", name);
        return APR_EGENERAL;
    }
    if ((rv = apr_dbd_get_driver(ptemp, name, &db.driver)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     CNLOGNO(00014) "DBDriver: cannot load the %s driver", name);
        return APR_EGENERAL;
    }
    if (apr_dbd_open_ex(db.driver, ptemp, params, &db.handle, &err) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     CNLOGNO(00015) "DBDParams: cannot open the %s database: %s", name,
                     err ? err : "no reason given");
        return APR_EGENERAL;
    }
    db.pgsql = !strcmp(name, "pgsql");
    sc->sqlite = !db.pgsql;
    rv = cn_store_migrate(ptemp, &db, &from, &to, &err);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     CNLOGNO(00016) "schema migration failed: %s", err ? err : "unknown");
    }
    else if ((rv = prepare_local(ptemp, &db, &bad)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     CNLOGNO(00017) "statement %s does not prepare: %s", bad,
                     cn_db_error(&db, 1));
    }
    else {
        cn_ctx_t sweep = {0};
        int purged = 0;
        if (from != to) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         CNLOGNO(00018) "schema migrated from version %d to %d", from, to);
        }
        /* What has expired is of no use to anyone: login requests, the OAuth
         * server's codes and tokens. */
        sweep.pool = ptemp;
        sweep.db = &db;
        sweep.ring = sc->ring;
        sweep.now = (apr_int64_t)apr_time_sec(apr_time_now());
        if (cn_oauth_purge(&sweep, &purged) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         CNLOGNO(00023) "purging expired codes and tokens failed: %s",
                         db.error ? db.error : "database error");
        }
        else if (purged) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                         CNLOGNO(00024) "%d expired login requests, codes and tokens purged",
                         purged);
        }
        if (sc->reencrypt == 1) {
            cn_ctx_t ctx = {0};
            int count = 0;
            ctx.pool = ptemp;
            ctx.db = &db;
            ctx.ring = sc->ring;
            rv = cn_store_reencrypt(&ctx, &count);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                             CNLOGNO(00019) "%s: re-encryption failed (%s); nothing was "
                             "changed", CN_DIR_REKEY,
                             ctx.res.description ? ctx.res.description : "database error");
            }
            else {
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                             CNLOGNO(00020) "%s: %d stored secrets re-sealed under the "
                             "first key", CN_DIR_REKEY, count);
            }
        }
    }
    apr_dbd_close(db.driver, db.handle);
    if (!db.pgsql) {
        chown_sqlite(ptemp, s, params);
    }
    return rv;
}

/* ---- the database going away, and coming back ------------------------- */

/* Set on the pool of work (a request's, a job's) that met a database that
 * is not there: its failure is a 503, not an internal error. */
#define CN_DB_UNAVAILABLE_KEY "cn-db-unavailable"
/* On a pooled connection's pool: the PostgreSQL backend its statements were
 * prepared on. */
#define CN_PG_BACKEND_KEY "cn-pg-backend"

static void note_unavailable(apr_pool_t *pool, server_rec *s, const char *why)
{
    void *seen = NULL;
    apr_pool_userdata_get(&seen, CN_DB_UNAVAILABLE_KEY, pool);
    if (!seen) {
        apr_pool_userdata_setn((void *)1, CN_DB_UNAVAILABLE_KEY, NULL, pool);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     CNLOGNO(02300) "the database is unavailable: %s; answering 503", why);
    }
}

int cn_dbd_unavailable(request_rec *r)
{
    void *seen = NULL;
    apr_pool_userdata_get(&seen, CN_DB_UNAVAILABLE_KEY, r->pool);
    return seen != NULL;
}

/* Who holds a handle: the pool it serves and, for a short section of our
 * own (ap_dbd_open), what gives it back. */
typedef struct open_handle_t {
    server_rec *s;
    apr_pool_t *pool; /* the handle is given back at the latest when it goes */
    ap_dbd_t *h;
    int owned;        /* 1: ours to give back (ap_dbd_open); 0: mod_dbd's (acquire) */
} open_handle_t;

/* A statement failed: was it the database that went away? (SQLite's file
 * does not go away; a busy one fails only after apr_dbd's long retries.) */
static void statement_failed(cn_db_t *db, int rv)
{
    open_handle_t *oh = db->baton;
    PGconn *conn;
    (void)rv;
    if (!oh || !db->pgsql) {
        return;
    }
    conn = apr_dbd_native_handle(db->driver, db->handle);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        note_unavailable(oh->pool, oh->s, "the connection to PostgreSQL is lost");
    }
}

/* A connection made again (by mod_dbd's check when it saw it broken, or by
 * pg_ready) is a new session: the statements prepared on the old one are
 * gone. Prepare ours again under the same labels, which is what mod_dbd's
 * prepared statements run by. */
static int pg_prepare_again(server_rec *s, ap_dbd_t *h, int backend)
{
    const cn_stmt_def_t *st;
    int n = 0;
    /* A new session has none; a try that failed half-way may have left some. */
    (void)apr_dbd_query(h->driver, h->handle, &n, "DEALLOCATE ALL");
    for (st = cn_store_statements(); st->label; ++st) {
        apr_dbd_prepared_t *stmt = NULL;
        if (apr_dbd_prepare(h->driver, h->pool, h->handle, st->sql, st->label, &stmt)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         CNLOGNO(02301) "PostgreSQL: statement %s does not prepare again: %s",
                         st->label, apr_dbd_error(h->driver, h->handle, 1));
            return 0;
        }
    }
    apr_pool_userdata_setn((void *)(intptr_t)backend, CN_PG_BACKEND_KEY, NULL, h->pool);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 CNLOGNO(02302) "PostgreSQL: connected again (backend %d), statements prepared "
                 "again", backend);
    return 1;
}

/* A pooled PostgreSQL connection whose server went away (a restart, a
 * failover) looks fine to libpq until it reads from it, so mod_dbd's check
 * passes it: read what is pending without waiting, and make a connection
 * found closed again at once, rather than failing the request that gets it.
 * 0 (with why) when the database is not there. */
static int pg_ready(apr_pool_t *p, server_rec *s, ap_dbd_t *h, const char **why)
{
    PGconn *conn = apr_dbd_native_handle(h->driver, h->handle);
    void *prepared_on = NULL;
    int backend, reset = 0;
    if (!conn) {
        return 1;
    }
    /* Twice: a server that stopped sent its last words (FATAL) before it
     * closed; the first read takes those, the second meets the end. Each
     * returns at once when nothing is pending. */
    if (!PQconsumeInput(conn) || !PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK) {
        /* apr_dbd's check of a broken pgsql connection is PQreset. */
        if (apr_dbd_check_conn(h->driver, p, h->handle) != APR_SUCCESS) {
            *why = "PostgreSQL does not answer";
            return 0;
        }
        reset = 1;
    }
    backend = PQbackendPID(conn);
    apr_pool_userdata_get(&prepared_on, CN_PG_BACKEND_KEY, h->pool);
    if (!prepared_on && !reset) {
        /* First seen, as mod_dbd made it: its statements are there. (mod_dbd
         * makes a connection again only after a use of it failed, i.e. one
         * seen here before.) */
        apr_pool_userdata_setn((void *)(intptr_t)backend, CN_PG_BACKEND_KEY, NULL, h->pool);
        return 1;
    }
    if ((reset || (intptr_t)prepared_on != backend) && !pg_prepare_again(s, h, backend)) {
        *why = "the statements cannot be prepared on a new connection";
        return 0;
    }
    return 1;
}

static cn_db_t *wrap(apr_pool_t *p, open_handle_t *oh)
{
    ap_dbd_t *h = oh->h;
    const char *why = NULL;
    cn_db_t *db;
    if (!h) {
        note_unavailable(p, oh->s, "mod_dbd has no connection");
        return NULL;
    }
    if (!strcmp(apr_dbd_name(h->driver), "pgsql") && !pg_ready(p, oh->s, h, &why)) {
        note_unavailable(p, oh->s, why);
        return NULL;
    }
    db = apr_pcalloc(p, sizeof(*db));
    db->baton = oh;
    db->failed = statement_failed;
    db->driver = h->driver;
    db->handle = h->handle;
    db->prepared = h->prepared;
    db->pgsql = !strcmp(apr_dbd_name(h->driver), "pgsql");
    db->write_lock = db->pgsql ? NULL : sqlite_write_lock;
    db->batch = db->pgsql ? NULL : sqlite_batch;
    /* Per-connection settings once per connection: mark its own pool. */
    if (h->pool) {
        void *done = NULL;
        apr_pool_userdata_get(&done, "cn-connection-setup", h->pool);
        if (!done) {
            cn_store_connection_setup(h->pool, db);
            apr_pool_userdata_setn((void *)1, "cn-connection-setup", NULL, h->pool);
        }
    }
    else {
        cn_store_connection_setup(p, db);
    }
    return db;
}

cn_db_t *cn_dbd_acquire(request_rec *r)
{
    /* mod_dbd gives it back when the request ends. */
    open_handle_t *oh = apr_pcalloc(r->pool, sizeof(*oh));
    oh->s = r->server;
    oh->pool = r->pool;
    oh->h = dbd_acquire_fn(r);
    return wrap(r->pool, oh);
}

static apr_status_t give_back(void *data)
{
    open_handle_t *oh = data;
    if (oh->h && oh->owned) {
        dbd_close_fn(oh->s, oh->h);
        oh->h = NULL;
    }
    return APR_SUCCESS;
}

/* A handle of S's for a short section in POOL (a request's, or a
 * background job's). */
static cn_db_t *open_in(apr_pool_t *pool, server_rec *s)
{
    open_handle_t *oh = apr_pcalloc(pool, sizeof(*oh));
    cn_db_t *db;
    oh->s = s;
    oh->pool = pool;
    oh->owned = 1;
    oh->h = dbd_open_fn(pool, s);
    if (oh->h) {
        /* Given back at the latest when the pool goes (the request ends). */
        apr_pool_cleanup_register(pool, oh, give_back, apr_pool_cleanup_null);
    }
    db = wrap(pool, oh);
    if (!db && oh->h) {
        apr_pool_cleanup_run(pool, oh, give_back);
    }
    return db;
}

static void close_handle(cn_db_t *db)
{
    open_handle_t *oh = db ? db->baton : NULL;
    if (oh && oh->owned && oh->h) {
        apr_pool_cleanup_run(oh->pool, oh, give_back);
    }
}

cn_db_t *cn_dbd_open(request_rec *r)
{
    return open_in(r->pool, r->server);
}

void cn_dbd_close(request_rec *r, cn_db_t *db)
{
    (void)r;
    close_handle(db);
}

/* The core's database seam: short sections on handles of their own. */
static apr_status_t seam_open(void *baton, apr_pool_t *pool, cn_db_t **db)
{
    *db = cn_dbd_open(baton);
    return *db ? APR_SUCCESS : APR_EGENERAL;
}

static void seam_close(void *baton, cn_db_t *db)
{
    cn_dbd_close(baton, db);
}

cn_db_seam_t cn_dbd_seam(request_rec *r)
{
    cn_db_seam_t seam;
    seam.open = seam_open;
    seam.close = seam_close;
    seam.baton = r;
    return seam;
}

/* The same for background work on server S: handles in the job's pool. */
static apr_status_t server_seam_open(void *baton, apr_pool_t *pool, cn_db_t **db)
{
    *db = open_in(pool, baton);
    return *db ? APR_SUCCESS : APR_EGENERAL;
}

static void server_seam_close(void *baton, cn_db_t *db)
{
    (void)baton;
    close_handle(db);
}

cn_db_seam_t cn_dbd_server_seam(server_rec *s)
{
    cn_db_seam_t seam;
    seam.open = server_seam_open;
    seam.close = server_seam_close;
    seam.baton = s;
    return seam;
}
