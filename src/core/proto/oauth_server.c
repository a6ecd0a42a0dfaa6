/* The protocol pieces of the OAuth 2.0 authorization server (GET /auth,
 * POST /token, POST /revoke) that need no store: PKCE, the parameters of a
 * request body, scope strings, and the RFC 6749 names of failures. */
#include <string.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_encode.h>
#include <apr_lib.h>

#include "cn_util.h"
#include "cn_proto.h"

/* ---- PKCE (RFC 7636) ----------------------------------------------------- */

#define UNRESERVED \
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
#define B64URL_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#define B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#define S256_LEN 43     /* base64url of 32 bytes, unpadded */
#define S256_HEX_LEN 86 /* base64 of 64 hex digits, unpadded */

static int all_of(const char *s, const char *set)
{
    return s[strspn(s, set)] == '\0';
}

const char *cn_pkce_method(const char *method)
{
    if (!method || !strcasecmp(method, "plain")) {
        return "plain";
    }
    return strcasecmp(method, "S256") ? NULL : "S256";
}

const char *cn_pkce_s256(apr_pool_t *pool, const char *verifier)
{
    unsigned char d[32];
    cn_sha256(verifier, strlen(verifier), d);
    return cn_b64url_encode(pool, d, sizeof(d));
}

const char *cn_pkce_s256_hex(apr_pool_t *pool, const char *verifier)
{
    const char *hex = cn_sha256_hex(pool, verifier, strlen(verifier));
    return apr_pencode_base64(pool, hex, APR_ENCODE_STRING, APR_ENCODE_NOPADDING, NULL);
}

static apr_status_t refuse(const char **why, const char *reason)
{
    if (why) {
        *why = reason;
    }
    return APR_EINVAL;
}

apr_status_t cn_pkce_challenge_check(const char *challenge, const char *method,
                                     const char **why)
{
    apr_size_t n = challenge ? strlen(challenge) : 0;
    if (!method) {
        return refuse(why, "code_challenge_method must be plain or S256");
    }
    if (!strcmp(method, "plain")) {
        if (n < CN_PKCE_VERIFIER_MIN || n > CN_PKCE_VERIFIER_MAX || !all_of(challenge, UNRESERVED)) {
            return refuse(why, "a plain code_challenge is 43-128 unreserved characters");
        }
        return APR_SUCCESS;
    }
    if ((n == S256_LEN && all_of(challenge, B64URL_CHARS))
        || (n == S256_HEX_LEN && all_of(challenge, B64_CHARS))) {
        return APR_SUCCESS;
    }
    return refuse(why, "an S256 code_challenge is 43 base64url characters "
                       "(or 86 base64 characters of the hex form)");
}

apr_status_t cn_pkce_verify(apr_pool_t *pool, const char *challenge, const char *method,
                            const char *verifier, const char **why)
{
    apr_size_t n = verifier ? strlen(verifier) : 0, min = CN_PKCE_VERIFIER_MIN;
    const char *expected;
    int hex = method && !strcmp(method, "S256") && challenge && strlen(challenge) == S256_HEX_LEN;
    if (!challenge || !method) {
        return refuse(why, "no code_challenge to check against");
    }
    if (hex) {
        min = CN_PKCE_HEX_VERIFIER_MIN;
    }
    if (n < min || n > CN_PKCE_VERIFIER_MAX || !all_of(verifier, UNRESERVED)) {
        return refuse(why, hex ? "code_verifier must be 32-128 unreserved characters"
                               : "code_verifier must be 43-128 unreserved characters");
    }
    if (!strcmp(method, "plain")) {
        expected = verifier;
    }
    else if (!strcmp(method, "S256")) {
        expected = hex ? cn_pkce_s256_hex(pool, verifier) : cn_pkce_s256(pool, verifier);
    }
    else {
        return refuse(why, "unknown code_challenge_method");
    }
    if (!expected || !cn_ct_equal(expected, strlen(expected), challenge, strlen(challenge))) {
        return refuse(why, "code_verifier does not match the code_challenge");
    }
    return APR_SUCCESS;
}

/* ---- request bodies ------------------------------------------------------- */

