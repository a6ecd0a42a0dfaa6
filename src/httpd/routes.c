/* The route table of the Unified Auth API and its thin handlers: each reads
 * the request, calls one core operation, and answers. */
#include "cn_request.h"

static int paging(cn_req_t *req, int *limit, int *offset, int *answer)
{
    if (cn_paging_parse(&req->ctx, apr_table_get(req->query, "limit"),
                        apr_table_get(req->query, "offset"), limit, offset) != APR_SUCCESS) {
        *answer = cn_reply_result(req);
        return 0;
    }
    return 1;
}


/* ---- integrations ----------------------------------------------------- */

static int integration_create(cn_req_t *req)
{
    int answer;
    json_t *body = cn_read_json(req, &answer), *out = NULL;
    apr_status_t rv;
    if (!body) {
        return answer;
    }
    rv = cn_integration_create(&req->ctx, body, &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_CREATED, out));
}

static int integration_list(cn_req_t *req)
{
    int answer, limit, offset;
    json_t *out = NULL;
    apr_status_t rv;
    if (!paging(req, &limit, &offset, &answer)) {
        return answer;
    }
    rv = cn_integration_list(&req->ctx, limit, offset, &out);
    return ANSWER(req, rv, cn_reply_list(req, out, limit, offset));
}

static int integration_read(cn_req_t *req)
{
    json_t *out = NULL;
    apr_status_t rv;
    rv = cn_integration_read(&req->ctx, req->params[0], &out);
    return ANSWER(req, rv, cn_reply_data(req, HTTP_OK, out));
}

static int integration_update(cn_req_t *req)
{
    int answer;
    json_t *body = cn_read_json(req, &answer), *out = NULL;
    apr_status_t rv;
    if (!body) {
        return answer;
    }
    rv = cn_integration_update(&req->ctx, req->params[0], body, &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, out));
}

static json_t *removed(apr_pool_t *p)
{
    return cn_json_own(p, json_pack("{s:s}", "message", "Resource successfully removed"));
}

static int integration_delete(cn_req_t *req)
{
    apr_status_t rv;
    rv = cn_integration_delete(&req->ctx, req->params[0]);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, removed(req->r->pool)));
}

/* ---- credentials ------------------------------------------------------- */

static int credential_create(cn_req_t *req)
{
    int answer;
    json_t *body = cn_read_json(req, &answer), *out = NULL;
    apr_status_t rv;
    if (!body) {
        return answer;
    }
    rv = cn_credential_create(&req->ctx, req->params[0], body, &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_CREATED, out));
}

static int credential_list(cn_req_t *req)
{
    int answer, limit, offset;
    json_t *out = NULL;
    apr_status_t rv;
    if (!paging(req, &limit, &offset, &answer)) {
        return answer;
    }
    rv = cn_credential_list(&req->ctx, req->params[0], limit, offset,
                            apr_table_get(req->query, "sort_by"),
                            apr_table_get(req->query, "order_by"), &out);
    return ANSWER(req, rv, cn_reply_list(req, out, limit, offset));
}

static int credential_read(cn_req_t *req)
{
    json_t *out = NULL;
    apr_status_t rv;
    rv = cn_credential_read(&req->ctx, req->params[0], req->params[1], &out);
    return ANSWER(req, rv, cn_reply_data(req, HTTP_OK, out));
}

static int credential_update(cn_req_t *req)
{
    int answer;
    json_t *body = cn_read_json(req, &answer), *out = NULL;
    apr_status_t rv;
    if (!body) {
        return answer;
    }
    rv = cn_credential_update(&req->ctx, req->params[0], req->params[1], body, &out);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, out));
}

static int credential_delete(cn_req_t *req)
{
    apr_status_t rv;
    rv = cn_credential_delete(&req->ctx, req->params[0], req->params[1]);
    return ANSWER(req, rv, cn_reply_success(req, HTTP_OK, NULL));
}

/* ---- providers -------------------------------------------------------- */

