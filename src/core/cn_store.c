#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_store.h"

/* Columns, in the order the model reads them. */
#define INTEGRATION_COLS \
    "id, app_id, provider, name, settings, client_secret, redirect_uris, scope, " \
    "expires_in, created_at, updated_at"
#define GRANT_COLS \
    "id, app_id, integration_id, provider, email, grant_status, scope, user_agent, ip, state, " \
    "provider_user_id, settings, refresh_token, access_token, access_expires_at, created_at, " \
    "updated_at, subject"
/* What a list shows: no sealed column is read for it. The last, revision, is
 * the list cache's signature: every statement that changes one of the other
 * columns bumps it (cn_grant_reauth, cn_grant_update). */
#define GRANT_PUBLIC_COLS \
    "id, app_id, integration_id, provider, email, grant_status, scope, user_agent, ip, state, " \
    "provider_user_id, created_at, updated_at, revision"
#define GRANT_FILTERS \
    " AND (%s = '' OR grant_status = %s) AND (%s = '' OR ip = %s)" \
    " AND created_at >= %lld AND created_at < %lld"
/* Each list twice: the rows, and only their ids and revisions (enough when
 * every row's rendering is in the cache). */
#define GRANT_LIST_OF(kind, cols, suffix, where, sort, order) \
    {"cn_grant_" kind "_" suffix "_" sort "_" order, \
     "SELECT " cols " FROM grants WHERE app_id = %s" where GRANT_FILTERS \
     " ORDER BY " sort "_at " order ", id " order " LIMIT %d OFFSET %d"}
#define GRANT_LIST(suffix, where, sort, order) \
    GRANT_LIST_OF("list", GRANT_PUBLIC_COLS, suffix, where, sort, order), \
    GRANT_LIST_OF("ids", "id, revision", suffix, where, sort, order)
#define GRANT_LISTS(suffix, where) \
    GRANT_LIST(suffix, where, "created", "desc"), GRANT_LIST(suffix, where, "created", "asc"), \
    GRANT_LIST(suffix, where, "updated", "desc"), GRANT_LIST(suffix, where, "updated", "asc")
#define CREDENTIAL_COLS \
    "id, integration_id, app_id, provider, name, credential_type, credential_data, " \
    "created_at, updated_at"