/* Lowercase media type of a Content-Type header, without parameters. */
static const char *media_type(apr_pool_t *pool, const char *content_type)
{
    const char *end;
    apr_size_t n;
    if (!content_type) {
        return "";
    }
    while (apr_isspace(*content_type)) {
        ++content_type;
    }
    end = strchr(content_type, ';');
    n = end ? (apr_size_t)(end - content_type) : strlen(content_type);
    while (n && apr_isspace(content_type[n - 1])) {
        --n;
    }
    return cn_lower(pool, apr_pstrndup(pool, content_type, n));
}

/* One form component BUF[LEN] decoded by APR ('+' is a space, %XX a byte);
 * a bad escape or a NUL (raw or escaped) is refused. */
static char *form_component(apr_pool_t *pool, const char *buf, apr_size_t len)
{
    if (memchr(buf, '\0', len)) {
        return NULL;
    }
    return (char *)apr_punescape_url(pool, apr_pstrndup(pool, buf, len), NULL, NULL, 1);
}

static apr_status_t add_param(apr_table_t *t, const char *name, const char *value,
                              const char **why)
{
    if (!*name) {
        return refuse(why, "a parameter without a name");
    }
    if (apr_table_get(t, name)) {
        return refuse(why, "a parameter is given more than once");
    }
    if (apr_table_elts(t)->nelts >= CN_OAUTH_PARAMS_MAX) {
        return refuse(why, "too many parameters");
    }
    apr_table_setn(t, name, value);
    return APR_SUCCESS;
}

