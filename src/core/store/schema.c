/* The schema: created or migrated at start-up (SQLite and PostgreSQL alike),
 * and the per-connection settings. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_store.h"

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

/* The OAuth 2.0 server (GET /auth, POST /token): a login request says what
 * kind of flow it began (a hosted login, or an authorization request);
 * authorization codes and the tokens issued for them are kept only as
 * SHA-256 digests, each bound to its application, its grant and its family
 * (every token descending from one code). */
static const char *const migration_6[] = {
    "ALTER TABLE login_requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'hosted'",
    "CREATE TABLE oauth_codes ("
    " digest TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL,"
    " grant_id TEXT NOT NULL,"
    " redirect_uri TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " nonce TEXT,"
    " challenge TEXT,"
    " challenge_method TEXT,"
    " offline INTEGER NOT NULL,"
    " token_lifetime INTEGER NOT NULL,"
    " auth_time BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " used_at BIGINT,"
    " created_at BIGINT NOT NULL)",
    "CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at)",
    "CREATE INDEX oauth_codes_grant ON oauth_codes (grant_id)",
    "CREATE TABLE oauth_tokens ("
    " digest TEXT PRIMARY KEY,"
    " kind TEXT NOT NULL,"
    " app_id TEXT NOT NULL,"
    " grant_id TEXT NOT NULL,"
    " family TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " lifetime INTEGER NOT NULL,"
    " auth_time BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " rotated_at BIGINT,"
    " created_at BIGINT NOT NULL)",
    "CREATE INDEX oauth_tokens_family ON oauth_tokens (family)",
    "CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id)",
    "CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at)",
    NULL
};

/* Background jobs: a lease per job, so that of several nodes on one
 * database one runs it per period; the purge finds old events by time. */
static const char *const migration_7[] = {
    "CREATE TABLE job_leases ("
    " name TEXT PRIMARY KEY,"
    " holder TEXT NOT NULL,"
    " expires_at BIGINT NOT NULL)",
    "CREATE INDEX events_time ON events (time)",
    NULL
};

/* Version 8: one provider refresh per grant in flight, across processes and
 * nodes: a refresh holds the grant's lease (a Unix time) until it stores the
 * new access token, or until the lease runs out when its process died. */
static const char *const migration_8[] = {
    "ALTER TABLE grants ADD COLUMN refresh_lease_until BIGINT NOT NULL DEFAULT 0",
    NULL
};

/* Version 9: webhooks. An outbox: a row per event of an application with a
 * webhook, written in the event's transaction, delivered by the watchdog in
 * the order of seq (per application and grant) until it is delivered, or
 * failed after the retry period counted from retry_from. seq counts up in
 * the order rows are written, hence a column type per driver (a statement
 * "sqlite:" or "pgsql:" runs on that driver only). */
#define WEBHOOK_COLS_AFTER_SEQ \
    " id TEXT NOT NULL UNIQUE," \
    " app_id TEXT NOT NULL," \
    " grant_key TEXT NOT NULL," \
    " log_id TEXT NOT NULL," \
    " type TEXT NOT NULL," \
    " body TEXT NOT NULL," \
    " status TEXT NOT NULL," \
    " attempts INTEGER NOT NULL DEFAULT 0," \
    " next_attempt_at BIGINT NOT NULL," \
    " retry_from BIGINT NOT NULL," \
    " last_attempt_at BIGINT," \
    " last_status INTEGER," \
    " last_error TEXT," \
    " created_at BIGINT NOT NULL," \
    " updated_at BIGINT NOT NULL)"
static const char *const migration_9[] = {
    "sqlite:CREATE TABLE webhook_deliveries ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT," WEBHOOK_COLS_AFTER_SEQ,
    "pgsql:CREATE TABLE webhook_deliveries ("
    " seq BIGSERIAL PRIMARY KEY," WEBHOOK_COLS_AFTER_SEQ,
    /* the oldest pending delivery of each grant, and the due ones */
    "CREATE INDEX webhook_deliveries_order ON webhook_deliveries (status, app_id, grant_key, seq)",
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
    /* GET /webhooks/deliveries, newest first; the purge by age */
    "CREATE INDEX webhook_deliveries_app ON webhook_deliveries (app_id, status, seq)",
    "CREATE INDEX webhook_deliveries_updated ON webhook_deliveries (updated_at)",
    NULL
};

/* Version 10: a refresh that failed (the provider down, slow, answering 5xx)
 * leaves a cool-down in the grant's row, growing with the failures in a
 * row, during which no caller of any process or node asks the provider
 * again; refreshed_at (the last refresh or sign-in) finds the grants whose
 * refresh token has gone unused long enough to lapse. */
static const char *const migration_10[] = {
    "ALTER TABLE grants ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE grants ADD COLUMN refresh_retry_at BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE grants ADD COLUMN refreshed_at BIGINT NOT NULL DEFAULT 0",
    "UPDATE grants SET refreshed_at = updated_at",
    "CREATE INDEX grants_refreshed ON grants (refreshed_at, id)",
    NULL
};

/* Version 12: app permissions. A credential remembers the tenant whose
 * admin consented to its Microsoft app (GET /auth?response_type=adminconsent);
 * a grant remembers the credential it was made with, so that its tokens are
 * minted again (app permissions) or refreshed by the credential's own client
 * (an integration credential). Columns only: independent of versions 9-11. */
