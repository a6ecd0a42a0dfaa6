/* The OAuth 2.0 server's codes and tokens: issued at the end of GET /auth
 * (a code) and by POST /token (access and refresh tokens), revoked by POST
 * /revoke, read by GET /grants/me and GET /tokeninfo.
 *
 * Every secret is a recognizable prefix and 256 random bits; the store keeps
 * only its SHA-256, bound to its application, its grant and its family: the
 * tokens descending from one code share the code's digest as their family,
 * so a reused code or a reused refresh token revokes all of them at once.
 *
 * id_tokens are not stored: each is signed with ConnectSigningKey and names
 * its access token by at_hash (the left half of the access token's SHA-256,
 * so the first half of its stored digest). /tokeninfo and /revoke verify the
 * signature and find the access token's row by that prefix: an id_token
 * lives, and is revoked, with its access token. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_model.h"
#include "cn_proto.h"

#define SECRET_RANDOM_LEN 43 /* base64url of 32 bytes */
#define AT_HASH_LEN 16       /* bytes: the left half of SHA-256 (OIDC Core §3.1.3.6) */

typedef struct code_row_t {
    const char *digest, *app_id, *grant_id, *redirect_uri, *scope, *nonce, *challenge, *method;
    int offline;
    long lifetime;
    apr_int64_t auth_time, expires_at, used_at;
} code_row_t;

typedef struct token_row_t {
    const char *digest, *kind, *app_id, *grant_id, *family, *scope;
    long lifetime;
    apr_int64_t auth_time, expires_at, created_at, rotated_at;
} token_row_t;

/* What one exchange issues. */
typedef struct issue_t {
    const char *family;
    cn_grant_t *grant;
    const char *scope;         /* of the access token */
    const char *refresh_scope; /* of the refresh token (a refresh may narrow the access token's) */
    long lifetime;             /* of the access token */
    apr_int64_t auth_time;
    const char *nonce;
    int refresh;               /* issue a refresh token */
} issue_t;

static const char *nz(const char *s)
{
    return s ? s : "";
}

static const char *str_or_null(const char *s)
{
    return s && *s ? s : NULL;
}

/* A new secret with PREFIX and its digest. */
static apr_status_t new_secret(cn_ctx_t *ctx, const char *prefix, const char **secret,
                               const char **digest)
{
    const char *r;
    if (cn_random_token(ctx->pool, 32, &r) != APR_SUCCESS) {
        return cn_fail_internal(ctx, "randomness");
    }
    *secret = apr_pstrcat(ctx->pool, prefix, r, NULL);
    *digest = cn_sha256_hex(ctx->pool, *secret, strlen(*secret));
    return APR_SUCCESS;
}

/* The digest of a presented SECRET of PREFIX, or NULL when it cannot be one
 * (so that nothing else reaches the store). */
