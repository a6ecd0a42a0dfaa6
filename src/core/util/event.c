#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_errno.h>

#include "cn_util.h"

/* The complete table of seed 004, in its order. http_code 0 = N/A. */
/* Indexed by cn_event_id_t; the zeroed entry after the last ends the table. */
static const cn_event_t events[CN_EV__COUNT + 1] = {
    [CN_EV_BAD_REQUEST] = {CN_EV_BAD_REQUEST, "bad_request", 400, 400, "HTTP", "Bad request"},
    [CN_EV_INVALID_REQUEST_ERROR] = {CN_EV_INVALID_REQUEST_ERROR, "invalid_request_error", 401, 401, "HTTP", "Authentication error"},
    [CN_EV_UNAUTHORIZED_ACCESS] = {CN_EV_UNAUTHORIZED_ACCESS, "unauthorized_access", 403, 403, "HTTP", "Unauthorized access"},
    [CN_EV_NOT_FOUND_ERROR] = {CN_EV_NOT_FOUND_ERROR, "not_found_error", 404, 404, "HTTP", "Resource not found"},
    [CN_EV_INTERNAL_ERROR] = {CN_EV_INTERNAL_ERROR, "internal_error", 500, 500, "HTTP", "Internal error, contact administrator"},
    [CN_EV_INVALID_REQUEST_PAYLOAD] = {CN_EV_INVALID_REQUEST_PAYLOAD, "invalid_request_payload", 700, 400, "HTTP", "Invalid JSON payload format"},
    [CN_EV_INVALID_QUERY_PARAMS] = {CN_EV_INVALID_QUERY_PARAMS, "invalid_query_params", 701, 400, "HTTP", "Invalid query params provided"},
    [CN_EV_APP_ID_NOT_ALLOWED] = {CN_EV_APP_ID_NOT_ALLOWED, "app_id_not_allowed", 702, 400, "HTTP", "Application ID not allowed"},
    [CN_EV_INVALID_TOKEN_EXPIRY] = {CN_EV_INVALID_TOKEN_EXPIRY, "invalid_token_expiry", 15001, 400, "Token", "Invalid expires_in value, should be integer in seconds, minimum 60secs and maximum 10 years"},
    [CN_EV_LOGIN_EXPIRES_IN_INVALID] = {CN_EV_LOGIN_EXPIRES_IN_INVALID, "login_expires_in_invalid", 25002, 400, "Grant", "expires_in should be more than one minute and less than 24 hours"},
    [CN_EV_REDIRECT_URI_NOT_ALLOWED] = {CN_EV_REDIRECT_URI_NOT_ALLOWED, "redirect_uri_not_allowed", 25003, 400, "Grant", "redirect_uri is not allowed for this integration"},
    [CN_EV_LOGIN_ID_INVALID] = {CN_EV_LOGIN_ID_INVALID, "login_id_invalid", 25004, 400, "Grant", "Login ID or request is invalid or has expired"},
    [CN_EV_INTEGRATION_NO_LONGER_EXISTS] = {CN_EV_INTEGRATION_NO_LONGER_EXISTS, "integration_no_longer_exists", 25005, 400, "Grant", "Integration no longer exists"},
    [CN_EV_NO_LOGIN_SCOPES] = {CN_EV_NO_LOGIN_SCOPES, "no_login_scopes", 25006, 400, "Grant", "Integration default scopes and login request scopes are both empty"},
    [CN_EV_GRANT_NOT_FOUND] = {CN_EV_GRANT_NOT_FOUND, "grant_not_found", 25007, 404, "Grant", "Grant not found"},
    [CN_EV_REFRESH_TOKEN_INVALID] = {CN_EV_REFRESH_TOKEN_INVALID, "refresh_token_invalid", 25008, 400, "Grant", "Invalid refresh_token supplied to grant"},
    [CN_EV_GRANT_EXPIRED] = {CN_EV_GRANT_EXPIRED, "grant_expired", 25009, 0, "Grant", "Grant refresh/access token has expired, please re-auth. Marked as invalid grant"},
    [CN_EV_PROVIDER_REQUIRED] = {CN_EV_PROVIDER_REQUIRED, "provider_required", 25010, 400, "Grant", "Provider field is required"},
    [CN_EV_REFRESH_TOKEN_REQUIRED] = {CN_EV_REFRESH_TOKEN_REQUIRED, "refresh_token_required", 25011, 400, "Grant", "refresh_token field is required"},
    [CN_EV_GRANT_CREATED] = {CN_EV_GRANT_CREATED, "grant_created", 25012, 201, "Grant", "Grant created"},
    [CN_EV_GRANT_DELETED] = {CN_EV_GRANT_DELETED, "grant_deleted", 25013, 200, "Grant", "Grant deleted"},
    [CN_EV_GRANT_UPDATED] = {CN_EV_GRANT_UPDATED, "grant_updated", 25014, 200, "Grant", "Grant updated"},
    [CN_EV_REAUTH_EMAIL_INVALID] = {CN_EV_REAUTH_EMAIL_INVALID, "reauth_email_invalid", 25015, 0, "Grant", "Emails did not match during reauth"},
    [CN_EV_SCOPES_CONFLICT] = {CN_EV_SCOPES_CONFLICT, "scopes_conflict", 25016, 0, "Grant", "Some requested scopes were NOT included in the completed hosted auth, resulting in denied authentication"},
    [CN_EV_GMAIL_DOMAIN_INVALID] = {CN_EV_GMAIL_DOMAIN_INVALID, "gmail_domain_invalid", 25017, 0, "Grant", "GMail domain is not allowed, resulting in denied authentication"},
    [CN_EV_GRANT_ACCESS_DENIED] = {CN_EV_GRANT_ACCESS_DENIED, "grant_access_denied", 25018, 0, "Grant", "Access to grant denied"},
    [CN_EV_HISTORIC_SYNC_COMPLETED] = {CN_EV_HISTORIC_SYNC_COMPLETED, "historic_sync_completed", 25020, 0, "Grant", "Historic sync completed"},
    [CN_EV_INVALID_AUTHENTICATION] = {CN_EV_INVALID_AUTHENTICATION, "invalid_authentication", 25021, 0, "Grant", "Authentication failed due to wrong input or credentials"},
    [CN_EV_PROVIDER_NOT_RESPONDING] = {CN_EV_PROVIDER_NOT_RESPONDING, "provider_not_responding", 25022, 0, "Grant", "Provider not responding"},
    [CN_EV_AUTH_LIMIT_REACHED] = {CN_EV_AUTH_LIMIT_REACHED, "auth_limit_reached", 25023, 0, "Grant", "Max number of retries reached for hosted authentication"},
    [CN_EV_GRANT_REAUTHENTICATED] = {CN_EV_GRANT_REAUTHENTICATED, "grant_reauthenticated", 25027, 0, "Grant", "Existing Grant re-authenticated"},
    [CN_EV_HOSTED_LOGIN_STARTED] = {CN_EV_HOSTED_LOGIN_STARTED, "hosted_login_started", 26001, 0, "Grant", "Hosted login started. Occurs when user visits \"/connect/login?id=...\""},
    [CN_EV_HOSTED_LOGIN_USED] = {CN_EV_HOSTED_LOGIN_USED, "hosted_login_used", 26002, 0, "Grant", "Hosted login used. Happens when user gets redirected to \"/connect/callback\""},
    [CN_EV_SESSION_REVOKE_FAILED] = {CN_EV_SESSION_REVOKE_FAILED, "session_revoke_failed", 26004, 400, "Grant", "Session revoke failed"},
    [CN_EV_SESSION_REVOKE_SUCCESS] = {CN_EV_SESSION_REVOKE_SUCCESS, "session_revoke_success", 26005, 0, "Grant", "Session revoke success"},
    [CN_EV_INTEGRATION_CREATED] = {CN_EV_INTEGRATION_CREATED, "integration_created", 31001, 201, "Integration", "Integration created"},
    [CN_EV_INTEGRATION_DELETED] = {CN_EV_INTEGRATION_DELETED, "integration_deleted", 31002, 200, "Integration", "Integration deleted"},
    [CN_EV_INTEGRATION_UPDATED] = {CN_EV_INTEGRATION_UPDATED, "integration_updated", 31003, 200, "Integration", "Integration updated"},
    [CN_EV_INTEGRATION_NOT_FOUND] = {CN_EV_INTEGRATION_NOT_FOUND, "integration_not_found", 35004, 404, "Integration", "Integration not found"},
    [CN_EV_PROVIDER_NOT_SUPPORTED] = {CN_EV_PROVIDER_NOT_SUPPORTED, "provider_not_supported", 31005, 400, "Integration", "Provider invalid or not supported"},
    [CN_EV_PROVIDER_SETTINGS_INVALID] = {CN_EV_PROVIDER_SETTINGS_INVALID, "provider_settings_invalid", 35006, 400, "Integration", "Provider settings not supported"},
    [CN_EV_PROVIDER_SETTINGS_SECRET_REQUIRED] = {CN_EV_PROVIDER_SETTINGS_SECRET_REQUIRED, "provider_settings_secret_required", 35007, 400, "Integration", "Provider settings and secret both are required if one needs to change"},
    [CN_EV_INTEGRATION_ALREADY_EXISTS] = {CN_EV_INTEGRATION_ALREADY_EXISTS, "integration_already_exists", 35008, 400, "Integration", "Integration already exists"},
    [CN_EV_INTEGRATION_PROBLEM] = {CN_EV_INTEGRATION_PROBLEM, "integration_problem", 35009, 400, "Integration", "Issues found with integration's settings/config"},
    [CN_EV_CREDENTIAL_NOT_FOUND] = {CN_EV_CREDENTIAL_NOT_FOUND, "credential_not_found", 35010, 400, "Integration", "Credential not found"},
    [CN_EV_CREDENTIAL_ALREADY_EXISTS] = {CN_EV_CREDENTIAL_ALREADY_EXISTS, "credential_already_exists", 35011, 400, "Integration", "Credential with this name for given integration already exists"},
    [CN_EV_CREDENTIAL_MISSING_PARAM] = {CN_EV_CREDENTIAL_MISSING_PARAM, "credential_missing_param", 35012, 400, "Integration", "Credential is missing some essential values in its settings"},
    [CN_EV_CREDENTIAL_CREATED] = {CN_EV_CREDENTIAL_CREATED, "credential_created", 31013, 201, "Integration", "Credential created"},
    [CN_EV_CREDENTIAL_UPDATED] = {CN_EV_CREDENTIAL_UPDATED, "credential_updated", 31014, 200, "Integration", "Credential updated"},
    [CN_EV_CREDENTIAL_DELETED] = {CN_EV_CREDENTIAL_DELETED, "credential_deleted", 31015, 200, "Integration", "Credential deleted"},
    [CN_EV_PROVIDER_CODE_REQUEST_FAILED] = {CN_EV_PROVIDER_CODE_REQUEST_FAILED, "provider_code_request_failed", 45001, 400, "Provider", "Provider refused to return refresh_token using code (hosted auth)"},
    [CN_EV_OAUTH_FAILED] = {CN_EV_OAUTH_FAILED, "oauth_failed", 45002, 400, "Provider", "Hosted OAuth failed due to rejection by provider or user refusing consent"},
    [CN_EV_INVALID_CLIENT] = {CN_EV_INVALID_CLIENT, "invalid_client", 45003, 400, "Provider", "The OAuth client was not found"},
    [CN_EV_INVALID_GRANT] = {CN_EV_INVALID_GRANT, "invalid_grant", 45004, 400, "Grant", "Error creating grant with provided OAuth params"},
    [CN_EV_INVALID_REQUEST] = {CN_EV_INVALID_REQUEST, "invalid_request", 45005, 400, "HTTP", "The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed"},
    [CN_EV_REDIRECT_URI_MISMATCH] = {CN_EV_REDIRECT_URI_MISMATCH, "redirect_uri_mismatch", 45006, 400, "Integration", "Redirect URI not allowed"},
    [CN_EV_UNSUPPORTED_GRANT_TYPE] = {CN_EV_UNSUPPORTED_GRANT_TYPE, "unsupported_grant_type", 45007, 400, "Grant", "Invalid grant_type"},
    [CN_EV_INVALID_TOKEN] = {CN_EV_INVALID_TOKEN, "invalid_token", 45008, 400, "Token", "Token expired or revoked"},
    [CN_EV_OAUTH_REDIRECT] = {CN_EV_OAUTH_REDIRECT, "oauth_redirect", 45009, 0, "HTTP", "Redirecting in OAuth2.0 protocol"},
    [CN_EV_OAUTH_PROVIDER_ERROR] = {CN_EV_OAUTH_PROVIDER_ERROR, "oauth_provider_error", 45010, 400, "Provider", "Error from OAuth2 provider"},
    /* beyond the seed: RFC 6749 errors of the OAuth 2.0 server the seed has no event for */
    [CN_EV_UNAUTHORIZED_CLIENT] = {CN_EV_UNAUTHORIZED_CLIENT, "unauthorized_client", 45011, 400, "HTTP", "The client is not allowed to use this grant type"},
    [CN_EV_INVALID_SCOPE] = {CN_EV_INVALID_SCOPE, "invalid_scope", 45012, 400, "HTTP", "The requested scope is invalid or exceeds the scope granted"},
    [CN_EV_UNSUPPORTED_RESPONSE_TYPE] = {CN_EV_UNSUPPORTED_RESPONSE_TYPE, "unsupported_response_type", 45013, 400, "HTTP", "The response_type is not supported"},
    /* beyond the seed: a provider whose TLS cannot be trusted; like the seed's
     * provider events of IMAP (provider_not_responding), no HTTP code of its own */
    [CN_EV_PROVIDER_TLS_FAILED] = {CN_EV_PROVIDER_TLS_FAILED, "provider_tls_failed", 45014, 0, "Provider", "The provider's TLS certificate is not trusted, or a secure connection to it could not be set up"},
    /* beyond the seed: the HTTP layer's own answers */
    [CN_EV_METHOD_NOT_ALLOWED] = {CN_EV_METHOD_NOT_ALLOWED, "method_not_allowed", 405, 405, "HTTP", "Method not allowed"},
    [CN_EV_PAYLOAD_TOO_LARGE] = {CN_EV_PAYLOAD_TOO_LARGE, "payload_too_large", 413, 413, "HTTP", "Request body too large"},
    [CN_EV_UNSUPPORTED_MEDIA_TYPE] = {CN_EV_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, 415, "HTTP", "The body must be application/json"},
    [CN_EV_SERVICE_UNAVAILABLE] = {CN_EV_SERVICE_UNAVAILABLE, "service_unavailable", 503, 503, "HTTP", "Service temporarily unavailable"},
};

