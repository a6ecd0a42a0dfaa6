/* Fakes of the core's seams shared by the unit tests: the shared cache
 * (cn_cache_seam_t, ctx->cache) over an APR hash, and the IMAP client
 * (cn_imap_t, ctx->imap) over a table of mailboxes. Both keep what they
 * were asked in the test's pool (cn_test.h); set them up in the fixture. */
#ifndef CN_FAKES_H
#define CN_FAKES_H

#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_dbd.h>
#include <unistd.h>

#include "cn_core.h"
#include "cn_store.h"
#include "cn_proto.h"
#include "cn_test.h"

/* ---- the shared cache ------------------------------------------------------ */

typedef struct cn_fake_cache_t {
    cn_cache_seam_t seam;   /* ctx->cache = &fake.seam */
    apr_hash_t *map;        /* key -> value; a counter is its value in decimal */
    int gets, puts, removes, incrs;
    const char *last_key;   /* of the last put or incr */
    const char *last_val;   /* of the last put */
    apr_int64_t last_ttl;   /* of the last put or incr */
    apr_status_t incr_fails; /* not APR_SUCCESS: what incr answers (nothing counted) */
} cn_fake_cache_t;

static inline apr_status_t cn_fake_cache_get(void *baton, apr_pool_t *p, const char *key,
                                             const char **val, apr_size_t *len)
{
    cn_fake_cache_t *c = baton;
    const char *v = apr_hash_get(c->map, key, APR_HASH_KEY_STRING);
    c->gets++;
    if (!v) {
        return APR_NOTFOUND;
    }
    *val = apr_pstrdup(p, v);
    *len = strlen(v);
    return APR_SUCCESS;
}

static inline apr_status_t cn_fake_cache_put(void *baton, apr_pool_t *p, const char *key,
                                             const char *val, apr_size_t len, apr_int64_t ttl)
{
    cn_fake_cache_t *c = baton;
    (void)p;
    c->puts++;
    c->last_key = apr_pstrdup(pool, key);
    c->last_ttl = ttl;
    c->last_val = apr_pstrmemdup(pool, val, len);
    apr_hash_set(c->map, c->last_key, APR_HASH_KEY_STRING, c->last_val);
    return APR_SUCCESS;
}

static inline apr_status_t cn_fake_cache_remove(void *baton, apr_pool_t *p, const char *key)
{
    cn_fake_cache_t *c = baton;
    (void)p;
    c->removes++;
    apr_hash_set(c->map, key, APR_HASH_KEY_STRING, NULL);
    return APR_SUCCESS;
}

static inline apr_status_t cn_fake_cache_incr(void *baton, apr_pool_t *p, const char *key,
                                              long delta, apr_int64_t ttl, long *out)
{
    cn_fake_cache_t *c = baton;
    const char *v;
    long n;
    (void)p;
    c->incrs++;
    c->last_key = apr_pstrdup(pool, key);
    c->last_ttl = ttl;
    if (c->incr_fails != APR_SUCCESS) {
        return c->incr_fails;
    }
    v = apr_hash_get(c->map, key, APR_HASH_KEY_STRING);
    n = (v ? atol(v) : 0) + delta;
    apr_hash_set(c->map, c->last_key, APR_HASH_KEY_STRING, apr_ltoa(pool, n));
    *out = n;
    return APR_SUCCESS;
}

static inline void cn_fake_cache_init(cn_fake_cache_t *c)
{
    memset(c, 0, sizeof(*c));
    c->map = apr_hash_make(pool);
    c->seam.get = cn_fake_cache_get;
    c->seam.put = cn_fake_cache_put;
    c->seam.remove = cn_fake_cache_remove;
    c->seam.incr = cn_fake_cache_incr;
    c->seam.baton = c;
}

/* The counter under KEY, 0 when there is none. */
static inline long cn_fake_cache_count(const cn_fake_cache_t *c, const char *key)
{
    const char *v = apr_hash_get(c->map, key, APR_HASH_KEY_STRING);
    return v ? atol(v) : 0;
}