static const char *digest_of(apr_pool_t *pool, const char *prefix, const char *secret)
{
    apr_size_t n = strlen(prefix);
    if (!secret || strncmp(secret, prefix, n) || strlen(secret) != n + SECRET_RANDOM_LEN
        || secret[n + strspn(secret + n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789-_")]) {
        return NULL;
    }
    return cn_sha256_hex(pool, secret, strlen(secret));
}

/* ---- rows ---------------------------------------------------------------- */

/* The row statement LABEL finds for DIGEST: APR_ENOENT when there is none. */
static apr_status_t row_by_digest(cn_ctx_t *ctx, const char *label, const char *digest,
                                  cn_row_t **out)
{
    apr_array_header_t *rows;
    const char *args[1] = {digest};
    cn_row_t *r;
    if (cn_db_select(ctx->pool, ctx->db, label, 1, args, &rows) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    if (!rows->nelts) {
        return APR_ENOENT;
    }
    r = APR_ARRAY_IDX(rows, 0, cn_row_t *);
    /* The lookup was by digest; the comparison that decides is in constant time. */
    if (!r->cols[0] || !cn_ct_equal(r->cols[0], strlen(r->cols[0]), digest, strlen(digest))) {
        return APR_ENOENT;
    }
    *out = r;
    return APR_SUCCESS;
}

static apr_status_t load_code(cn_ctx_t *ctx, const char *digest, code_row_t *c)
{
    cn_row_t *r;
    apr_status_t rv = row_by_digest(ctx, "cn_code_get", digest, &r);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    c->digest = r->cols[0];
    c->app_id = r->cols[1];
    c->grant_id = r->cols[2];
    c->redirect_uri = r->cols[3];
    c->scope = nz(r->cols[4]);
    c->nonce = str_or_null(r->cols[5]);
    c->challenge = str_or_null(r->cols[6]);
    c->method = str_or_null(r->cols[7]);
    c->offline = r->cols[8] && atoi(r->cols[8]) != 0;
    c->lifetime = r->cols[9] ? atol(r->cols[9]) : CN_ACCESS_TTL_DEFAULT;
    c->auth_time = r->cols[10] ? apr_atoi64(r->cols[10]) : 0;
    c->expires_at = r->cols[11] ? apr_atoi64(r->cols[11]) : 0;
    c->used_at = r->cols[12] ? apr_atoi64(r->cols[12]) : 0;
    return APR_SUCCESS;
}

/* A row of TOKEN_COLS and rotated_at as T. */
static void token_of_row(const cn_row_t *r, token_row_t *t)
{
    t->digest = r->cols[0];
    t->kind = nz(r->cols[1]);
    t->app_id = nz(r->cols[2]);
    t->grant_id = nz(r->cols[3]);
    t->family = nz(r->cols[4]);
    t->scope = nz(r->cols[5]);
    t->lifetime = r->cols[6] ? atol(r->cols[6]) : CN_ACCESS_TTL_DEFAULT;
    t->auth_time = r->cols[7] ? apr_atoi64(r->cols[7]) : 0;
    t->expires_at = r->cols[8] ? apr_atoi64(r->cols[8]) : 0;
    t->created_at = r->cols[9] ? apr_atoi64(r->cols[9]) : 0;
    t->rotated_at = r->cols[10] ? apr_atoi64(r->cols[10]) : 0;
}

static apr_status_t load_token(cn_ctx_t *ctx, const char *digest, token_row_t *t)
{
    cn_row_t *r;
    apr_status_t rv = row_by_digest(ctx, "cn_token_get", digest, &r);
    if (rv == APR_SUCCESS) {
        token_of_row(r, t);
    }
    return rv;
}

/* The 10 values of a token row into ARGS. */
static void token_args(cn_ctx_t *ctx, const char **args, const char *digest, const char *kind,
                       const issue_t *is, const char *scope, long lifetime,
                       apr_int64_t expires_at)
{
    args[0] = digest;
    args[1] = kind;
    args[2] = ctx->app_id;
    args[3] = is->grant->id;
    args[4] = is->family;
    args[5] = scope;
    args[6] = apr_ltoa(ctx->pool, lifetime);
    args[7] = apr_ltoa(ctx->pool, (long)is->auth_time);
    args[8] = apr_ltoa(ctx->pool, (long)expires_at);
    args[9] = apr_ltoa(ctx->pool, (long)ctx->now);
}

/* Every token of FAMILY goes (in the caller's transaction). */
static apr_status_t revoke_family(cn_ctx_t *ctx, const char *family, int *count)
{
    const char *args[1] = {family};
    return cn_db_exec(ctx->pool, ctx->db, "cn_token_delete_family", 1, args, count)
                   == APR_SUCCESS
               ? APR_SUCCESS
               : cn_fail_db(ctx);
}

/* ---- codes ----------------------------------------------------------------- */

apr_status_t cn_code_issue(cn_ctx_t *ctx, const char *grant_id, const cn_code_request_t *req,
                           const char **code)
{
    const char *args[13], *digest, *method = NULL;
    long lifetime = req->token_expires_in ? req->token_expires_in : CN_ACCESS_TTL_DEFAULT;
    if (req->client_id && strcmp(req->client_id, ctx->app_id)) {
        return cn_fail_internal(ctx, "a code for another application than the caller");
    }
    if (lifetime < CN_ACCESS_TTL_MIN || lifetime > CN_ACCESS_TTL_MAX || !req->redirect_uri) {
        return cn_fail_internal(ctx, "a code for a request that was not checked");
    }
    if (req->code_challenge && !(method = cn_pkce_method(req->code_challenge_method))) {
        return cn_fail_internal(ctx, "a code for a challenge method that was not checked");
    }
    if (new_secret(ctx, CN_CODE_PREFIX, code, &digest) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    args[0] = digest;
    args[1] = ctx->app_id;
    args[2] = grant_id;
    args[3] = req->redirect_uri;
    args[4] = nz(req->scope);
    args[5] = req->nonce;
    args[6] = req->code_challenge;
    args[7] = req->code_challenge ? method : NULL;
    args[8] = req->offline ? "1" : "0";
    args[9] = apr_ltoa(ctx->pool, lifetime);
    args[10] = apr_ltoa(ctx->pool, (long)(req->auth_time ? req->auth_time : ctx->now));
    args[11] = apr_ltoa(ctx->pool, (long)(ctx->now + CN_CODE_TTL));
    args[12] = apr_ltoa(ctx->pool, (long)ctx->now);
    if (cn_db_exec(ctx->pool, ctx->db, "cn_code_insert", 13, args, NULL) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    return APR_SUCCESS;
}

/* ---- issuing ---------------------------------------------------------------- */

/* The OpenID Connect id_token of IS (when a signing key is configured) that
 * goes with ACCESS. It is not stored: at_hash binds it to its access token
 * (OIDC Core §3.1.3.6; RS256 and ES256 both hash with SHA-256), and is how
 * /tokeninfo and /revoke find that token's row (id_token_access). It also
 * makes each one unique: two sign-ins of one grant in one second would
 * otherwise sign the same claims to the same token. */
static apr_status_t sign_id_token(cn_ctx_t *ctx, const issue_t *is, const char *access,
                                  const char **jwt)
{
    const cn_grant_t *g = is->grant;
    unsigned char digest[32];
    json_t *claims;
    *jwt = NULL;
    if (!ctx->signing) {
        return APR_SUCCESS;
    }
    claims = cn_json_own(ctx->pool,
                         json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "iss", nz(ctx->base_url),
                                   "sub", g->id, "aud", ctx->app_id, "exp",
                                   (json_int_t)(ctx->now + is->lifetime), "iat",
                                   (json_int_t)ctx->now, "auth_time", (json_int_t)is->auth_time,
                                   "provider", g->provider));
    if (!claims) {
        return cn_fail_internal(ctx, "an id_token's claims");
    }
    /* A grant's email is one the provider vouched for (cn_oauth_identity). */
    if (g->email && *g->email) {
        json_object_set_new(claims, "email", json_string(g->email));
        json_object_set_new(claims, "email_verified", json_true());
    }
    if (is->nonce) {
        json_object_set_new(claims, "nonce", json_string(is->nonce));
    }
    cn_sha256(access, strlen(access), digest);
    json_object_set_new(claims, "at_hash",
                        json_string(cn_b64url_encode(ctx->pool, digest, AT_HASH_LEN)));
    if (cn_jose_sign(ctx->pool, ctx->signing, claims, jwt) != APR_SUCCESS || !*jwt) {
        return cn_fail_internal(ctx, "signing an id_token");
    }
    return APR_SUCCESS;
}

/* What an exchange answers: its secrets are made before its transaction,
 * its id_token signed after it (a signature costs up to a millisecond: never
 * inside the transaction, which holds the writers' lock). */
typedef struct minted_t {
    const char *access, *access_digest, *refresh, *refresh_digest, *id_token;
    json_t *answer; /* RFC 6749 §5.1 */
} minted_t;

/* An access token and a refresh token: the refresh token is stored and
 * answered only when the exchange issues one (issue_t.refresh). */
static apr_status_t mint(cn_ctx_t *ctx, minted_t *m)
{
    memset(m, 0, sizeof(*m));
    if (new_secret(ctx, CN_ACCESS_PREFIX, &m->access, &m->access_digest) != APR_SUCCESS
        || new_secret(ctx, CN_REFRESH_PREFIX, &m->refresh, &m->refresh_digest) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* The answer to an exchange of IS that committed, with its id_token. */
static apr_status_t answer_of(cn_ctx_t *ctx, const issue_t *is, minted_t *m)
{
    if (sign_id_token(ctx, is, m->access, &m->id_token) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    m->answer = cn_json_own(ctx->pool,
                            json_pack("{s:s,s:I,s:s,s:s,s:s}", "access_token", m->access,
                                      "expires_in", (json_int_t)is->lifetime, "scope", is->scope,
                                      "token_type", "Bearer", "grant_id", is->grant->id));
    if (!m->answer) {
        return cn_fail_internal(ctx, "an answer with tokens");
    }
    if (is->refresh) {
        json_object_set_new(m->answer, "refresh_token", json_string(m->refresh));
    }
    if (m->id_token) {
        json_object_set_new(m->answer, "id_token", json_string(m->id_token));
    }
    return APR_SUCCESS;
}

/* The minted tokens stored (in the caller's transaction): the access token
 * and the refresh token when there is one. Not the id_token: its at_hash
 * names the access token's row, and it expires with it. */
static apr_status_t store(cn_ctx_t *ctx, const issue_t *is, const minted_t *m)
{
    const char *args[20];
    token_args(ctx, args, m->access_digest, "access", is, is->scope, is->lifetime,
               ctx->now + is->lifetime);
    if (is->refresh) {
        token_args(ctx, args + 10, m->refresh_digest, "refresh", is, is->refresh_scope,
                   is->lifetime, ctx->now + CN_REFRESH_TTL);
    }
    if (cn_db_exec(ctx->pool, ctx->db, is->refresh ? "cn_token_insert_pair" : "cn_token_insert",
                   is->refresh ? 20 : 10, args, NULL) != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    return APR_SUCCESS;
}

/* The grant a code or token was issued for; gone → invalid_grant. */
static apr_status_t grant_of(cn_ctx_t *ctx, const char *grant_id, cn_grant_t **grant)
{
    if (cn_grant_load(ctx, grant_id, grant) != APR_SUCCESS) {
        if (ctx->res.event && ctx->res.event->id == CN_EV_GRANT_NOT_FOUND) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                           "the grant it was issued for no longer exists");
        }
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* A code or refresh token presented again: what descends from it goes (in
 * the caller's transaction, which is committed all the same). */
static apr_status_t replayed(cn_ctx_t *ctx, const char *what, const char *family,
                             const char *grant_id)
{
    int n = 0;
    if (revoke_family(ctx, family, &n) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    cn_log(ctx, CN_LOG_WARNING, CNLOGNO(01301) "%s of grant %s presented again: "
           "%d token(s) issued from it revoked", what, grant_id, n);
    return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                   "the %s was already used; every token issued from it is revoked", what);
}

/* ---- exchanging --------------------------------------------------------------- */

/* One exchange at POST /token: what was presented, what its transaction
 * found and did. The whole exchange (the row presented read and checked, the
 * grant read, the code spent or the refresh token rotated, the new tokens
 * stored) is one work of cn_db_transact: concurrent exchanges of one
 * process share a transaction, and the work may run on another request's
 * thread and connection. It touches nothing of its request but CTX, whose
 * thread waits meanwhile; it runs no network call, signs nothing and never
 * calls cn_db_transact itself (it would wait for its own leader). */
typedef struct exchange_t {
    cn_ctx_t *ctx;
    const cn_oauth_client_t *client;
    const char *digest;                 /* of the code or refresh token presented */
    const char *redirect_uri, *verifier; /* authorization_code */
    json_t *asked;                      /* refresh_token: a narrower scope */
    issue_t is;
    minted_t m;
    apr_status_t rv;  /* the exchange's outcome */
    int failed;       /* a statement failed: the transaction must not commit */
    /* the grant type's part in the transaction */
    apr_status_t (*in)(cn_ctx_t *ctx, struct exchange_t *x);
} exchange_t;

/* Spend the code or rotate the refresh token with statement SPEND (a
 * conditional UPDATE on the digest: of two concurrent presentations one wins,
 * the other is a replay of WHAT, which revokes FAMILY), then store the
 * minted tokens. */
static apr_status_t spend(cn_ctx_t *ctx, exchange_t *x, const char *label, const char *what,
                          const char *family, const char *grant_id)
{
    const char *args[2];
    int n = 0;
    args[0] = apr_ltoa(ctx->pool, (long)ctx->now);
    args[1] = x->digest;
    if (cn_db_exec(ctx->pool, ctx->db, label, 2, args, &n) != APR_SUCCESS) {
        x->failed = 1;
        return cn_fail_db(ctx);
    }
    if (n != 1) {
        return replayed(ctx, what, family, grant_id);
    }
    if (store(ctx, &x->is, &x->m) != APR_SUCCESS) {
        x->failed = 1;
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* grant_type=authorization_code, in the transaction. */
static apr_status_t redeem_code_in(cn_ctx_t *ctx, exchange_t *x)
{
    const cn_oauth_client_t *client = x->client;
    code_row_t c = {0};
    const char *why = NULL;
    apr_status_t rv;
    if ((rv = load_code(ctx, x->digest, &c)) == APR_ENOENT) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT, "the code is unknown or expired");
    }
    if (rv != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (strcmp(c.app_id, client->client_id)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                       "the code was issued to another client");
    }
    if (c.used_at) {
        return replayed(ctx, "code", c.digest, c.grant_id);
    }
    if (c.expires_at <= ctx->now) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT, "the code has expired");
    }
    if (!x->redirect_uri || strcmp(x->redirect_uri, c.redirect_uri)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                       "redirect_uri is not the authorization request's");
    }
    /* PKCE, or the client's secret. */
    if (x->verifier && !c.challenge) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                       "code_verifier given, but the authorization request had no code_challenge");
    }
    if (c.challenge && !x->verifier) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                       "the authorization request had a code_challenge: code_verifier is required");
    }
    if (c.challenge && cn_pkce_verify(ctx->pool, c.challenge, c.method, x->verifier, &why)
                           != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT, "%s", why);
    }
    if (!c.challenge && !client->authenticated) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_CLIENT,
                       "without PKCE the client must authenticate with its secret");
    }
    if (grant_of(ctx, c.grant_id, &x->is.grant) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    x->is.family = c.digest;
    x->is.scope = x->is.refresh_scope = c.scope;
    x->is.lifetime = c.lifetime;
    x->is.auth_time = c.auth_time;
    x->is.nonce = c.nonce;
    x->is.refresh = c.offline && client->authenticated;
    return spend(ctx, x, "cn_code_use", "code", c.digest, c.grant_id);
}

