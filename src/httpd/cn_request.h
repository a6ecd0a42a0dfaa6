/* One request to the API: what the route handlers get, and the helpers they
 * answer with. */
#ifndef CN_REQUEST_H
#define CN_REQUEST_H

#include "cn_httpd.h"
#include "cn_flow.h"

#define CN_MAX_PARAMS 4

struct cn_dialect_t;

typedef struct cn_req_t {
    request_rec *r;
    cn_server_conf_t *sc;
    const char *request_id;
    const char *path;                    /* below the mount, starts with '/' */
    const char *params[CN_MAX_PARAMS];   /* {name} captures of the route */
    apr_table_t *query;                  /* decoded query arguments */
    const cn_app_t *app;                 /* the authenticated application */
    const char *page_app_id;             /* the application a page speaks for (a flow's), or NULL */
    const struct cn_route_t *route;      /* the matched row of the route table, or NULL */
    const struct cn_dialect_t *dialect;  /* how the mount's API speaks (its shapes, its keys) */
    cn_ctx_t ctx;                        /* for the core's operations */
    int contextio;                       /* the Context.IO API: its answers' shapes */
    apr_table_t *cio_params;             /* contextio: the query's and the form's parameters */
    const char *account_id;              /* contextio, 3-legged: the account that signed */
} cn_req_t;

typedef enum {
    CN_AUTH_PUBLIC, /* no credentials */
    CN_AUTH_BASIC,  /* an application's client id and secret */
    CN_AUTH_CLIENT_ID_OR_BASIC, /* ?client_id= of a configured application, else Basic */
    CN_AUTH_BEARER, /* an access token the OAuth server issued (the handler's core call checks it) */
    CN_AUTH_OAUTH1, /* Context.IO: an OAuth 1.0a signature of an application (2-legged) */
    CN_AUTH_OAUTH1_ACCOUNT /* the same under /accounts/{id}: signed with the account's
                            * access token when the application is 3-legged */
} cn_auth_kind_t;

/* How a route answers, its failures included: the API's JSON envelope, or
 * an HTML page for the browser (and redirects). */
typedef enum {
    CN_ANSWER_JSON,
    CN_ANSWER_PAGE
} cn_answer_kind_t;

/* What a route needs before its handler runs. */
#define CN_NEEDS_NOTHING 0
#define CN_NEEDS_DB 1 /* the request's database handle (the route calls no provider;
                       * routes that do let the core open short sections) */

typedef int (*cn_route_fn)(cn_req_t *req);

typedef struct cn_route_t {
    int method;           /* M_GET, M_POST, M_PATCH, M_DELETE */
    const char *pattern;  /* "/integrations/{provider}/creds/{id}" */
    cn_auth_kind_t auth;
    cn_answer_kind_t answer;
    int needs;            /* CN_NEEDS_* */
    cn_route_fn fn;
} cn_route_t;

/* The routes of the Unified Auth API (routes.c), and of the same API in
 * the Nylas v3 layout (v3.c): rows pointing at the same handlers. */
extern const cn_route_t cn_api_routes[];
/* The routes of the Context.IO 2.0 API (contextio.c). */
extern const cn_route_t cn_cio_routes[];
/* contextio.c: the OAuth 1.0a signature of the request to route RT (its
 * application in req->app, the signing account in req->account_id, the
 * parameters in req->cio_params); 0 with the 401 already answered in *ANSWER. */
int cn_cio_authenticate(cn_req_t *req, const cn_route_t *rt, int *answer);
/* The Context.IO error answer: {"type":"error","value":MESSAGE}. */
int cn_cio_reply_error(cn_req_t *req, int status, const char *message);
/* The challenge of a 401 of the Context.IO API. */
#define CN_OAUTH_CHALLENGE "OAuth realm=\"mod_connect\""
/* GET <mount>/contextio/connect?token=: the hosted connect UI's first page
 * (a connect token's browser_redirect_url, below ConnectBaseURL). */
#define CN_CIO_CONNECT_PATH "/contextio/connect"
int cn_route_cio_connect(cn_req_t *req);
extern const cn_route_t cn_v3_routes[];

/* What an answer wraps: a fetched object, a created or changed one, a list. */
typedef enum {
    CN_ENVELOPE_DATA,
    CN_ENVELOPE_SUCCESS,
    CN_ENVELOPE_LIST
} cn_envelope_t;

/* How one route table speaks: the same handlers and core calls answer in
 * its shapes and accept its credentials. A handler never asks which
 * dialect it serves; the reply layer (handler.c) and the OAuth client
 * check (oauth.c) do. */