static const cn_stmt_def_t statements[] = {
    /* integrations */
    {"cn_integration_insert",
     "INSERT INTO integrations (" INTEGRATION_COLS ") VALUES "
     "(%s, %s, %s, %s, %s, %s, %s, %s, %d, %lld, %lld)"},
    {"cn_integration_get",
     "SELECT " INTEGRATION_COLS " FROM integrations WHERE app_id = %s AND provider = %s"},
    {"cn_integration_list",
     "SELECT " INTEGRATION_COLS " FROM integrations WHERE app_id = %s "
     "ORDER BY created_at, id LIMIT %d OFFSET %d"},
    {"cn_integration_update",
     "UPDATE integrations SET name = %s, settings = %s, client_secret = %s, "
     "redirect_uris = %s, scope = %s, expires_in = %d, updated_at = %lld "
     "WHERE id = %s AND app_id = %s"},
    {"cn_integration_delete", "DELETE FROM integrations WHERE id = %s AND app_id = %s"},
    {"cn_integration_providers",
     "SELECT provider FROM integrations WHERE app_id = %s ORDER BY provider"},
    {"cn_integration_all_secrets", "SELECT id, client_secret FROM integrations "
                                   "WHERE client_secret IS NOT NULL"},
    {"cn_integration_set_secret", "UPDATE integrations SET client_secret = %s WHERE id = %s"},
    /* credentials */
    {"cn_credential_insert",
     "INSERT INTO credentials (" CREDENTIAL_COLS ") VALUES "
     "(%s, %s, %s, %s, %s, %s, %s, %lld, %lld)"},
    {"cn_credential_get",
     "SELECT " CREDENTIAL_COLS " FROM credentials WHERE id = %s AND integration_id = %s"},
    {"cn_credential_by_name",
     "SELECT id FROM credentials WHERE integration_id = %s AND name = %s"},
    {"cn_credential_list_created_desc",
     "SELECT " CREDENTIAL_COLS " FROM credentials WHERE integration_id = %s "
     "ORDER BY created_at DESC, id DESC LIMIT %d OFFSET %d"},
    {"cn_credential_list_created_asc",
     "SELECT " CREDENTIAL_COLS " FROM credentials WHERE integration_id = %s "
     "ORDER BY created_at ASC, id ASC LIMIT %d OFFSET %d"},
    {"cn_credential_list_updated_desc",
     "SELECT " CREDENTIAL_COLS " FROM credentials WHERE integration_id = %s "
     "ORDER BY updated_at DESC, id DESC LIMIT %d OFFSET %d"},
    {"cn_credential_list_updated_asc",
     "SELECT " CREDENTIAL_COLS " FROM credentials WHERE integration_id = %s "
     "ORDER BY updated_at ASC, id ASC LIMIT %d OFFSET %d"},
    {"cn_credential_update",
     "UPDATE credentials SET name = %s, credential_data = %s, updated_at = %lld "
     "WHERE id = %s AND integration_id = %s"},
    {"cn_credential_delete", "DELETE FROM credentials WHERE id = %s AND integration_id = %s"},
    {"cn_credential_delete_all", "DELETE FROM credentials WHERE integration_id = %s"},
    {"cn_credential_all_secrets", "SELECT id, credential_data FROM credentials"},
    {"cn_credential_set_secret", "UPDATE credentials SET credential_data = %s WHERE id = %s"},
    /* login requests of the hosted flow (the id is kept only as a digest) */
    {"cn_login_insert",
     "INSERT INTO login_requests (id_digest, app_id, integration_id, provider, request, "
     "expires_at, created_at) VALUES (%s, %s, %s, %s, %s, %lld, %lld)"},
    {"cn_login_get",
     "SELECT id_digest, app_id, integration_id, provider, request, expires_at, used_at "
     "FROM login_requests WHERE id_digest = %s"},
    {"cn_login_use",
     "UPDATE login_requests SET used_at = %lld "
     "WHERE id_digest = %s AND used_at IS NULL AND expires_at > %lld"},
    {"cn_login_callback",
     "UPDATE login_requests SET callback_at = %lld "
     "WHERE id_digest = %s AND used_at IS NOT NULL AND callback_at IS NULL AND expires_at > %lld"},
    {"cn_login_purge", "DELETE FROM login_requests WHERE expires_at < %lld"},
    /* grants */
    {"cn_grant_insert",
     "INSERT INTO grants (" GRANT_COLS ") VALUES "
     "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %lld, %lld, %lld, %s)"},
    {"cn_grant_get", "SELECT " GRANT_COLS " FROM grants WHERE id = %s AND app_id = %s"},
    /* The grant of a provider identity: its subject, or the form a row
     * migrated from schema 4 keeps until its next sign-in (the exact one first). */
    {"cn_grant_by_subject",
     "SELECT " GRANT_COLS " FROM grants WHERE app_id = %s AND provider = %s "
     "AND subject IN (%s, %s) ORDER BY CASE WHEN subject = %s THEN 0 ELSE 1 END LIMIT 1"},
    {"cn_grant_reauth",
     "UPDATE grants SET grant_status = 'valid', scope = %s, user_agent = %s, ip = %s, state = %s, "
     "provider_user_id = %s, refresh_token = %s, access_token = %s, access_expires_at = %lld, "
     "integration_id = %s, updated_at = %lld, email = %s, subject = %s, "
     "revision = revision + 1 WHERE id = %s AND app_id = %s"},
    {"cn_grant_update",
     "UPDATE grants SET scope = %s, settings = %s, refresh_token = %s, updated_at = %lld, "
     "revision = revision + 1 WHERE id = %s AND app_id = %s"},
    {"cn_grant_delete", "DELETE FROM grants WHERE id = %s AND app_id = %s"},
    {"cn_grant_delete_integration", "DELETE FROM grants WHERE integration_id = %s"},
    {"cn_grant_all_refresh", "SELECT id, refresh_token FROM grants WHERE refresh_token IS NOT NULL"},
    {"cn_grant_set_refresh", "UPDATE grants SET refresh_token = %s WHERE id = %s"},
    {"cn_grant_all_access", "SELECT id, access_token FROM grants WHERE access_token IS NOT NULL"},
    {"cn_grant_set_access", "UPDATE grants SET access_token = %s WHERE id = %s"},
    {"cn_grant_all_settings", "SELECT id, settings FROM grants WHERE settings <> '{}'"},
    {"cn_grant_set_settings", "UPDATE grants SET settings = %s WHERE id = %s"},
    GRANT_LISTS("all", ""),
    GRANT_LISTS("provider", " AND provider = %s"),
    GRANT_LISTS("email", " AND email = %s"),
    GRANT_LISTS("provider_email", " AND provider = %s AND email = %s"),
    /* events, in the seed's pub/sub message shape */
    {"cn_event_insert",
     "INSERT INTO events (log_id, app_id, code, type, level, message, data, request_id, time) "
     "VALUES (%s, %s, %d, %s, %s, %s, %s, %s, %lld)"},
    {NULL, NULL}
};