static apr_status_t parse_form(apr_pool_t *pool, const char *body, apr_size_t len, apr_table_t *t,
                               const char **why)
{
    apr_size_t at = 0;
    while (at < len) {
        const char *pair = body + at, *amp = memchr(pair, '&', len - at), *eq;
        apr_size_t plen = amp ? (apr_size_t)(amp - pair) : len - at;
        char *name, *value;
        at += plen + 1;
        if (!plen) {
            continue; /* "a=1&&b=2" */
        }
        eq = memchr(pair, '=', plen);
        name = form_component(pool, pair, eq ? (apr_size_t)(eq - pair) : plen);
        value = eq ? form_component(pool, eq + 1, plen - (apr_size_t)(eq - pair) - 1)
                   : apr_pstrdup(pool, "");
        if (!name || !value) {
            return refuse(why, "the form is not valid percent-encoding");
        }
        if (add_param(t, name, value, why) != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t parse_json(apr_pool_t *pool, const char *body, apr_size_t len, apr_table_t *t,
                               const char **why)
{
    json_t *j = cn_json_parse(pool, body, len, NULL), *v;
    const char *key;
    if (!json_is_object(j)) {
        return refuse(why, "the body is not a JSON object");
    }
    json_object_foreach(j, key, v) {
        if (!json_is_string(v)) {
            return refuse(why, "every parameter of the JSON object must be a string");
        }
        /* jansson refuses "\u0000"; a key may still carry one */
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            return refuse(why, "a parameter has a NUL character");
        }
        if (add_param(t, apr_pstrdup(pool, key), apr_pstrdup(pool, json_string_value(v)), why)
            != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

apr_status_t cn_oauth_params_parse(apr_pool_t *pool, const char *content_type, const char *body,
                                   apr_size_t len, apr_table_t **out, const char **why)
{
    const char *type = media_type(pool, content_type);
    apr_table_t *t = apr_table_make(pool, 8);
    *out = NULL;
    if (len && !body) {
        return refuse(why, "no body");
    }
    if (len) {
        apr_status_t rv;
        if (memchr(body, '\0', len)) {
            return refuse(why, "the body has a NUL byte");
        }
        if (!strcmp(type, "application/x-www-form-urlencoded")) {
            rv = parse_form(pool, body, len, t, why);
        }
        else if (!strcmp(type, "application/json")) {
            rv = parse_json(pool, body, len, t, why);
        }
        else {
            rv = refuse(why, "the body must be application/x-www-form-urlencoded or "
                             "application/json");
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    *out = t;
    return APR_SUCCESS;
}

/* ---- scope ----------------------------------------------------------------- */

#define SCOPE_TOKENS_MAX 100
#define SCOPE_TOKEN_MAX 512

json_t *cn_oauth_scope_parse(apr_pool_t *pool, const char *scope)
{
    json_t *arr = cn_json_own(pool, json_array());
    const char *p = scope ? scope : "";
    while (*p) {
        const char *end;
        char *tok;
        apr_size_t n;
        if (*p == ' ') {
            ++p;
            continue;
        }
        for (end = p; *end && *end != ' '; ++end) {
            unsigned char c = (unsigned char)*end;
            /* NQCHAR: %x21 / %x23-5B / %x5D-7E */
            if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') {
                return NULL;
            }
        }
        n = (apr_size_t)(end - p);
        if (n > SCOPE_TOKEN_MAX) {
            return NULL;
        }
        tok = apr_pstrndup(pool, p, n);
        if (!cn_json_array_has(arr, tok)) {
            if (json_array_size(arr) >= SCOPE_TOKENS_MAX) {
                return NULL;
            }
            json_array_append_new(arr, json_string(tok));
        }
        p = end;
    }
    return arr;
}

const char *cn_oauth_scope_string(apr_pool_t *pool, const json_t *scope)
{
    const char *out = "";
    size_t i;
    json_t *v;
    json_array_foreach(scope, i, v) {
        if (json_is_string(v)) {
            out = apr_pstrcat(pool, out, *out ? " " : "", json_string_value(v), NULL);
        }
    }
    return out;
}

/* ---- errors ---------------------------------------------------------------- */

const char *cn_oauth_token_error(const cn_event_t *ev, int *status)
{
    *status = 400;
    switch (ev ? ev->id : CN_EV_INTERNAL_ERROR) {
    case CN_EV_INVALID_REQUEST:
    case CN_EV_INVALID_REQUEST_PAYLOAD:
    case CN_EV_INVALID_QUERY_PARAMS:
    case CN_EV_BAD_REQUEST:
        return "invalid_request";
    case CN_EV_PAYLOAD_TOO_LARGE:
        *status = 413;
        return "invalid_request";
    case CN_EV_INVALID_CLIENT:
        *status = 401;
        return "invalid_client";
    case CN_EV_INVALID_GRANT:
        return "invalid_grant";
    case CN_EV_UNAUTHORIZED_CLIENT:
        return "unauthorized_client";
    case CN_EV_UNSUPPORTED_GRANT_TYPE:
        return "unsupported_grant_type";
    case CN_EV_INVALID_SCOPE:
        return "invalid_scope";
    case CN_EV_SERVICE_UNAVAILABLE:
        *status = 503;
        return "temporarily_unavailable";
    default:
        *status = 500;
        return "server_error";
    }
}

const char *cn_oauth_authorize_error(const cn_event_t *ev)
{
    switch (ev ? ev->id : CN_EV_INTERNAL_ERROR) {
    case CN_EV_OAUTH_FAILED:          /* the user refused, or the provider said no */
    case CN_EV_SCOPES_CONFLICT:       /* the user did not grant what was asked */
    case CN_EV_REAUTH_EMAIL_INVALID:  /* another account than the grant's */
        return "access_denied";
    case CN_EV_INVALID_REQUEST:
    case CN_EV_CREDENTIAL_NOT_FOUND: /* credential_id names none of the integration's */
        return "invalid_request";
    case CN_EV_INVALID_SCOPE:
    case CN_EV_NO_LOGIN_SCOPES:
        return "invalid_scope";
    case CN_EV_UNSUPPORTED_RESPONSE_TYPE:
        return "unsupported_response_type";
    case CN_EV_UNAUTHORIZED_CLIENT:
        return "unauthorized_client";
    case CN_EV_PROVIDER_NOT_RESPONDING:
    case CN_EV_SERVICE_UNAVAILABLE:
        return "temporarily_unavailable";
    default:
        return "server_error";
    }
}

const char *cn_oauth_error_description(apr_pool_t *pool, const cn_result_t *res)
{
    const cn_event_t *ev = res->event ? res->event : cn_event(CN_EV_INTERNAL_ERROR);
    char *text = apr_psprintf(pool, "%s (%d): %s", ev->type, ev->code,
                              res->description ? res->description : ev->message);
    unsigned char *c;
    if (strlen(text) > 300) {
        text[300] = '\0';
    }
    for (c = (unsigned char *)text; *c; ++c) {
        if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\') {
            *c = '?';
        }
    }
    return text;
}
