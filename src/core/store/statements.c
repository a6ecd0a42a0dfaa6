/* Every statement the module runs, with its fixed label: prepared once by
 * mod_dbd at configuration time. */
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
/* What a list shows: no sealed column is read for it (settings: a password
 * grant shows them, without their secret keys). The last, revision, is the
 * list cache's signature: every statement that changes one of the other
 * columns bumps it (cn_grant_reauth, cn_grant_update). */
#define GRANT_PUBLIC_COLS \
    "id, app_id, integration_id, provider, email, grant_status, scope, user_agent, ip, state, " \
    "provider_user_id, settings, created_at, updated_at, revision"
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
#define CODE_COLS \
    "digest, app_id, grant_id, redirect_uri, scope, nonce, challenge, challenge_method, offline, " \
    "token_lifetime, auth_time, expires_at"
#define TOKEN_COLS \
    "digest, kind, app_id, grant_id, family, scope, lifetime, auth_time, expires_at, created_at"
#define WEBHOOK_COLS \
    "id, app_id, grant_key, log_id, type, body, status, attempts, next_attempt_at, retry_from, " \
    "last_attempt_at, last_status, last_error, created_at, updated_at"
#define CREDENTIAL_COLS \
    "id, integration_id, app_id, provider, name, credential_type, credential_data, " \
    "created_at, updated_at"

#define CIO_ACCOUNT_COLS \
    "id, app_id, email, first_name, last_name, suspended, access_token, created_at"
