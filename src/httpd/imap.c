/* The IMAP form of a flow (GET and POST <mount>/imap): the module's own page
 * where the user gives a mailbox's address and password, proven by an IMAP
 * LOGIN. The flow stays in the browser's session until it ends: a wrong
 * password shows the form again, the last one allowed or success sends the
 * browser to the application. */
#include "cn_request.h"
#include "cn_session.h"

/* The flow of STATE in this browser's session, still going (TAKE: removed
 * from the session). NULL: a page says why (in req->ctx.res). */
static cn_flow_t *form_flow(cn_req_t *req, const char *state, int take, const char **key)
{
    const char *sealed;
    cn_flow_t *flow = NULL;
    const cn_flow_step_t *step;
    if (!state || !*state || strlen(state) > 256) {
        cn_fail(req->r->pool, &req->ctx.res, CN_EV_LOGIN_ID_INVALID, "no state");
        return NULL;
    }
    *key = cn_flow_session_key(req->r->pool, state);
    if (!(sealed = cn_session_flow_get(req->r, *key, take))) {
        cn_fail(req->r->pool, &req->ctx.res, CN_EV_LOGIN_ID_INVALID,
                "no sign-in in progress in this browser for this state");
        return NULL;
    }
    if (cn_flow_open(&req->ctx, *key, sealed, state, &flow) != APR_SUCCESS) {
        return NULL;
    }
    req->page_app_id = flow->app_id;
    if (!(step = cn_flow_step_of(flow)) || !step->form) {
        cn_fail(req->r->pool, &req->ctx.res, CN_EV_LOGIN_ID_INVALID,
                "a sign-in that has no form");
        return NULL;
    }
    return flow;
}

/* The form of FLOW with VALUES (cn_flow_imap_values), and the error in
 * req->ctx.res on FIELD when FIELD is given. */
static int show_form(cn_req_t *req, const cn_flow_t *flow, json_t *values, const char *field)
{
    apr_pool_t *p = req->r->pool;
    const cn_result_t *res = &req->ctx.res;
    json_object_set_new(values, "action",
                        json_string(apr_pstrcat(p, req->ctx.base_url, CN_FLOW_IMAP_FORM_PATH,
                                                NULL)));
    json_object_set_new(values, "state", json_string(flow->state));
    json_object_set_new(values, "csrf", json_string(cn_flow_csrf(p, flow)));
    if (field) {
        const char *message = res->description;
        if (res->event && res->event->id == CN_EV_INVALID_AUTHENTICATION) {
            message = "The email address or password is not right.";
        }
        else if (res->event && res->event->id == CN_EV_PROVIDER_NOT_RESPONDING) {
            message = "The mail server did not answer. Check its name and port under Advanced "
                      "settings, or try again later.";
        }
        else if (res->event && res->event->id == CN_EV_PROVIDER_TLS_FAILED) {
            message = "A secure connection to the mail server could not be made. Check its name, "
                      "port and security under Advanced settings.";
        }
        else if (!message || !res->event || res->event->id == CN_EV_INTERNAL_ERROR
                 || res->event->id == CN_EV_SERVICE_UNAVAILABLE) {
            message = "The mailbox could not be checked just now. Please try again.";
        }
        /* The template ties a message to these fields; others stand above the form. */
        json_object_set_new(values, "error",
                            json_pack("{s:s,s:s}", "message", message, "field",
                                      !strcmp(field, "email") || !strcmp(field, "password")
                                              || !strcmp(field, "host") || !strcmp(field, "port")
                                          ? field
                                          : ""));
        if (strcmp(field, "email") && strcmp(field, "password")) {
            json_object_set_new(values, "advanced_open", json_true());
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, req->r,
                      "[%s] " CNLOGNO(00902) "IMAP form again: %s (%d) on %s%s%s",
                      req->request_id, res->event ? res->event->type : "-",
                      res->event ? res->event->code : 0, field,
                      res->description ? ": " : "", res->description ? res->description : "");
    }
    /* The form's answer may redirect to the application: allow its origin. */
    return cn_page_render(req, HTTP_OK, "imap.html", values, flow->return_origin);
}

int cn_route_imap_form(cn_req_t *req)
{
    const char *key;
    cn_flow_t *flow = form_flow(req, apr_table_get(req->query, "state"), 0, &key);
    if (!flow) {
        return cn_page_result(req);
    }
    if (req->r->header_only) {
        return cn_page_ok(req);
    }
    return show_form(req, flow, cn_flow_imap_values(&req->ctx, flow, NULL), NULL);
}

int cn_route_imap_submit(cn_req_t *req)
{
    request_rec *r = req->r;
    const char *body = NULL, *why = NULL, *key, *location, *field = NULL;
    const char *type = apr_table_get(r->headers_in, "Content-Type");
    apr_size_t len = 0;
    apr_table_t *form = NULL;
    cn_flow_t *flow;
    apr_status_t rv;
    int answer;

    if (cn_read_body(req, 0, &body, &len) != APR_SUCCESS) {
        return cn_page_result(req);
    }
    if (!type || strncasecmp(type, "application/x-www-form-urlencoded", 33)
        || cn_oauth_params_parse(r->pool, type, body, len, &form, &why) != APR_SUCCESS) {
        return cn_page_error(req, CN_EV_INVALID_REQUEST,
                             why ? why : "the form must be sent as a form");
    }
    if (!(flow = form_flow(req, apr_table_get(form, "state"), 0, &key))) {
        return cn_page_result(req);
    }
    /* Only this flow's own page can send this flow's form. */
    if (!cn_flow_csrf_ok(r->pool, flow, apr_table_get(form, "csrf"))) {
        return cn_page_error(req, CN_EV_UNAUTHORIZED_ACCESS,
                             "the form's anti-forgery token is not this sign-in's");
    }
    rv = cn_flow_complete(&req->ctx, flow, form, &location, &field);
    if (rv == APR_EAGAIN) {
        return show_form(req, flow, cn_flow_imap_values(&req->ctx, flow, form),
                         field ? field : "email");
    }
    /* The flow ends here, whatever the outcome. */
    cn_session_flow_drop(r, key);
    if (rv != APR_SUCCESS) {
        return cn_page_result(req);
    }
    answer = cn_redirect(req, location);
    if (r->status == HTTP_MOVED_TEMPORARILY) {
        r->status = HTTP_SEE_OTHER; /* the answer to a POST: GET the application's page */
    }
    return answer;
}