typedef struct cn_dialect_t {
    const char *handler;          /* the SetHandler name */
    const cn_route_t *routes;
    /* The body of an answer of KIND around DATA (NULL: none; for a list,
     * the array its items are spliced into), with paging LIMIT, OFFSET and
     * N items on this page. */
    json_t *(*envelope)(cn_req_t *req, cn_envelope_t kind, json_t *data, int limit, int offset,
                        int n);
    /* The body of an error of event EV answered with STATUS, MESSAGE the
     * caller may read. */
    json_t *(*error)(cn_req_t *req, const cn_event_t *ev, int status, const char *message);
    /* What the dialect's answers add to the seed's (NULL: nothing): the
     * token answer of GRANT's tokens; a detection's DATA. */
    void (*token_answer)(cn_req_t *req, json_t *answer, const cn_grant_t *grant);
    void (*detected)(cn_req_t *req, json_t *data);
    const char *challenge;        /* WWW-Authenticate of a 401 */
    int api_key;                  /* "Authorization: Bearer <application secret>" authenticates */
    int request_id_in_body;       /* every JSON object answered carries request_id */
    int oauth_error_code;         /* RFC 6749 error bodies carry the event's error_code */
    const char *cursor_param;     /* a query parameter that is the list's offset, or NULL */
} cn_dialect_t;

/* The dialects of the `connect` (handler.c) and `connect-v3` (v3.c) tables. */
extern const cn_dialect_t cn_connect_dialect;
extern const cn_dialect_t cn_v3_dialect;
extern const cn_dialect_t cn_cio_dialect;

/* metrics.c: count the request REQ answered through ROUTES (its matched row
 * in req->route, or none), its handler having returned RV. */
void cn_metrics_request_done(cn_req_t *req, const cn_route_t *routes, int rv);

/* Answers. Each returns the value the handler should return (OK / DONE). */
int cn_reply_error(cn_req_t *req, cn_event_id_t type, const char *description);
/* The same with STATUS instead of the event's (0: the event's). */
int cn_reply_error_as(cn_req_t *req, int status, cn_event_id_t type, const char *description);
int cn_reply_result(cn_req_t *req); /* from req->ctx.res */
/* An internal error of a request whose database went away becomes a 503
 * service_unavailable with Retry-After (both kinds of answer use it). */
#define CN_DB_RETRY_AFTER "5"
void cn_db_unavailable_answer(cn_req_t *req, int *status, cn_event_id_t *type,
                              const char **description);
int cn_reply_data(cn_req_t *req, int status, json_t *data);      /* {"data":...} */
int cn_reply_success(cn_req_t *req, int status, json_t *data);   /* {"success":true,...} */
int cn_reply_list(cn_req_t *req, json_t *data, int limit, int offset);
/* The same list from ready renderings (see cn_json_splice_array). */
int cn_reply_list_texts(cn_req_t *req, const cn_text_t *items, int n, int limit, int offset);
int cn_reply_json(cn_req_t *req, int status, json_t *body);
/* 200 with a public document caches may keep MAX_AGE seconds (discovery,
 * the JWKS) instead of no-store. */
int cn_reply_public_json(cn_req_t *req, json_t *body, int max_age);

/* A core operation's outcome as the answer: EXPR on success, else the envelope. */
#define ANSWER(req, rv, expr) ((rv) == APR_SUCCESS ? (expr) : cn_reply_result(req))

/* A page for the browser: TEMPLATE_NAME (error.html, imap.html, choose.html, connect.html
 * of ConnectTemplateDir) rendered with VALUES (a JSON object, may be NULL),
 * answered with STATUS and the page headers (Content-Security-Policy,
 * X-Frame-Options DENY, Referrer-Policy no-referrer, Cache-Control no-store,
 * nosniff); a HEAD gets the headers without the body. VALUES gains the
 * common values (lang, app.name, app.logo, app.color, assets.css,
 * assets.theme) where it has none of its own, and error.on.F = true for its
 * error.field F. The application is req->app, else req->page_app_id, else
 * req->ctx.app_id. EXTRA_FORM_ACTION: space-separated sources the page's
 * forms may be answered from besides 'self' (cn_url_origin of the
 * application's redirect URI, of a provider's authorize URL), or NULL; a
 * source that is not an origin is dropped. A template that cannot be
 * rendered answers 500 with a plain page. */
int cn_page_render(cn_req_t *req, int status, const char *template_name, json_t *values,
                   const char *extra_form_action);
/* The error page of event TYPE (its http_code, 400 at least): what went
 * wrong and what the user can do (cn_page_text), the event's name and code
 * and the request id as a reference. DESCRIPTION goes to the log only. */