/* Whether every scope token of REQUESTED is in GRANTED. */
static int scope_within(apr_pool_t *pool, const json_t *requested, const char *granted)
{
    json_t *have = cn_oauth_scope_parse(pool, granted), *v;
    size_t i;
    json_array_foreach(requested, i, v) {
        if (!have || !cn_json_array_has(have, json_string_value(v))) {
            return 0;
        }
    }
    return 1;
}

/* grant_type=refresh_token, in the transaction. */
static apr_status_t refresh_in(cn_ctx_t *ctx, exchange_t *x)
{
    token_row_t t = {0};
    apr_status_t rv;
    if ((rv = load_token(ctx, x->digest, &t)) == APR_ENOENT || (rv == APR_SUCCESS
                                                                 && strcmp(t.kind, "refresh"))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                       "the refresh token is unknown, revoked or expired");
    }
    if (rv != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (strcmp(t.app_id, x->client->client_id)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                       "the refresh token was issued to another client");
    }
    if (t.rotated_at) {
        return replayed(ctx, "refresh token", t.family, t.grant_id);
    }
    if (t.expires_at <= ctx->now) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT, "the refresh token has expired");
    }
    if (x->asked && json_array_size(x->asked) && !scope_within(ctx->pool, x->asked, t.scope)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_SCOPE,
                       "scope asks for more than was granted");
    }
    if (grant_of(ctx, t.grant_id, &x->is.grant) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    x->is.family = t.family;
    x->is.refresh_scope = t.scope;
    x->is.scope = x->asked && json_array_size(x->asked)
                      ? cn_oauth_scope_string(ctx->pool, x->asked)
                      : t.scope;
    x->is.lifetime = t.lifetime;
    x->is.auth_time = t.auth_time;
    x->is.refresh = 1;
    return spend(ctx, x, "cn_token_rotate", "refresh token", t.family, t.grant_id);
}

