#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_errno.h>

#include "cn_util.h"

/* The complete table of seed 004, in its order. http_code 0 = N/A. */
static const cn_event_t events[] = {
    {"bad_request", 400, 400, "HTTP", "Bad request"},
    {"invalid_request_error", 401, 401, "HTTP", "Authentication error"},
    {"unauthorized_access", 403, 403, "HTTP", "Unauthorized access"},
    {"not_found_error", 404, 404, "HTTP", "Resource not found"},
    {"internal_error", 500, 500, "HTTP", "Internal error, contact administrator"},
    {"invalid_request_payload", 700, 400, "HTTP", "Invalid JSON payload format"},
    {"invalid_query_params", 701, 400, "HTTP", "Invalid query params provided"},
    {"app_id_not_allowed", 702, 400, "HTTP", "Application ID not allowed"},
    {"invalid_token_expiry", 15001, 400, "Token",
     "Invalid expires_in value, should be integer in seconds, minimum 60secs and maximum 10 years"},
    {"login_expires_in_invalid", 25002, 400, "Grant",
     "expires_in should be more than one minute and less than 24 hours"},
    {"redirect_uri_not_allowed", 25003, 400, "Grant",
     "redirect_uri is not allowed for this integration"},
    {"login_id_invalid", 25004, 400, "Grant", "Login ID or request is invalid or has expired"},
    {"integration_no_longer_exists", 25005, 400, "Grant", "Integration no longer exists"},
    {"no_login_scopes", 25006, 400, "Grant",
     "Integration default scopes and login request scopes are both empty"},
    {"grant_not_found", 25007, 404, "Grant", "Grant not found"},
    {"refresh_token_invalid", 25008, 400, "Grant", "Invalid refresh_token supplied to grant"},
    {"grant_expired", 25009, 0, "Grant",
     "Grant refresh/access token has expired, please re-auth. Marked as invalid grant"},
    {"provider_required", 25010, 400, "Grant", "Provider field is required"},
    {"refresh_token_required", 25011, 400, "Grant", "refresh_token field is required"},
    {"grant_created", 25012, 201, "Grant", "Grant created"},
    {"grant_deleted", 25013, 200, "Grant", "Grant deleted"},
    {"grant_updated", 25014, 200, "Grant", "Grant updated"},
    {"reauth_email_invalid", 25015, 0, "Grant", "Emails did not match during reauth"},
    {"scopes_conflict", 25016, 0, "Grant",
     "Some requested scopes were NOT included in the completed hosted auth, resulting in denied authentication"},
    {"gmail_domain_invalid", 25017, 0, "Grant",
     "GMail domain is not allowed, resulting in denied authentication"},
    {"grant_access_denied", 25018, 0, "Grant", "Access to grant denied"},
    {"historic_sync_completed", 25020, 0, "Grant", "Historic sync completed"},
    {"invalid_authentication", 25021, 0, "Grant",
     "Authentication failed due to wrong input or credentials"},
    {"provider_not_responding", 25022, 0, "Grant", "Provider not responding"},
    {"auth_limit_reached", 25023, 0, "Grant",
     "Max number of retries reached for hosted authentication"},
    {"grant_reauthenticated", 25027, 0, "Grant", "Existing Grant re-authenticated"},
    {"hosted_login_started", 26001, 0, "Grant",
     "Hosted login started. Occurs when user visits \"/connect/login?id=...\""},
    {"hosted_login_used", 26002, 0, "Grant",
     "Hosted login used. Happens when user gets redirected to \"/connect/callback\""},
    {"session_revoke_failed", 26004, 400, "Grant", "Session revoke failed"},
    {"session_revoke_success", 26005, 0, "Grant", "Session revoke success"},
    {"integration_created", 31001, 201, "Integration", "Integration created"},
    {"integration_deleted", 31002, 200, "Integration", "Integration deleted"},
    {"integration_updated", 31003, 200, "Integration", "Integration updated"},
    {"integration_not_found", 35004, 404, "Integration", "Integration not found"},
    {"provider_not_supported", 31005, 400, "Integration", "Provider invalid or not supported"},
    {"provider_settings_invalid", 35006, 400, "Integration", "Provider settings not supported"},
    {"provider_settings_secret_required", 35007, 400, "Integration",
     "Provider settings and secret both are required if one needs to change"},
    {"integration_already_exists", 35008, 400, "Integration", "Integration already exists"},
    {"integration_problem", 35009, 400, "Integration",
     "Issues found with integration's settings/config"},
    {"credential_not_found", 35010, 400, "Integration", "Credential not found"},
    {"credential_already_exists", 35011, 400, "Integration",
     "Credential with this name for given integration already exists"},
    {"credential_missing_param", 35012, 400, "Integration",
     "Credential is missing some essential values in its settings"},
    {"credential_created", 31013, 201, "Integration", "Credential created"},
    {"credential_updated", 31014, 200, "Integration", "Credential updated"},
    {"credential_deleted", 31015, 200, "Integration", "Credential deleted"},
    {"provider_code_request_failed", 45001, 400, "Provider",
     "Provider refused to return refresh_token using code (hosted auth)"},
    {"oauth_failed", 45002, 400, "Provider",
     "Hosted OAuth failed due to rejection by provider or user refusing consent"},
    {"invalid_client", 45003, 400, "Provider", "The OAuth client was not found"},
    {"invalid_grant", 45004, 400, "Grant", "Error creating grant with provided OAuth params"},
    {"invalid_request", 45005, 400, "HTTP",
     "The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed"},
    {"redirect_uri_mismatch", 45006, 400, "Integration", "Redirect URI not allowed"},
    {"unsupported_grant_type", 45007, 400, "Grant", "Invalid grant_type"},
    {"invalid_token", 45008, 400, "Token", "Token expired or revoked"},
    {"oauth_redirect", 45009, 0, "HTTP", "Redirecting in OAuth2.0 protocol"},
    {"oauth_provider_error", 45010, 400, "Provider", "Error from OAuth2 provider"},
    /* beyond the seed: the HTTP layer's own answers */
    {"method_not_allowed", 405, 405, "HTTP", "Method not allowed"},
    {"payload_too_large", 413, 413, "HTTP", "Request body too large"},
    {"unsupported_media_type", 415, 415, "HTTP", "The body must be application/json"},
    {"service_unavailable", 503, 503, "HTTP", "Service temporarily unavailable"},
    {NULL, 0, 0, NULL, NULL}
};

const cn_event_t *cn_event_table(void)
{
    return events;
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

int cn_fail(apr_pool_t *pool, cn_result_t *r, const char *type, const char *fmt, ...)
{
    va_list ap;
    r->event = cn_event_by_type(type);
    if (!r->event) {
        r->event = cn_event_by_type("internal_error");
    }
    r->description = NULL;
    if (fmt) {
        va_start(ap, fmt);
        r->description = apr_pvsprintf(pool, fmt, ap);
        va_end(ap);
    }
    return APR_EGENERAL;
}