int cn_page_error(cn_req_t *req, cn_event_id_t type, const char *description);
/* GET <mount>/assets/{name}: the pages' stylesheets, from memory, cacheable
 * for a year (their URLs change with their content). */
int cn_route_asset(cn_req_t *req);
/* GET <mount>/preview/{page}: with ConnectTemplatePreview On, the template
 * PAGE (error, imap, choose) rendered with sample values (?errors=1: its
 * error state; ?client_id=: as that application's page; ?form_action=: the
 * extra form-action sources, as a caller would pass them); else 404. */
int cn_route_preview(cn_req_t *req);
/* A 302 that goes through the normal output path (so mod_session saves its cookie). */
/* The same page for the failure in req->ctx.res. */
int cn_page_result(cn_req_t *req);
int cn_redirect(cn_req_t *req, const char *location);
/* 200 with the page headers and no body: what a HEAD of a page learns. */
int cn_page_ok(cn_req_t *req);

/* Route handlers of the hosted flow and the grants API (cn_hosted.c). */
int cn_route_auth_create(cn_req_t *req);
int cn_route_login(cn_req_t *req);
int cn_route_callback(cn_req_t *req);
/* The login screen (choose.html) of SCREEN: its email box sent by GET to
 * ACTION with the HIDDEN fields (a JSON array of {name, value}), a button per
 * provider to BUTTON_BASE followed by the provider's name. */
int cn_login_screen(cn_req_t *req, const cn_flow_screen_t *screen, const char *action,
                    json_t *hidden, const char *button_base);
/* The IMAP form of a flow (imap.c): GET shows it, POST proves it. */
int cn_route_imap_form(cn_req_t *req);
int cn_route_imap_submit(cn_req_t *req);
int cn_route_grants_list(cn_req_t *req);
int cn_route_grants_create(cn_req_t *req);
int cn_route_grant_read(cn_req_t *req);
int cn_route_grant_update(cn_req_t *req);
int cn_route_grant_delete(cn_req_t *req);
int cn_route_grant_access_token(cn_req_t *req);
/* GET /providers/detect (routes.c). */
int cn_route_providers_detect(cn_req_t *req);

/* Route handlers of the webhook deliveries (webhooks.c). */
int cn_route_webhook_deliveries(cn_req_t *req);
int cn_route_webhook_retry(cn_req_t *req);

/* Read and parse a JSON object body (Content-Type application/json, else 415); on failure
 * the answer is already sent and *ANSWER holds the handler's return value. */
json_t *cn_read_json(cn_req_t *req, int *answer);

/* The request body as sent (at most ConnectMaxBody bytes; JSON_ONLY: of
 * Content-Type application/json), *LEN 0 when there is none. A failure
 * (payload_too_large, unsupported_media_type, invalid_request_payload) is in
 * req->ctx.res; nothing is answered yet. */
apr_status_t cn_read_body(cn_req_t *req, int json_only, const char **body, apr_size_t *len);
/* Whether the request's Content-Type is WANT (case-insensitive, parameters
 * such as charset allowed). application/json is what a cross-site form
 * cannot send without a CORS preflight. */
int cn_content_type_is(request_rec *r, const char *want);

/* The application CLIENT_ID whose secret is SECRET (compared in constant
 * time, unknown ids too), or NULL. */
const cn_app_t *cn_app_check(cn_req_t *req, const char *client_id, const char *secret);

/* The application whose secret is KEY (an API key: "Authorization: Bearer
 * KEY"), looked up by the secret's digest and compared in constant time, or
 * NULL. */
const cn_app_t *cn_app_by_key(cn_req_t *req, const char *key);

/* The value of "Authorization: Bearer <value>" (RFC 6750 §2.1), or NULL. */
const char *cn_bearer_value(request_rec *r);

/* The challenge of a 401 to an application that may use HTTP Basic. */
#define CN_BASIC_CHALLENGE "Basic realm=\"mod_connect\""

/* The browser's part of a flow begun in this request (GET /login, GET /auth):
 * the session takes it, what began it is spent, and the browser goes on to
 * the provider. A HEAD only learns that it would. */
int cn_route_flow_start(cn_req_t *req, cn_flow_t *flow);

/* Route handlers of the OAuth 2.0 server (oauth.c). */
int cn_route_authorize(cn_req_t *req);
int cn_route_token(cn_req_t *req);
int cn_route_revoke(cn_req_t *req);
int cn_route_grant_me(cn_req_t *req);
int cn_route_tokeninfo(cn_req_t *req);

/* Log a line with the request id in front; never pass a secret. */
#define cn_log(req, level, fmt, ...) \
    ap_log_rerror(APLOG_MARK, level, 0, (req)->r, "[%s] " fmt, (req)->request_id, __VA_ARGS__)

#endif