/* ---- the IMAP client ------------------------------------------------------- */

/* An account at host:port that logs in with its password. */
typedef struct cn_fake_mailbox_t {
    const char *host;
    int port;
    const char *username, *password;
} cn_fake_mailbox_t;

/* One LOGIN asked for, and whether the context held a database handle then. */
typedef struct cn_fake_imap_call_t {
    cn_imap_request_t req;
    int db_held;
} cn_fake_imap_call_t;

typedef struct cn_fake_imap_t {
    cn_imap_t client;              /* ctx->imap = &fake.client */
    const cn_fake_mailbox_t *boxes;
    int nboxes;
    const cn_ctx_t *ctx;           /* whose database handle is looked at */
    apr_array_header_t *calls;     /* cn_fake_imap_call_t */
} cn_fake_imap_t;

/* The servers: silent.example never answers, untrusted.example shows a
 * certificate of another CA, tlsfail.example fails the handshake,
 * nomech.example offers no password login; at any other host the mailboxes
 * of the table log in with their passwords, and everything else is denied. */
static inline apr_status_t cn_fake_imap_login(cn_imap_t *imap, apr_pool_t *p,
                                              const cn_imap_request_t *req,
                                              cn_imap_outcome_t *outcome, const char **error)
{
    cn_fake_imap_t *f = imap->baton;
    cn_fake_imap_call_t *c = apr_array_push(f->calls);
    int i;
    (void)p;
    c->req = *req;
    c->req.host = apr_pstrdup(pool, req->host);
    c->db_held = f->ctx && f->ctx->db != NULL;
    *error = NULL;
    if (!strcmp(req->host, "silent.example")) {
        *outcome = CN_IMAP_NO_ANSWER;
        *error = "Connection timed out after 2000 milliseconds";
        return APR_EGENERAL;
    }
    if (!strcmp(req->host, "untrusted.example")) {
        *outcome = CN_IMAP_TLS_UNTRUSTED;
        *error = "SSL certificate problem: unable to get local issuer certificate";
        return APR_EGENERAL;
    }
    if (!strcmp(req->host, "tlsfail.example")) {
        *outcome = CN_IMAP_TLS_FAILED;
        *error = "OpenSSL SSL_connect: SSL_ERROR_SYSCALL";
        return APR_EGENERAL;
    }
    if (!strcmp(req->host, "internal.example")) {
        *outcome = CN_IMAP_ADDRESS_REFUSED;
        *error = "10.0.0.5 is not a public address (private)";
        return APR_EGENERAL;
    }
    if (!strcmp(req->host, "nomech.example")) {
        *outcome = CN_IMAP_NO_MECHANISM;
        return APR_EGENERAL;
    }
    for (i = 0; i < f->nboxes; ++i) {
        const cn_fake_mailbox_t *m = &f->boxes[i];
        if (!strcmp(m->host, req->host) && m->port == req->port
            && !strcmp(m->username, req->username)) {
            *outcome = strcmp(m->password, req->password) ? CN_IMAP_DENIED : CN_IMAP_LOGGED_IN;
            *error = *outcome == CN_IMAP_DENIED ? "Login denied" : NULL;
            return *outcome == CN_IMAP_LOGGED_IN ? APR_SUCCESS : APR_EGENERAL;
        }
    }
    *outcome = CN_IMAP_DENIED;
    *error = "Login denied";
    return APR_EGENERAL;
}

/* F over the N mailboxes BOXES; CTX (may be NULL) is checked for a database
 * handle at each LOGIN. */
static inline void cn_fake_imap_init(cn_fake_imap_t *f, const cn_fake_mailbox_t *boxes, int n,
                                     const cn_ctx_t *ctx)
{
    memset(f, 0, sizeof(*f));
    f->boxes = boxes;
    f->nboxes = n;
    f->ctx = ctx;
    f->calls = apr_array_make(pool, 8, sizeof(cn_fake_imap_call_t));
    f->client.login = cn_fake_imap_login;
    f->client.timeout_ms = 2000;
    f->client.baton = f;
}