static int providers_find(cn_req_t *req)
{
    const char *client_id = apr_table_get(req->query, "client_id");
    json_t *out = NULL;
    apr_status_t rv;
    if (!client_id || !*client_id) {
        return cn_reply_error(req, CN_EV_INVALID_QUERY_PARAMS, "client_id is required");
    }
    if (!apr_hash_get(req->sc->apps_by_id, client_id, APR_HASH_KEY_STRING)) {
        return cn_reply_error(req, CN_EV_NOT_FOUND_ERROR, "no such application");
    }
    req->ctx.app_id = client_id;
    rv = cn_providers_find(&req->ctx, &out);
    return ANSWER(req, rv, cn_reply_json(req, HTTP_OK,
                                         cn_json_own(req->r->pool,
                                                     json_pack("{s:O}", "data", out))));
}

int cn_route_providers_detect(cn_req_t *req)
{
    int all = 0;
    const char *email = apr_table_get(req->query, "email");
    const char *all_s = apr_table_get(req->query, "all_provider_types");
    json_t *out = NULL;
    apr_status_t rv;
    if (all_s) {
        if (!strcmp(all_s, "true") || !strcmp(all_s, "1")) {
            all = 1;
        }
        else if (strcmp(all_s, "false") && strcmp(all_s, "0")) {
            return cn_reply_error(req, CN_EV_INVALID_QUERY_PARAMS,
                                  "all_provider_types must be true or false");
        }
    }
    if (!email || !*email) {
        return cn_reply_error(req, CN_EV_INVALID_QUERY_PARAMS, "email is required");
    }
    rv = cn_providers_detect(&req->ctx, email, all, &out);
    if (rv == APR_SUCCESS && req->dialect && req->dialect->detected) {
        req->dialect->detected(req, out);
    }
    return ANSWER(req, rv, cn_reply_data(req, HTTP_OK, out));
}

/* ---- OpenID Connect discovery ------------------------------------------- */

/* How long relying parties and caches may keep the discovery document and
 * the JWKS: a new key should be published this long before it signs. */
#define CN_WELL_KNOWN_MAX_AGE 3600

static int jwks(cn_req_t *req)
{
    json_t *out = cn_jose_jwks(req->r->pool, req->ctx.signing);
    return out ? cn_reply_public_json(req, out, CN_WELL_KNOWN_MAX_AGE)
               : cn_reply_error(req, CN_EV_INTERNAL_ERROR, NULL);
}

static int openid_configuration(cn_req_t *req)
{
    json_t *out = cn_oidc_discovery(req->r->pool, req->ctx.base_url, req->ctx.signing);
    return out ? cn_reply_public_json(req, out, CN_WELL_KNOWN_MAX_AGE)
               : cn_reply_error(req, CN_EV_INTERNAL_ERROR, NULL);
}

/* Every route of the Unified Auth API: method, path below the mount, who may
 * call it, how it answers, what it needs, and its handler. */