/* The work of X's exchange (cn_db_transact): X->in, on DB. */
static int exchange_work(cn_db_t *db, void *baton, apr_pool_t *pool)
{
    exchange_t *x = baton;
    cn_db_t *own = x->ctx->db;
    (void)pool;
    x->ctx->db = db;
    x->rv = x->in(x->ctx, x);
    x->ctx->db = own;
    return !x->failed;
}

/* X's exchange: its secrets minted, X->in in a transaction, then its answer. */
static apr_status_t exchange(cn_ctx_t *ctx, exchange_t *x, json_t **answer,
                             const cn_grant_t **grant)
{
    x->ctx = ctx;
    x->rv = APR_SUCCESS;
    if (mint(ctx, &x->m) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_db_transact(ctx->pool, ctx->db, exchange_work, x) != APR_SUCCESS) {
        /* Its own failure was logged where it happened; else another
         * work's rolled this one back. */
        return x->rv != APR_SUCCESS ? x->rv : cn_fail_db(ctx);
    }
    if (x->rv != APR_SUCCESS || answer_of(ctx, &x->is, &x->m) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *answer = x->m.answer;
    *grant = x->is.grant;
    return APR_SUCCESS;
}

/* grant_type=authorization_code. */
static apr_status_t redeem_code(cn_ctx_t *ctx, const cn_oauth_client_t *client,
                                const apr_table_t *params, json_t **answer,
                                const cn_grant_t **grant)
{
    const char *code = apr_table_get(params, "code");
    exchange_t x;
    memset(&x, 0, sizeof(x));
    if (!code || !*code) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST, "code is required");
    }
    if (!(x.digest = digest_of(ctx->pool, CN_CODE_PREFIX, code))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT, "the code is unknown or expired");
    }
    x.client = client;
    x.redirect_uri = apr_table_get(params, "redirect_uri");
    x.verifier = apr_table_get(params, "code_verifier");
    x.in = redeem_code_in;
    return exchange(ctx, &x, answer, grant);
}