/* The last LOGIN asked for (the test fails when there was none). */
static inline const cn_fake_imap_call_t *cn_fake_imap_last(const cn_fake_imap_t *f)
{
    ck_assert_int_gt(f->calls->nelts, 0);
    return &APR_ARRAY_IDX(f->calls, f->calls->nelts - 1, cn_fake_imap_call_t);
}


/* ---- a real SQLite store for tests ---------------------------------------- */

/* A new SQLite database file in the test directory (its name starts with
 * PREFIX), migrated to the current schema with every statement prepared, as
 * *DB. The driver and handle stay in DB. */
static inline void cn_test_store_open(const char *prefix, cn_db_t *db)
{
    static unsigned counter;
    const cn_stmt_def_t *s;
    const char *err = NULL, *path;
    int from = -1, to = -1;
    memset(db, 0, sizeof(*db));
    ck_assert_int_eq(apr_dbd_init(pool), APR_SUCCESS);
    ck_assert_int_eq(apr_dbd_get_driver(pool, "sqlite3", &db->driver), APR_SUCCESS);
    path = apr_psprintf(pool, "%s/%s%ld-%u.db", cn_test_tmpdir(), prefix, (long)getpid(),
                        ++counter);
    ck_assert_msg(apr_dbd_open_ex(db->driver, pool, path, &db->handle, &err) == APR_SUCCESS,
                  "apr_dbd_open %s: %s", path, err ? err : "?");
    ck_assert_msg(cn_store_migrate(pool, db, &from, &to, &err) == APR_SUCCESS,
                  "cn_store_migrate: %s", err ? err : "?");
    db->prepared = apr_hash_make(pool);
    for (s = cn_store_statements(); s->label; ++s) {
        apr_dbd_prepared_t *st = NULL;
        int rv = apr_dbd_prepare(db->driver, pool, db->handle, s->sql, s->label, &st);
        ck_assert_msg(rv == 0, "prepare %s: %s", s->label, apr_dbd_error(db->driver, db->handle, rv));
        apr_hash_set(db->prepared, s->label, APR_HASH_KEY_STRING, st);
    }
}


/* ---- the database and log seams of a unit test ---------------------------
 * One handle, DB, handed out by the database seam and checked back in
 * (a second handle while one is out fails the test: the core must close its
 * section first), and every log line kept as "LEVEL LINE". Set
 * ctx->dbs = {cn_test_seam_open, cn_test_seam_close, S} and
 * ctx->log.write = cn_test_log_write, ctx->log.baton = S. */
typedef struct cn_test_seams_t {
    cn_db_t *db;
    int opens, closes, held;
    apr_array_header_t *log; /* "level line" */
} cn_test_seams_t;

static inline apr_status_t cn_test_seam_open(void *baton, apr_pool_t *p, cn_db_t **db)
{
    cn_test_seams_t *s = baton;
    (void)p;
    ck_assert_msg(!s->held, "a second database handle while one is out");
    s->opens++;
    s->held = 1;
    *db = s->db;
    return APR_SUCCESS;
}

static inline void cn_test_seam_close(void *baton, cn_db_t *db)
{
    cn_test_seams_t *s = baton;
    ck_assert_ptr_eq(db, s->db);
    s->closes++;
    s->held = 0;
}

static inline void cn_test_log_write(void *baton, int level, const char *line)
{
    cn_test_seams_t *s = baton;
    APR_ARRAY_PUSH(s->log, const char *) = apr_psprintf(pool, "%d %s", level, line);
}

/* The log lines of S that contain WHAT. */
static inline int cn_test_logged(const cn_test_seams_t *s, const char *what)
{
    int i, n = 0;
    for (i = 0; i < s->log->nelts; ++i) {
        n += strstr(APR_ARRAY_IDX(s->log, i, const char *), what) != NULL;
    }
    return n;
}

#endif