#define CIO_TOKEN_COLS \
    "digest, token, app_id, account_id, for_account, email, first_name, last_name, " \
    "callback_url, options, created_at, expires_at, used_at"

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
    /* app permissions (schema 12): the tenant an admin consented for, and the
     * credential a grant was made with */
    {"cn_credential_use",
     "SELECT " CREDENTIAL_COLS ", consented_tenant FROM credentials "
     "WHERE id = %s AND integration_id = %s"},
    {"cn_credential_consent",
     "UPDATE credentials SET consented_tenant = %s, consented_at = %lld "
     "WHERE id = %s AND integration_id = %s"},
    {"cn_credential_consent_clear",
     "UPDATE credentials SET consented_tenant = NULL, consented_at = NULL "
     "WHERE id = %s AND integration_id = %s"},
    {"cn_grant_set_credential", "UPDATE grants SET credential_id = %s WHERE id = %s AND app_id = %s"},
    {"cn_grant_credential", "SELECT credential_id FROM grants WHERE id = %s AND app_id = %s"},
    /* login requests of the hosted flow (the id is kept only as a digest) */
    {"cn_login_insert",
     "INSERT INTO login_requests (id_digest, app_id, integration_id, provider, request, "
     "expires_at, created_at, kind) VALUES (%s, %s, %s, %s, %s, %lld, %lld, %s)"},
    {"cn_login_get",
     "SELECT id_digest, app_id, integration_id, provider, request, expires_at, used_at, kind "
     "FROM login_requests WHERE id_digest = %s"},
    /* a login of the login screen ('' provider) takes the one chosen */
    {"cn_login_use",
     "UPDATE login_requests SET used_at = %lld, provider = %s, integration_id = %s "
     "WHERE id_digest = %s AND used_at IS NULL AND expires_at > %lld "
     "AND (provider = '' OR provider = %s)"},
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
    /* settings NULL: as they are (an OAuth grant's belong to the application) */
    {"cn_grant_reauth",
     "UPDATE grants SET grant_status = 'valid', scope = %s, user_agent = %s, ip = %s, state = %s, "
     "provider_user_id = %s, refresh_token = %s, access_token = %s, access_expires_at = %lld, "
     "integration_id = %s, updated_at = %lld, email = %s, subject = %s, "
     "settings = COALESCE(%s, settings), "
     "revision = revision + 1 WHERE id = %s AND app_id = %s"},
    {"cn_grant_update",
     "UPDATE grants SET scope = %s, settings = %s, refresh_token = %s, updated_at = %lld, "
     "revision = revision + 1 WHERE id = %s AND app_id = %s"},
    {"cn_grant_delete", "DELETE FROM grants WHERE id = %s AND app_id = %s"},
    /* POST /grants/{id}/access_token: the refresh lease is taken only when
     * no other holds it and the access token is still stale, so one refresh
     * per grant is in flight however many callers, processes and nodes ask */
    {"cn_grant_lease",
     "UPDATE grants SET refresh_lease_until = %lld WHERE id = %s AND app_id = %s "
     "AND grant_status = 'valid' AND refresh_lease_until < %lld AND refresh_retry_at <= %lld "
     "AND (access_token IS NULL OR access_expires_at < %lld)"},
    /* the same lease for the refresh of a grant unused since before a time */
    {"cn_grant_lease_unused",
     "UPDATE grants SET refresh_lease_until = %lld WHERE id = %s AND app_id = %s "
     "AND grant_status = 'valid' AND refresh_lease_until < %lld AND refresh_retry_at <= %lld "
     "AND refreshed_at < %lld"},
    /* a failed refresh: the lease given back, the cool-down set */
    {"cn_grant_refresh_failed",
     "UPDATE grants SET refresh_lease_until = 0, refresh_failures = %d, refresh_retry_at = %lld "
     "WHERE id = %s AND app_id = %s AND refresh_lease_until = %lld"},
    {"cn_grant_refresh_state",
     "SELECT refresh_failures, refresh_retry_at FROM grants WHERE id = %s AND app_id = %s"},
    /* a sign-in brings a new refresh token: as good as a refresh */
    {"cn_grant_signed_in",
     "UPDATE grants SET refreshed_at = %lld, refresh_failures = 0, refresh_retry_at = 0 "
     "WHERE id = %s AND app_id = %s"},
    /* the refresh job (src/core/jobs/refresh.c): valid OAuth grants not
     * refreshed since a time, out of their cool-down and lease, a batch at a
     * time in (refreshed_at, id) order after the last one seen */
    {"cn_job_refresh_unused",
     "SELECT id, app_id, refreshed_at FROM grants WHERE grant_status = 'valid' "
     "AND provider <> 'imap' AND refresh_token IS NOT NULL AND refreshed_at < %lld "
     "AND refresh_retry_at <= %lld AND refresh_lease_until < %lld "
     "AND (refreshed_at > %lld OR (refreshed_at = %lld AND id > %s)) "
     "ORDER BY refreshed_at, id LIMIT %d"},
    {"cn_grant_lease_release",
     "UPDATE grants SET refresh_lease_until = 0 WHERE id = %s AND app_id = %s "
     "AND refresh_lease_until = %lld"},
    /* the refreshed tokens; a NULL refresh token keeps the stored one */
    {"cn_grant_set_tokens",
     "UPDATE grants SET access_token = %s, access_expires_at = %lld, "
     "refresh_token = COALESCE(%s, refresh_token), refresh_lease_until = 0, "
     "refreshed_at = %lld, refresh_failures = 0, refresh_retry_at = 0 "
     "WHERE id = %s AND app_id = %s"},
    {"cn_grant_invalidate",
     "UPDATE grants SET grant_status = 'invalid', refresh_lease_until = 0, updated_at = %lld, "
     "revision = revision + 1 WHERE id = %s AND app_id = %s"},
    {"cn_grant_delete_integration", "DELETE FROM grants WHERE integration_id = %s"},
    /* the refresh_token column holds a refresh token, or (provider imap) a
     * mailbox password sealed under its own AAD */
    {"cn_grant_all_refresh", "SELECT id, refresh_token FROM grants "
     "WHERE refresh_token IS NOT NULL AND provider <> 'imap'"},
    {"cn_grant_all_password", "SELECT id, refresh_token FROM grants "
     "WHERE refresh_token IS NOT NULL AND provider = 'imap'"},
    {"cn_grant_set_refresh", "UPDATE grants SET refresh_token = %s WHERE id = %s"},
    {"cn_grant_all_access", "SELECT id, access_token FROM grants WHERE access_token IS NOT NULL"},
    {"cn_grant_set_access", "UPDATE grants SET access_token = %s WHERE id = %s"},
    {"cn_grant_all_settings", "SELECT id, settings FROM grants WHERE settings <> '{}'"},
    {"cn_grant_set_settings", "UPDATE grants SET settings = %s WHERE id = %s"},
    GRANT_LISTS("all", ""),
    GRANT_LISTS("provider", " AND provider = %s"),
    GRANT_LISTS("email", " AND email = %s"),
    GRANT_LISTS("provider_email", " AND provider = %s AND email = %s"),
    /* the OAuth 2.0 server: authorization codes and the tokens issued for
     * them, kept as SHA-256 digests */
    {"cn_code_insert",
     "INSERT INTO oauth_codes (" CODE_COLS ", created_at) VALUES "
     "(%s, %s, %s, %s, %s, %s, %s, %s, %d, %d, %lld, %lld, %lld)"},
    {"cn_code_get", "SELECT " CODE_COLS ", used_at FROM oauth_codes WHERE digest = %s"},
    {"cn_code_use", "UPDATE oauth_codes SET used_at = %lld WHERE digest = %s AND used_at IS NULL"},
    {"cn_code_delete_grant", "DELETE FROM oauth_codes WHERE grant_id = %s"},
    {"cn_code_delete_integration",
     "DELETE FROM oauth_codes WHERE grant_id IN (SELECT id FROM grants WHERE integration_id = %s)"},
    {"cn_code_purge", "DELETE FROM oauth_codes WHERE expires_at < %lld"},
    {"cn_token_insert",
     "INSERT INTO oauth_tokens (" TOKEN_COLS ") VALUES "
     "(%s, %s, %s, %s, %s, %s, %d, %lld, %lld, %lld)"},
    /* an exchange's access and refresh tokens, in one statement */
    {"cn_token_insert_pair",
     "INSERT INTO oauth_tokens (" TOKEN_COLS ") VALUES "
     "(%s, %s, %s, %s, %s, %s, %d, %lld, %lld, %lld), "
     "(%s, %s, %s, %s, %s, %s, %d, %lld, %lld, %lld)"},
    {"cn_token_get", "SELECT " TOKEN_COLS ", rotated_at FROM oauth_tokens WHERE digest = %s"},
    /* The access token an id_token names by its at_hash: the left half of
     * the token's SHA-256, so the first 32 hex digits of its digest. A range
     * of the primary key between that prefix followed by 32 '0's and by 32
     * 'f's: an index range scan on SQLite and on PostgreSQL (whatever the
     * collation: both bounds and every digest are lowercase hex of one
     * length), where LIKE 'prefix%' would need the C collation. */
    {"cn_token_access_by_prefix",
     "SELECT " TOKEN_COLS ", rotated_at FROM oauth_tokens "
     "WHERE digest >= %s AND digest <= %s AND kind = 'access' LIMIT 2"},
    /* a refresh token is exchanged once: of two concurrent uses, one wins */
    {"cn_token_rotate",
     "UPDATE oauth_tokens SET rotated_at = %lld "
     "WHERE digest = %s AND kind = 'refresh' AND rotated_at IS NULL"},
    {"cn_token_delete_family", "DELETE FROM oauth_tokens WHERE family = %s"},
    {"cn_token_delete_grant", "DELETE FROM oauth_tokens WHERE grant_id = %s"},
    {"cn_token_delete_integration",
     "DELETE FROM oauth_tokens WHERE grant_id IN (SELECT id FROM grants WHERE integration_id = %s)"},
    {"cn_token_purge", "DELETE FROM oauth_tokens WHERE expires_at < %lld"},
    /* events, in the seed's pub/sub message shape */
    {"cn_event_insert",
     "INSERT INTO events (log_id, app_id, code, type, level, message, data, request_id, time) "
     "VALUES (%s, %s, %d, %s, %s, %s, %s, %s, %lld)"},
    /* job leases (src/core/jobs/lease.c): made once, then taken only where
     * free, expired or already the taker's */
    {"cn_lease_insert",
     "INSERT INTO job_leases (name, holder, expires_at) VALUES (%s, %s, %lld) "
     "ON CONFLICT (name) DO NOTHING"},
    {"cn_lease_take",
     "UPDATE job_leases SET holder = %s, expires_at = %lld "
     "WHERE name = %s AND (expires_at <= %lld OR holder = %s)"},
    {"cn_lease_release",
     "UPDATE job_leases SET expires_at = %lld WHERE name = %s AND holder = %s"},
    /* a long job keeps its lease, unless another took it meanwhile */
    {"cn_lease_renew",
     "UPDATE job_leases SET expires_at = %lld WHERE name = %s AND holder = %s"},
    /* the purge job (src/core/jobs/purge.c): a batch of rows per statement */
    {"cn_job_purge_logins",
     "DELETE FROM login_requests WHERE id_digest IN "
     "(SELECT id_digest FROM login_requests WHERE expires_at < %lld LIMIT %d)"},
    {"cn_job_purge_codes",
     "DELETE FROM oauth_codes WHERE digest IN "
     "(SELECT digest FROM oauth_codes WHERE expires_at < %lld LIMIT %d)"},
    {"cn_job_purge_tokens",
     "DELETE FROM oauth_tokens WHERE digest IN "
     "(SELECT digest FROM oauth_tokens WHERE expires_at < %lld LIMIT %d)"},
    {"cn_job_purge_events",
     "DELETE FROM events WHERE log_id IN "
     "(SELECT log_id FROM events WHERE time < %lld LIMIT %d)"},
    /* webhooks (src/core/jobs/webhook.c): the outbox of each application */
    {"cn_webhook_insert",
     "INSERT INTO webhook_deliveries (id, app_id, grant_key, log_id, type, body, status, "
     "attempts, next_attempt_at, retry_from, created_at, updated_at) VALUES "
     "(%s, %s, %s, %s, %s, %s, 'pending', 0, %lld, %lld, %lld, %lld)"},
    /* due: the oldest pending delivery of its grant (a later one waits for
     * it, whatever its time), whose time has come */
    {"cn_webhook_due",
     "SELECT seq, " WEBHOOK_COLS " FROM webhook_deliveries d "
     "WHERE status = 'pending' AND next_attempt_at <= %lld AND NOT EXISTS "
     "(SELECT 1 FROM webhook_deliveries e WHERE e.status = 'pending' AND e.app_id = d.app_id "
     "AND e.grant_key = d.grant_key AND e.seq < d.seq) ORDER BY seq LIMIT %d"},
    {"cn_webhook_any_due",
     "SELECT seq FROM webhook_deliveries d WHERE status = 'pending' AND next_attempt_at <= %lld "
     "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.status = 'pending' "
     "AND e.app_id = d.app_id AND e.grant_key = d.grant_key AND e.seq < d.seq) LIMIT 1"},
    /* the backlog, for the metrics */
    {"cn_webhook_backlog", "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"},
    /* the outcome of an attempt (ATTEMPTED 1) or of a decision without one (0) */
    {"cn_webhook_set_delivered",
     "UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, "
     "last_attempt_at = %lld, last_status = %d, last_error = NULL, updated_at = %lld "
     "WHERE id = %s AND status = 'pending'"},
    {"cn_webhook_set_retry",
     "UPDATE webhook_deliveries SET attempts = attempts + %d, next_attempt_at = %lld, "
     "last_attempt_at = COALESCE(%lld, last_attempt_at), last_status = %d, last_error = %s, "
     "updated_at = %lld WHERE id = %s AND status = 'pending'"},
    {"cn_webhook_set_failed",
     "UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + %d, "
     "last_attempt_at = COALESCE(%lld, last_attempt_at), last_status = %d, last_error = %s, "
     "updated_at = %lld WHERE id = %s AND status = 'pending'"},
    /* GET /webhooks/deliveries[?status=], newest first; POST .../{id}/retry */
    {"cn_webhook_list",
     "SELECT " WEBHOOK_COLS " FROM webhook_deliveries WHERE app_id = %s "
     "AND (%s = '' OR status = %s) ORDER BY seq DESC LIMIT %d OFFSET %d"},
    {"cn_webhook_get", "SELECT " WEBHOOK_COLS " FROM webhook_deliveries WHERE id = %s AND app_id = %s"},
    {"cn_webhook_requeue",
     "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = %lld, "
     "retry_from = %lld, updated_at = %lld WHERE id = %s AND app_id = %s "
     "AND status IN ('pending', 'failed')"},
    /* delivered and failed rows older than the event retention */
    {"cn_webhook_purge",
     "DELETE FROM webhook_deliveries WHERE seq IN (SELECT seq FROM webhook_deliveries "
     "WHERE updated_at < %lld AND status <> 'pending' LIMIT %d)"},
    /* the Context.IO API: accounts (a user's grants are its sources) and
     * connect tokens (a digest to look up, the token sealed to list back) */
    {"cn_cio_account_insert",
     "INSERT INTO cio_accounts (" CIO_ACCOUNT_COLS ", access_token_secret) VALUES "
     "(%s, %s, %s, %s, %s, %lld, %s, %lld, %s)"},
    {"cn_cio_account_get",
     "SELECT " CIO_ACCOUNT_COLS " FROM cio_accounts WHERE id = %s AND app_id = %s"},
    {"cn_cio_account_by_token",
     "SELECT " CIO_ACCOUNT_COLS ", access_token_secret FROM cio_accounts "
     "WHERE access_token = %s AND app_id = %s"},
    {"cn_cio_account_list",
     "SELECT " CIO_ACCOUNT_COLS " FROM cio_accounts WHERE app_id = %s "
     "AND (%s = '' OR email = %s) ORDER BY created_at, id LIMIT %d OFFSET %d"},
    {"cn_cio_account_delete", "DELETE FROM cio_accounts WHERE id = %s AND app_id = %s"},
    /* a 3-legged account made by the connect UI gets its token once */
    {"cn_cio_account_set_token",
     "UPDATE cio_accounts SET access_token = %s, access_token_secret = %s "
     "WHERE id = %s AND app_id = %s AND access_token IS NULL"},
    {"cn_cio_account_grants",
     "SELECT id FROM grants WHERE app_id = %s AND account_id = %s ORDER BY created_at, id"},
    {"cn_cio_grant_link",
     "UPDATE grants SET account_id = %s WHERE id = %s AND app_id = %s"},
    {"cn_cio_token_insert",
     "INSERT INTO cio_connect_tokens (" CIO_TOKEN_COLS ") VALUES "
     "(%s, %s, %s, %s, %d, %s, %s, %s, %s, %s, %lld, %lld, 0)"},
    {"cn_cio_token_get",
     "SELECT " CIO_TOKEN_COLS " FROM cio_connect_tokens WHERE digest = %s AND app_id = %s"},
    /* unused tokens past their time are gone, purged or not */
    /* the connect UI: a token by its digest alone (the browser names no application) */
    {"cn_cio_token_by_digest",
     "SELECT " CIO_TOKEN_COLS " FROM cio_connect_tokens WHERE digest = %s"},
    {"cn_cio_token_names",
     "UPDATE cio_connect_tokens SET first_name = %s, last_name = %s "
     "WHERE digest = %s AND used_at = 0"},
    {"cn_cio_token_use",
     "UPDATE cio_connect_tokens SET used_at = %lld, account_id = %s "
     "WHERE digest = %s AND used_at = 0 AND expires_at > %lld"},
    {"cn_cio_token_list",
     "SELECT " CIO_TOKEN_COLS " FROM cio_connect_tokens WHERE app_id = %s "
     "AND (used_at <> 0 OR expires_at > %lld) ORDER BY created_at, digest LIMIT %d"},
    {"cn_cio_token_list_account",
     "SELECT " CIO_TOKEN_COLS " FROM cio_connect_tokens WHERE app_id = %s AND account_id = %s "
     "AND for_account = 1 AND (used_at <> 0 OR expires_at > %lld) "
     "ORDER BY created_at, digest LIMIT %d"},
    {"cn_cio_token_delete",
     "DELETE FROM cio_connect_tokens WHERE digest = %s AND app_id = %s"},
    {"cn_job_purge_connect_tokens",
     "DELETE FROM cio_connect_tokens WHERE digest IN (SELECT digest FROM cio_connect_tokens "
     "WHERE used_at = 0 AND expires_at < %lld LIMIT %d)"},
    /* ConnectReencrypt */
    {"cn_cio_all_tokens", "SELECT digest, token FROM cio_connect_tokens"},
    {"cn_cio_set_token", "UPDATE cio_connect_tokens SET token = %s WHERE digest = %s"},
    {"cn_cio_all_account_secrets",
     "SELECT id, access_token_secret FROM cio_accounts WHERE access_token_secret IS NOT NULL"},
    {"cn_cio_set_account_secret", "UPDATE cio_accounts SET access_token_secret = %s WHERE id = %s"},
    {"cn_cio_token_delete_account",
     "DELETE FROM cio_connect_tokens WHERE account_id = %s AND app_id = %s"},
    {NULL, NULL}
};

const cn_stmt_def_t *cn_store_statements(void)
{
    return statements;
}