const cn_event_t *cn_event_table(void)
{
    return events;
}

const cn_event_t *cn_event(cn_event_id_t id)
{
    return (unsigned)id < CN_EV__COUNT ? &events[id] : &events[CN_EV_INTERNAL_ERROR];
}

const cn_event_t *cn_event_by_type(const char *type)
{
    const cn_event_t *e;
    if (!type) {
        return NULL;
    }
    for (e = events; e->type; ++e) {
        if (!strcmp(e->type, type)) {
            return e;
        }
    }
    return NULL;
}

const cn_event_t *cn_event_by_code(int code)
{
    const cn_event_t *e;
    for (e = events; e->type; ++e) {
        if (e->code == code) {
            return e;
        }
    }
    return NULL;
}

static apr_status_t fail(apr_pool_t *pool, cn_result_t *r, apr_status_t rv, cn_event_id_t id,
                         const char *fmt, va_list ap)
{
    r->status = rv;
    r->event = cn_event(id);
    r->description = fmt ? apr_pvsprintf(pool, fmt, ap) : NULL;
    r->retry_after = 0;
    return rv;
}

apr_status_t cn_fail(apr_pool_t *pool, cn_result_t *r, cn_event_id_t id, const char *fmt, ...)
{
    va_list ap;
    apr_status_t rv;
    va_start(ap, fmt);
    rv = fail(pool, r, APR_EGENERAL, id, fmt, ap);
    va_end(ap);
    return rv;
}

apr_status_t cn_fail_rv(apr_pool_t *pool, cn_result_t *r, apr_status_t rv, cn_event_id_t id,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rv = fail(pool, r, rv == APR_SUCCESS ? APR_EGENERAL : rv, id, fmt, ap);
    va_end(ap);
    return rv;
}