const cn_stmt_def_t *cn_store_statements(void)
{
    return statements;
}

/* Migrations: each step moves the schema from version N-1 to N. The DDL is
 * common to SQLite and PostgreSQL (TEXT, INTEGER, BIGINT). */
typedef struct migration_t {
    int version;
    const char *const *sql;
} migration_t;

static const char *const migration_1[] = {
    "CREATE TABLE integrations ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL,"
    " provider TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " settings TEXT NOT NULL,"
    " client_secret TEXT,"
    " redirect_uris TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " expires_in INTEGER NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " UNIQUE (app_id, provider))",
    "CREATE INDEX integrations_app_created ON integrations (app_id, created_at, id)",
    "CREATE TABLE credentials ("
    " id TEXT PRIMARY KEY,"
    " integration_id TEXT NOT NULL,"
    " app_id TEXT NOT NULL,"
    " provider TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " credential_type TEXT NOT NULL,"
    " credential_data TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " UNIQUE (integration_id, name))",
    "CREATE INDEX credentials_integration_created ON credentials (integration_id, created_at, id)",
    "CREATE INDEX credentials_integration_updated ON credentials (integration_id, updated_at, id)",
    NULL
};

static const char *const migration_2[] = {
    "CREATE TABLE login_requests ("
    " id_digest TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL,"
    " integration_id TEXT NOT NULL,"
    " provider TEXT NOT NULL,"
    " request TEXT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " used_at BIGINT,"
    " created_at BIGINT NOT NULL)",
    "CREATE INDEX login_requests_expires ON login_requests (expires_at)",
    "CREATE TABLE grants ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL,"
    " integration_id TEXT NOT NULL,"
    " provider TEXT NOT NULL,"
    " email TEXT NOT NULL,"
    " grant_status TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " user_agent TEXT,"
    " ip TEXT,"
    " state TEXT,"
    " provider_user_id TEXT,"
    " settings TEXT NOT NULL,"
    " refresh_token TEXT,"
    " access_token TEXT,"
    " access_expires_at BIGINT,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " UNIQUE (app_id, provider, email))",
    "CREATE INDEX grants_app_created ON grants (app_id, created_at, id)",
    "CREATE INDEX grants_app_updated ON grants (app_id, updated_at, id)",
    "CREATE INDEX grants_app_provider_created ON grants (app_id, provider, created_at, id)",
    "CREATE INDEX grants_app_provider_updated ON grants (app_id, provider, updated_at, id)",
    "CREATE INDEX grants_app_email ON grants (app_id, email)",
    "CREATE INDEX grants_app_status ON grants (app_id, grant_status, created_at)",
    "CREATE INDEX grants_app_ip ON grants (app_id, ip)",
    "CREATE INDEX grants_integration ON grants (integration_id)",
    "CREATE TABLE events ("
    " log_id TEXT PRIMARY KEY,"
    " app_id TEXT,"
    " code INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " level TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " data TEXT NOT NULL,"
    " request_id TEXT,"
    " time BIGINT NOT NULL)",
    "CREATE INDEX events_app_time ON events (app_id, time)",
    NULL
};