/* grant_type=refresh_token. */
static apr_status_t refresh(cn_ctx_t *ctx, const cn_oauth_client_t *client,
                            const apr_table_t *params, json_t **answer, const cn_grant_t **grant)
{
    const char *token = apr_table_get(params, "refresh_token");
    const char *scope = apr_table_get(params, "scope");
    exchange_t x;
    memset(&x, 0, sizeof(x));
    if (!client->authenticated) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_UNAUTHORIZED_CLIENT,
                       "refreshing a token needs the client's secret");
    }
    if (!token || !*token) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST, "refresh_token is required");
    }
    if (scope && !(x.asked = cn_oauth_scope_parse(ctx->pool, scope))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_SCOPE, "scope is not a valid scope");
    }
    if (!(x.digest = digest_of(ctx->pool, CN_REFRESH_PREFIX, token))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_GRANT,
                       "the refresh token is unknown, revoked or expired");
    }
    x.client = client;
    x.in = refresh_in;
    return exchange(ctx, &x, answer, grant);
}

apr_status_t cn_token_exchange(cn_ctx_t *ctx, const cn_oauth_client_t *client,
                               const apr_table_t *params, json_t **answer)
{
    const cn_grant_t *grant = NULL;
    return cn_token_exchange_grant(ctx, client, params, answer, &grant);
}