static const char *const migration_12[] = {
    "ALTER TABLE credentials ADD COLUMN consented_tenant TEXT",
    "ALTER TABLE credentials ADD COLUMN consented_at BIGINT",
    "ALTER TABLE grants ADD COLUMN credential_id TEXT",
    NULL
};

/* In any order: the migrator applies them by version. */
/* Version 11: the Context.IO 2.0 API. An account groups the grants (its
 * sources) of one application's user; 3-legged applications sign an
 * account's calls with its access token (its secret sealed). Connect tokens
 * are kept as a digest (looked up) and sealed (listed back), like other
 * issued secrets. Versions 9 and 10 are other changes: cn_store_migrate
 * runs every version above the database's in the table's order, so a gap
 * before this one is no step. */
static const char *const migration_11[] = {
    "CREATE TABLE cio_accounts ("
    " id TEXT PRIMARY KEY,"
    " app_id TEXT NOT NULL,"
    " email TEXT NOT NULL,"
    " first_name TEXT NOT NULL,"
    " last_name TEXT NOT NULL,"
    " suspended BIGINT NOT NULL DEFAULT 0,"
    " access_token TEXT UNIQUE,"
    " access_token_secret TEXT,"
    " created_at BIGINT NOT NULL)",
    "CREATE INDEX cio_accounts_app_created ON cio_accounts (app_id, created_at, id)",
    "CREATE INDEX cio_accounts_app_email ON cio_accounts (app_id, email)",
    "CREATE TABLE cio_connect_tokens ("
    " digest TEXT PRIMARY KEY,"
    " token TEXT NOT NULL,"
    " app_id TEXT NOT NULL,"
    " account_id TEXT,"
    " for_account INTEGER NOT NULL,"
    " email TEXT NOT NULL,"
    " first_name TEXT NOT NULL,"
    " last_name TEXT NOT NULL,"
    " callback_url TEXT NOT NULL,"
    " options TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL,"
    " used_at BIGINT NOT NULL DEFAULT 0)",
    "CREATE INDEX cio_connect_tokens_app_created ON cio_connect_tokens (app_id, created_at)",
    "CREATE INDEX cio_connect_tokens_account ON cio_connect_tokens (account_id)",
    "CREATE INDEX cio_connect_tokens_expires ON cio_connect_tokens (expires_at)",
    "ALTER TABLE grants ADD COLUMN account_id TEXT",
    "CREATE INDEX grants_account ON grants (account_id)",
    NULL
};

static const migration_t migrations[] = {
    {1, migration_1},
    {2, migration_2},
    {3, migration_3},
    {4, migration_4},
    {5, migration_5},
    {6, migration_6},
    {7, migration_7},
    {8, migration_8},
    {9, migration_9},
    {10, migration_10},
    {11, migration_11},
    {12, migration_12},
    {0, NULL}
};

int cn_store_schema_version(void)
{
    int v = 0;
    const migration_t *m;
    for (m = migrations; m->sql; ++m) {
        if (m->version > v) {
            v = m->version;
        }
    }
    return v;
}

/* The migration of the lowest version above VERSION, or NULL: versions may
 * have gaps (numbers reserved by work not merged yet) and the table may list
 * them in any order. */
static const migration_t *next_migration(int version)
{
    const migration_t *m, *next = NULL;
    for (m = migrations; m->sql; ++m) {
        if (m->version > version && (!next || m->version < next->version)) {
            next = m;
        }
    }
    return next;
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
        pragma(pool, db, "PRAGMA wal_autocheckpoint = " APR_STRINGIFY(CN_SQLITE_AUTOCHECKPOINT),
               NULL);
    }
}

apr_status_t cn_store_checkpoint(apr_pool_t *pool, cn_db_t *db, int *log_pages,
                                 int *done_pages, const char **err)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int rv;
    if (log_pages) {
        *log_pages = -1;
    }
    if (done_pages) {
        *done_pages = -1;
    }
    if (db->pgsql) {
        return APR_SUCCESS;
    }
    /* One row: busy, pages in the log, pages checkpointed. */
    if ((rv = apr_dbd_select(db->driver, pool, db->handle, &res,
                             "PRAGMA wal_checkpoint(PASSIVE)", 0))) {
        if (err) {
            *err = cn_db_error(db, rv);
        }
        return APR_EGENERAL;
    }
    while (apr_dbd_get_row(db->driver, pool, res, &row, -1) == 0) {
        const char *l = apr_dbd_get_entry(db->driver, row, 1);
        const char *d = apr_dbd_get_entry(db->driver, row, 2);
        if (log_pages && l) {
            *log_pages = atoi(l);
        }
        if (done_pages && d) {
            *done_pages = atoi(d);
        }
    }
    return APR_SUCCESS;
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

/* STMT as it runs on DB's driver: without its "sqlite:" or "pgsql:" prefix,
 * or NULL when it is for the other driver. */
static const char *for_driver(const cn_db_t *db, const char *stmt)
{
    if (!strncmp(stmt, "sqlite:", 7)) {
        return db->pgsql ? NULL : stmt + 7;
    }
    if (!strncmp(stmt, "pgsql:", 6)) {
        return db->pgsql ? stmt + 6 : NULL;
    }
    return stmt;
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
    while ((m = next_migration(version))) {
        const char *const *stmt;
        for (stmt = m->sql; *stmt; ++stmt) {
            const char *sql = for_driver(db, *stmt);
            if (sql && raw(pool, db, sql, err) != APR_SUCCESS) {
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
