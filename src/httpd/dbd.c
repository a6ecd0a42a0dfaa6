/* mod_dbd glue: statements registered at configuration time, the schema
 * created or migrated at start-up, a cn_db_t per request. */
#include <unistd.h>
#include <apr_optional.h>

#include "cn_httpd.h"
#include "cn_util.h"

#include <mod_dbd.h>
#include <unixd.h>
#include <util_mutex.h>

static APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *dbd_prepare_fn;
/* One SQLite writer at a time across the server's processes (see
 * cn_db_t.write_lock); its mechanism and file follow "Mutex connect-db". */
#define CN_MUTEX_TYPE "connect-db"
static apr_global_mutex_t *sqlite_write_lock;
static const char *sqlite_write_lock_file;

int cn_dbd_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    return ap_mutex_register(pconf, CN_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0) == APR_SUCCESS
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

void cn_dbd_child_init(apr_pool_t *pchild, server_rec *s)
{
    if (sqlite_write_lock
        && apr_global_mutex_child_init(&sqlite_write_lock, sqlite_write_lock_file, pchild)
               != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     CNLOGNO(00021) "cannot attach to the " CN_MUTEX_TYPE " writer lock");
        sqlite_write_lock = NULL;
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

static cn_db_t *wrap(apr_pool_t *p, ap_dbd_t *h)
{
    cn_db_t *db;
    if (!h) {
        return NULL;
    }
    db = apr_pcalloc(p, sizeof(*db));
    db->driver = h->driver;
    db->handle = h->handle;
    db->prepared = h->prepared;
    db->pgsql = !strcmp(apr_dbd_name(h->driver), "pgsql");
    db->write_lock = db->pgsql ? NULL : sqlite_write_lock;
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
    return wrap(r->pool, dbd_acquire_fn(r));
}

typedef struct open_handle_t {
    server_rec *s;
    apr_pool_t *pool; /* the handle is given back at the latest when it goes */
    ap_dbd_t *h;
} open_handle_t;

static apr_status_t give_back(void *data)
{
    open_handle_t *oh = data;
    if (oh->h) {
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
    oh->h = dbd_open_fn(pool, s);
    if (!oh->h) {
        return NULL;
    }
    /* Given back at the latest when the pool goes (the request ends). */
    apr_pool_cleanup_register(pool, oh, give_back, apr_pool_cleanup_null);
    db = wrap(pool, oh->h);
    db->baton = oh;
    return db;
}

static void close_handle(cn_db_t *db)
{
    if (db && db->baton) {
        open_handle_t *oh = db->baton;
        apr_pool_cleanup_run(oh->pool, oh, give_back);
        db->baton = NULL;
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