apr_status_t cn_token_exchange_grant(cn_ctx_t *ctx, const cn_oauth_client_t *client,
                                     const apr_table_t *params, json_t **answer,
                                     const cn_grant_t **grant)
{
    const char *grant_type = apr_table_get(params, "grant_type");
    apr_status_t (*exchange)(cn_ctx_t *, const cn_oauth_client_t *, const apr_table_t *,
                             json_t **, const cn_grant_t **);
    apr_status_t rv;

    if (!grant_type || !*grant_type) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST, "grant_type is required");
    }
    if (!strcmp(grant_type, "authorization_code")) {
        exchange = redeem_code;
    }
    else if (!strcmp(grant_type, "refresh_token")) {
        exchange = refresh;
    }
    else {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_UNSUPPORTED_GRANT_TYPE,
                       "grant_type must be authorization_code or refresh_token");
    }
    if (!client->client_id) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_CLIENT,
                       "the client is not identified (client_id, or HTTP Basic)");
    }
    ctx->app_id = client->client_id;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *grant = NULL;
    rv = exchange(ctx, client, params, answer, grant);
    cn_ctx_db_close(ctx);
    return rv;
}

/* ---- revocation and introspection ------------------------------------------------ */

/* What an id_token of ours says, once checked (id_token_read). */
typedef struct id_token_t {
    const char *sub, *aud;
    apr_int64_t exp;
    char prefix[2 * AT_HASH_LEN + 1]; /* at_hash in hex: the first half of its access token's digest */
} id_token_t;

/* JWT when it is an id_token this module signed: verified with the
 * ConnectSigningKey keys (cn_jose_verify), iss ConnectBaseURL, with a sub,
 * an aud, an exp and an at_hash of 16 bytes; for AUD when given; unexpired
 * when UNEXPIRED. Else APR_EINVAL, the reason logged (never the token). */
static apr_status_t id_token_read(cn_ctx_t *ctx, const char *jwt, const char *aud,
                                  int unexpired, id_token_t *id)
{
    static const char hex[] = "0123456789abcdef";
    json_t *claims = NULL, *exp;
    const char *why = NULL, *iss, *at_hash;
    const unsigned char *half = NULL;
    apr_size_t n = 0, i;

    memset(id, 0, sizeof(*id));
    if (cn_jose_verify(ctx->pool, ctx->signing, jwt, &claims, &why) == APR_SUCCESS) {
        iss = json_string_value(json_object_get(claims, "iss"));
        at_hash = json_string_value(json_object_get(claims, "at_hash"));
        exp = json_object_get(claims, "exp");
        id->sub = json_string_value(json_object_get(claims, "sub"));
        id->aud = json_string_value(json_object_get(claims, "aud"));
        if (!iss || !ctx->base_url || strcmp(iss, ctx->base_url)) {
            why = "its iss is not ConnectBaseURL";
        }
        else if (!id->sub || !id->aud || !json_is_integer(exp)) {
            why = "it lacks sub, aud or exp";
        }
        else if (!at_hash || !(half = cn_b64url_decode(ctx->pool, at_hash, &n))
                 || n != AT_HASH_LEN) {
            why = "it has no at_hash of 16 bytes";
        }
        else if (aud && strcmp(id->aud, aud)) {
            why = "it was issued to another application";
        }
        else if (unexpired && json_integer_value(exp) <= ctx->now) {
            why = "it has expired";
        }
        else {
            id->exp = json_integer_value(exp);
            for (i = 0; i < AT_HASH_LEN; ++i) {
                id->prefix[2 * i] = hex[half[i] >> 4];
                id->prefix[2 * i + 1] = hex[half[i] & 0x0f];
            }
            return APR_SUCCESS;
        }
    }
    cn_log(ctx, CN_LOG_INFO, CNLOGNO(01303) "an id_token was refused: %s", why ? why : "?");
    return APR_EINVAL;
}