static const char *const migration_3[] = {
    /* the provider's redirect back is accepted once per login request */
    "ALTER TABLE login_requests ADD COLUMN callback_at BIGINT",
    NULL
};

static const char *const migration_4[] = {
    /* a grant's revision: bumped by every change the API can show */
    "ALTER TABLE grants ADD COLUMN revision BIGINT NOT NULL DEFAULT 0",
    NULL
};

/* A grant belongs to a provider identity, not to an email string: the
 * unique key moves from (app, provider, email) to (app, provider, subject).
 * A table constraint cannot be dropped in SQLite, so the table is rebuilt
 * (the same statements work on PostgreSQL). Existing rows take their
 * provider_user_id as subject: Google's sub, Microsoft's oid, which the next
 * sign-in of the same identity upgrades to tenant/oid. */
#define GRANTS_V5_COLS \
    "id, app_id, integration_id, provider, email, grant_status, scope, user_agent, ip, state, " \
    "provider_user_id, settings, refresh_token, access_token, access_expires_at, created_at, " \
    "updated_at, revision"
static const char *const migration_5[] = {
    "CREATE TABLE grants_v5 ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL,"
    " integration_id TEXT NOT NULL,"
    " provider TEXT NOT NULL,"
    " email TEXT NOT NULL,"
    " grant_status TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " user_agent TEXT,"
    " ip TEXT,"
    " state TEXT,"
    " provider_user_id TEXT,"
    " settings TEXT NOT NULL,"
    " refresh_token TEXT,"
    " access_token TEXT,"
    " access_expires_at BIGINT,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL,"
    " revision BIGINT NOT NULL DEFAULT 0,"
    " subject TEXT,"
    " UNIQUE (app_id, provider, subject))",
    "INSERT INTO grants_v5 (" GRANTS_V5_COLS ", subject) SELECT " GRANTS_V5_COLS
    ", provider_user_id FROM grants",
    "DROP TABLE grants",
    "ALTER TABLE grants_v5 RENAME TO grants",
    "CREATE INDEX grants_app_created ON grants (app_id, created_at, id)",
    "CREATE INDEX grants_app_updated ON grants (app_id, updated_at, id)",
    "CREATE INDEX grants_app_provider_created ON grants (app_id, provider, created_at, id)",
    "CREATE INDEX grants_app_provider_updated ON grants (app_id, provider, updated_at, id)",
    "CREATE INDEX grants_app_email ON grants (app_id, email)",
    "CREATE INDEX grants_app_status ON grants (app_id, grant_status, created_at)",
    "CREATE INDEX grants_app_ip ON grants (app_id, ip)",
    "CREATE INDEX grants_integration ON grants (integration_id)",
    NULL
};

static const migration_t migrations[] = {
    {1, migration_1},
    {2, migration_2},
    {3, migration_3},
    {4, migration_4},
    {5, migration_5},
    {0, NULL}
};

int cn_store_schema_version(void)
{
    int v = 0;
    const migration_t *m;
    for (m = migrations; m->sql; ++m) {
        v = m->version;
    }
    return v;
}

const char *cn_db_error(cn_db_t *db, int rv)
{
    const char *e = apr_dbd_error(db->driver, db->handle, rv);
    return e ? e : "unknown database error";
}

