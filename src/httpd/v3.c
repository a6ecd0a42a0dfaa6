/* The Unified Auth API in the Nylas v3 layout (SetHandler connect-v3,
 * mounted at /v3): what the Nylas SDKs call, so an application written with
 * them moves here by changing its API URL and key. Its rows point at the
 * `connect` table's handlers; only the dialect differs: an application's
 * secret is its API key (Authorization: Bearer), every body carries
 * request_id, objects are {request_id, data}, lists page with next_cursor
 * (the SDKs send it back as page_token), errors are {request_id, error:
 * {type, message, provider_error}} and the OAuth endpoints' RFC 6749 bodies
 * carry error_code. */
#include "cn_request.h"

static json_t *v3_envelope(cn_req_t *req, cn_envelope_t kind, json_t *data, int limit,
                           int offset, int n)
{
    apr_pool_t *p = req->r->pool;
    json_t *body = cn_json_own(p, json_object());
    if (!body) {
        return NULL;
    }
    /* data first: a list's ready renderings are spliced into it */
    json_object_set(body, "data", data ? data : cn_json_own(p, json_object()));
    json_object_set_new(body, "request_id", json_string(req->request_id));
    /* A full page may have a next one: its offset is the cursor. A shorter
     * page is the last, and without a cursor the SDKs' iterators stop. */
    if (kind == CN_ENVELOPE_LIST && limit > 0 && n >= limit) {
        json_object_set_new(body, "next_cursor",
                            json_string(apr_itoa(p, offset + limit)));
    }
    return body;
}

static json_t *v3_error(cn_req_t *req, const cn_event_t *ev, int status, const char *message)
{
    (void)status;
    /* provider_error: what a provider said is logged, never relayed. */
    return cn_json_own(req->r->pool,
                       json_pack("{s:s,s:{s:s,s:s,s:n}}", "request_id", req->request_id, "error",
                                 "type", ev->type, "message", message, "provider_error"));
}

/* The SDKs' code exchange answer names who signed in. */
static void v3_token_answer(cn_req_t *req, json_t *answer, const cn_grant_t *grant)
{
    (void)req;
    if (grant->email) {
        json_object_set_new(answer, "email", json_string(grant->email));
    }
    json_object_set_new(answer, "provider", json_string(grant->provider));
}

/* The SDKs read the address as email_address. */
static void v3_detected(cn_req_t *req, json_t *data)
{
    json_t *email = json_object_get(data, "email");
    (void)req;
    if (email) {
        json_object_set(data, "email_address", email);
        json_object_del(data, "email");
    }
}

const cn_dialect_t cn_v3_dialect = {
    .handler = CN_V3_HANDLER,
    .routes = cn_v3_routes,
    .envelope = v3_envelope,
    .error = v3_error,
    .token_answer = v3_token_answer,
    .detected = v3_detected,
    .challenge = "Bearer realm=\"mod_connect\"",
    .api_key = 1,
    .request_id_in_body = 1,
    .oauth_error_code = 1,
    .cursor_param = "page_token",
};

/* The routes below the mount (/v3), each the `connect` table's handler of
 * the same operation. */
#define JSON CN_ANSWER_JSON
#define PAGE CN_ANSWER_PAGE
#define DB CN_NEEDS_DB
#define NONE CN_NEEDS_NOTHING
const cn_route_t cn_v3_routes[] = {
    /* the browser's authorization request; the provider's redirect comes
     * back to <ConnectBaseURL>/callback, the one URI registered for both */
    {M_GET, "/connect/auth", CN_AUTH_PUBLIC, PAGE, DB, cn_route_authorize},
    /* the OAuth 2.0 server: the client by its API key, Basic or the body */
    {M_POST, "/connect/token", CN_AUTH_PUBLIC, JSON, DB, cn_route_token},
    {M_POST, "/connect/revoke", CN_AUTH_PUBLIC, JSON, DB, cn_route_revoke},
    {M_GET, "/connect/tokeninfo", CN_AUTH_BASIC, JSON, DB, cn_route_tokeninfo},
    /* native authentication: what POST /grants does in the `connect` table;
     * the provider is asked, so the core opens short sections */
    {M_POST, "/connect/custom", CN_AUTH_BASIC, JSON, NONE, cn_route_grants_create},
    {M_POST, "/providers/detect", CN_AUTH_CLIENT_ID_OR_BASIC, JSON, NONE,
     cn_route_providers_detect},
    /* an access token of the OAuth server is valid here only */
    {M_GET, "/grants/me", CN_AUTH_BEARER, JSON, DB, cn_route_grant_me},
    {M_GET, "/grants", CN_AUTH_BASIC, JSON, DB, cn_route_grants_list},
    {M_GET, "/grants/{id}", CN_AUTH_BASIC, JSON, DB, cn_route_grant_read},
    {M_PATCH, "/grants/{id}", CN_AUTH_BASIC, JSON, DB, cn_route_grant_update},
    {M_DELETE, "/grants/{id}", CN_AUTH_BASIC, JSON, NONE, cn_route_grant_delete},
    {0, NULL, CN_AUTH_PUBLIC, JSON, NONE, NULL}
};