/* The access token row ID names by its at_hash, live or not: APR_ENOENT
 * when there is none (revoked with its family, purged, or never issued). */
static apr_status_t id_token_access(cn_ctx_t *ctx, const id_token_t *id, token_row_t *t)
{
    static const char zeros[] = "00000000000000000000000000000000";
    static const char effs[] = "ffffffffffffffffffffffffffffffff";
    const char *args[2];
    apr_array_header_t *rows;
    int i;
    args[0] = apr_pstrcat(ctx->pool, id->prefix, zeros, NULL);
    args[1] = apr_pstrcat(ctx->pool, id->prefix, effs, NULL);
    if (cn_db_select(ctx->pool, ctx->db, "cn_token_access_by_prefix", 2, args, &rows)
        != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    for (i = 0; i < rows->nelts; ++i) {
        cn_row_t *r = APR_ARRAY_IDX(rows, i, cn_row_t *);
        /* The lookup was by range; the comparison that decides is in constant time. */
        if (r->cols[0] && strlen(r->cols[0]) == 4 * AT_HASH_LEN
            && cn_ct_equal(r->cols[0], 2 * AT_HASH_LEN, id->prefix, 2 * AT_HASH_LEN)) {
            token_of_row(r, t);
            return strcmp(t->kind, "access") ? APR_ENOENT : APR_SUCCESS;
        }
    }
    return APR_ENOENT;
}

/* Whether TOKEN may be an id_token (a JWS compact serialisation): anything
 * else is not worth a signature check. */
static int jwt_like(const char *token)
{
    return token && *token && strlen(token) <= CN_JWS_MAX && strchr(token, '.');
}

apr_status_t cn_token_revoke(cn_ctx_t *ctx, const cn_oauth_client_t *client, const char *token)
{
    const char *digest;
    token_row_t t = {0};
    id_token_t id;
    apr_status_t rv;
    int n = 0;

    if (!token || !*token) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST, "token is required");
    }
    if (!(digest = digest_of(ctx->pool, CN_ACCESS_PREFIX, token))) {
        digest = digest_of(ctx->pool, CN_REFRESH_PREFIX, token);
    }
    /* RFC 7009 §2.2: an invalid token is no error; nor is an id_token that
     * is not ours (its signature or issuer). An expired one of ours still
     * revokes what lives of its family. */
    if (!digest && (!jwt_like(token) || id_token_read(ctx, token, NULL, 0, &id) != APR_SUCCESS)) {
        return APR_SUCCESS;
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_db_begin(ctx->pool, ctx->db) != APR_SUCCESS) {
        rv = cn_fail_db(ctx);
        cn_ctx_db_close(ctx);
        return rv;
    }
    rv = digest ? load_token(ctx, digest, &t) : id_token_access(ctx, &id, &t);
    if (rv == APR_ENOENT) {
        rv = APR_SUCCESS;
    }
    else if (rv == APR_SUCCESS && client && client->client_id && strcmp(t.app_id, client->client_id)) {
        rv = cn_fail(ctx->pool, &ctx->res, CN_EV_UNAUTHORIZED_CLIENT,
                     "the token was not issued to this client");
    }
    else if (rv == APR_SUCCESS && (rv = revoke_family(ctx, t.family, &n)) == APR_SUCCESS) {
        ctx->app_id = t.app_id;
        rv = cn_event_record(ctx, CN_EV_SESSION_REVOKE_SUCCESS, "info",
                             cn_json_own(ctx->pool, json_pack("{s:s,s:i}", "grant_id", t.grant_id,
                                                              "tokens", n)));
        if (rv != APR_SUCCESS) {
            rv = cn_fail_db(ctx);
        }
        else {
            cn_log(ctx, CN_LOG_INFO, CNLOGNO(01302) "revoked %d token(s) of grant %s", n,
                   t.grant_id);
        }
    }
    if (rv != APR_SUCCESS) {
        cn_db_rollback(ctx->db);
    }
    if (cn_db_end(ctx->pool, ctx->db) != APR_SUCCESS && rv == APR_SUCCESS) {
        rv = cn_fail_db(ctx);
    }
    cn_ctx_db_close(ctx);
    return rv;
}