static apr_status_t raw(apr_pool_t *pool, cn_db_t *db, const char *sql, const char **err)
{
    int n = 0, rv = apr_dbd_query(db->driver, db->handle, &n, sql);
    (void)pool;
    if (rv) {
        if (err) {
            *err = apr_pstrcat(pool, cn_db_error(db, rv), " (in: ", sql, ")", NULL);
        }
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* A statement that answers with rows (SQLite's PRAGMAs do), rows discarded. */
static apr_status_t pragma(apr_pool_t *pool, cn_db_t *db, const char *sql, const char **err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv = apr_dbd_select(db->driver, pool, db->handle, &res, sql, 0);
    if (rv) {
        if (err) {
            *err = apr_pstrcat(pool, cn_db_error(db, rv), " (in: ", sql, ")", NULL);
        }
        return APR_EGENERAL;
    }
    while (apr_dbd_get_row(db->driver, pool, res, &row, -1) == 0) {
    }
    return APR_SUCCESS;
}

void cn_store_connection_setup(apr_pool_t *pool, cn_db_t *db)
{
    if (!db->pgsql) {
        /* Writers from several processes queue instead of failing at once;
         * in WAL mode, NORMAL syncs at checkpoints only and stays consistent. */
        pragma(pool, db, "PRAGMA busy_timeout = 5000", NULL);
        pragma(pool, db, "PRAGMA synchronous = NORMAL", NULL);
    }
}

static apr_status_t read_version(apr_pool_t *pool, cn_db_t *db, int *version, const char **err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv = apr_dbd_select(db->driver, pool, db->handle, &res,
                            "SELECT version FROM schema_version", 0);
    *version = 0;
    if (rv) {
        *err = cn_db_error(db, rv);
        return APR_EGENERAL;
    }
    while (apr_dbd_get_row(db->driver, pool, res, &row, -1) == 0) {
        const char *v = apr_dbd_get_entry(db->driver, row, 0);
        if (v) {
            *version = atoi(v);
        }
    }
    return APR_SUCCESS;
}

apr_status_t cn_store_migrate(apr_pool_t *pool, cn_db_t *db, int *from, int *to,
                              const char **err)
{
    const migration_t *m;
    int version = 0;
    const char *dummy;
    if (!err) {
        err = &dummy;
    }
    *err = NULL;
    cn_store_connection_setup(pool, db);
    if (!db->pgsql) {
        /* WAL lets readers and a writer work at once; it is a property of the
         * database file, so setting it here once is enough. */
        if (pragma(pool, db, "PRAGMA journal_mode = WAL", err) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    if (raw(pool, db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
            err) != APR_SUCCESS) {
        if (!db->pgsql) {
            return APR_EGENERAL;
        }
        /* Two nodes creating it at once: the loser's error is harmless. */
    }
    /* One migrator at a time, across processes and nodes. */
    if (raw(pool, db, db->pgsql ? "BEGIN" : "BEGIN IMMEDIATE", err) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (db->pgsql
        && raw(pool, db, "LOCK TABLE schema_version IN EXCLUSIVE MODE", err) != APR_SUCCESS) {
        raw(pool, db, "ROLLBACK", NULL);
        return APR_EGENERAL;
    }
    if (read_version(pool, db, &version, err) != APR_SUCCESS) {
        raw(pool, db, "ROLLBACK", NULL);
        return APR_EGENERAL;
    }
    *from = version;
    for (m = migrations; m->sql; ++m) {
        const char *const *stmt;
        if (m->version <= version) {
            continue;
        }
        for (stmt = m->sql; *stmt; ++stmt) {
            if (raw(pool, db, *stmt, err) != APR_SUCCESS) {
                raw(pool, db, "ROLLBACK", NULL);
                return APR_EGENERAL;
            }
        }
        version = m->version;
    }
    if (version != *from) {
        if (raw(pool, db, "DELETE FROM schema_version", err) != APR_SUCCESS
            || raw(pool, db,
                   apr_psprintf(pool, "INSERT INTO schema_version (version) VALUES (%d)", version),
                   err) != APR_SUCCESS) {
            raw(pool, db, "ROLLBACK", NULL);
            return APR_EGENERAL;
        }
    }
    if (raw(pool, db, "COMMIT", err) != APR_SUCCESS) {
        raw(pool, db, "ROLLBACK", NULL);
        return APR_EGENERAL;
    }
    *to = version;
    return APR_SUCCESS;
}

static apr_dbd_prepared_t *stmt_get(cn_db_t *db, const char *label)
{
    return db->prepared ? apr_hash_get(db->prepared, label, APR_HASH_KEY_STRING) : NULL;
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
        return APR_EGENERAL;
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
    return rv ? APR_EGENERAL : APR_SUCCESS;
}

apr_status_t cn_db_begin(apr_pool_t *pool, cn_db_t *db)
{
    db->trans = NULL;
    if (db->write_lock) {
        apr_global_mutex_lock(db->write_lock);
    }
    if (apr_dbd_transaction_start(db->driver, pool, db->handle, &db->trans)) {
        db->trans = NULL;
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
    return rv ? APR_EGENERAL : APR_SUCCESS;
}