#define JSON CN_ANSWER_JSON
#define PAGE CN_ANSWER_PAGE
#define DB CN_NEEDS_DB
#define NONE CN_NEEDS_NOTHING
const cn_route_t cn_api_routes[] = {
    {M_POST, "/integrations", CN_AUTH_BASIC, JSON, DB, integration_create},
    {M_GET, "/integrations", CN_AUTH_BASIC, JSON, DB, integration_list},
    {M_GET, "/integrations/{provider}", CN_AUTH_BASIC, JSON, DB, integration_read},
    {M_PATCH, "/integrations/{provider}", CN_AUTH_BASIC, JSON, DB, integration_update},
    {M_DELETE, "/integrations/{provider}", CN_AUTH_BASIC, JSON, DB, integration_delete},
    {M_POST, "/integrations/{provider}/creds", CN_AUTH_BASIC, JSON, DB, credential_create},
    {M_GET, "/integrations/{provider}/creds", CN_AUTH_BASIC, JSON, DB, credential_list},
    {M_GET, "/integrations/{provider}/creds/{id}", CN_AUTH_BASIC, JSON, DB, credential_read},
    {M_PATCH, "/integrations/{provider}/creds/{id}", CN_AUTH_BASIC, JSON, DB, credential_update},
    {M_DELETE, "/integrations/{provider}/creds/{id}", CN_AUTH_BASIC, JSON, DB, credential_delete},
    {M_POST, "/auth", CN_AUTH_BASIC, JSON, DB, cn_route_auth_create},
    /* the browser's; /login and /auth call no provider, so their sections are the
     * request's handle; around the callback's provider calls the core opens short sections */
    {M_GET, "/auth", CN_AUTH_PUBLIC, PAGE, DB, cn_route_authorize},
    {M_GET, "/login", CN_AUTH_PUBLIC, PAGE, NONE, cn_route_login},
    {M_GET, "/callback", CN_AUTH_PUBLIC, PAGE, NONE, cn_route_callback},
    {M_GET, CN_FLOW_IMAP_FORM_PATH, CN_AUTH_PUBLIC, PAGE, NONE, cn_route_imap_form},
    {M_POST, CN_FLOW_IMAP_FORM_PATH, CN_AUTH_PUBLIC, PAGE, NONE, cn_route_imap_submit},
    /* the Context.IO connect UI (browser_redirect_url of a connect token) */
    {M_GET, CN_CIO_CONNECT_PATH, CN_AUTH_PUBLIC, PAGE, NONE, cn_route_cio_connect},
    /* the pages' stylesheets */
    {M_GET, "/assets/{name}", CN_AUTH_PUBLIC, PAGE, NONE, cn_route_asset},
    {M_GET, "/preview/{page}", CN_AUTH_PUBLIC, PAGE, NONE, cn_route_preview},
    /* the OAuth 2.0 server: the client authenticates in the body or with Basic */
    {M_POST, "/token", CN_AUTH_PUBLIC, JSON, DB, cn_route_token},
    {M_POST, "/revoke", CN_AUTH_PUBLIC, JSON, DB, cn_route_revoke},
    {M_GET, "/tokeninfo", CN_AUTH_BASIC, JSON, DB, cn_route_tokeninfo},
    {M_GET, "/grants/me", CN_AUTH_BEARER, JSON, DB, cn_route_grant_me},
    {M_POST, "/grants", CN_AUTH_BASIC, JSON, NONE, cn_route_grants_create},
    {M_GET, "/grants", CN_AUTH_BASIC, JSON, DB, cn_route_grants_list},
    {M_GET, "/grants/{id}", CN_AUTH_BASIC, JSON, DB, cn_route_grant_read},
    {M_PATCH, "/grants/{id}", CN_AUTH_BASIC, JSON, DB, cn_route_grant_update},
    {M_DELETE, "/grants/{id}", CN_AUTH_BASIC, JSON, NONE, cn_route_grant_delete},
    /* a refresh asks the provider: the core opens short sections around it */
    {M_POST, "/grants/{id}/access_token", CN_AUTH_BASIC, JSON, NONE, cn_route_grant_access_token},
    /* the application's webhook deliveries (webhooks.c) */
    {M_GET, "/webhooks/deliveries", CN_AUTH_BASIC, JSON, DB, cn_route_webhook_deliveries},
    {M_POST, "/webhooks/deliveries/{id}/retry", CN_AUTH_BASIC, JSON, DB, cn_route_webhook_retry},
    {M_GET, "/providers/find", CN_AUTH_PUBLIC, JSON, DB, providers_find},
    /* detection may ask DNS and autoconfig servers: the core opens a short
     * section for the integration afterwards */
    {M_GET, "/providers/detect", CN_AUTH_CLIENT_ID_OR_BASIC, JSON, NONE, cn_route_providers_detect},
    /* what a relying party that knows only the issuer (ConnectBaseURL) reads */
    {M_GET, "/.well-known/openid-configuration", CN_AUTH_PUBLIC, JSON, NONE, openid_configuration},
    {M_GET, "/.well-known/jwks.json", CN_AUTH_PUBLIC, JSON, NONE, jwks},
    {0, NULL, CN_AUTH_PUBLIC, JSON, NONE, NULL}
};