/* A live token of KIND under DIGEST; else invalid_token. */
static apr_status_t live_token(cn_ctx_t *ctx, const char *digest, const char *kind,
                               token_row_t *t)
{
    apr_status_t rv = digest ? load_token(ctx, digest, t) : APR_ENOENT;
    if (rv == APR_ENOENT || (rv == APR_SUCCESS && (strcmp(t->kind, kind)
                                                   || t->expires_at <= ctx->now))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_TOKEN, NULL);
    }
    return rv;
}

/* The live access token of the id_token ID, of its grant; else invalid_token. */
static apr_status_t live_id_token(cn_ctx_t *ctx, const id_token_t *id, token_row_t *t)
{
    apr_status_t rv = id_token_access(ctx, id, t);
    if (rv == APR_ENOENT || (rv == APR_SUCCESS && (t->expires_at <= ctx->now
                                                   || strcmp(t->grant_id, id->sub)))) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_TOKEN, NULL);
    }
    return rv;
}

apr_status_t cn_token_grant(cn_ctx_t *ctx, const char *access_token, cn_grant_t **grant)
{
    token_row_t t = {0};
    apr_status_t rv;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = live_token(ctx, digest_of(ctx->pool, CN_ACCESS_PREFIX, access_token), "access", &t);
    if (rv == APR_SUCCESS) {
        ctx->app_id = t.app_id;
        rv = cn_grant_load(ctx, t.grant_id, grant);
        if (rv != APR_SUCCESS && ctx->res.event->id == CN_EV_GRANT_NOT_FOUND) {
            rv = cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_TOKEN, NULL);
        }
    }
    cn_ctx_db_close(ctx);
    return rv;
}

apr_status_t cn_token_info(cn_ctx_t *ctx, const char *access_token, const char *id_token,
                           json_t **out)
{
    token_row_t t = {0};
    cn_grant_t *g = NULL;
    id_token_t id;
    apr_status_t rv;
    if (!access_token == !id_token) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "give one of access_token and id_token");
    }
    /* An id_token: checked before the store is asked. Another application's
     * is no more known than one never issued. */
    if (id_token && id_token_read(ctx, id_token, nz(ctx->app_id), 1, &id) != APR_SUCCESS) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_TOKEN, NULL);
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = access_token ? live_token(ctx, digest_of(ctx->pool, CN_ACCESS_PREFIX, access_token),
                                   "access", &t)
                      : live_id_token(ctx, &id, &t);
    if (rv == APR_SUCCESS && strcmp(t.app_id, ctx->app_id)) {
        rv = cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_TOKEN, NULL);
    }
    if (rv == APR_SUCCESS && (rv = cn_grant_load(ctx, t.grant_id, &g)) != APR_SUCCESS
        && ctx->res.event->id == CN_EV_GRANT_NOT_FOUND) {
        rv = cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_TOKEN, NULL);
    }
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *out = cn_json_own(ctx->pool,
                       json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s}", "iss",
                                 nz(ctx->base_url), "aud", t.app_id, "sub", g->id, "email",
                                 nz(g->email), "iat", (json_int_t)t.created_at, "exp",
                                 (json_int_t)t.expires_at, "grant_id", g->id, "client_id",
                                 t.app_id, "provider", g->provider, "scope", t.scope,
                                 "token_type", access_token ? "access_token" : "id_token"));
    return *out ? APR_SUCCESS : cn_fail_internal(ctx, "a token's description");
}

/* ---- housekeeping ------------------------------------------------------------------ */

apr_status_t cn_oauth_purge(cn_ctx_t *ctx, int *count)
{
    static const char *const labels[] = {"cn_code_purge", "cn_token_purge", "cn_login_purge",
                                         NULL};
    const char *const *l;
    const char *args[1];
    apr_status_t rv = APR_SUCCESS;
    *count = 0;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    args[0] = apr_ltoa(ctx->pool, (long)ctx->now);
    for (l = labels; *l && rv == APR_SUCCESS; ++l) {
        int n = 0;
        if (cn_db_exec(ctx->pool, ctx->db, *l, 1, args, &n) != APR_SUCCESS) {
            rv = cn_fail_db(ctx);
        }
        *count += n;
    }
    cn_ctx_db_close(ctx);
    return rv;
}
