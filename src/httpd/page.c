/* The module's HTML pages and browser redirects: plain, accessible, never
 * framed or cached, no referrer leaks. */
#include "cn_request.h"

static void page_headers(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                   "frame-ancestors 'none'");
    apr_table_setn(r->err_headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->err_headers_out, "Referrer-Policy", "no-referrer");
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
}

int cn_page_error(cn_req_t *req, cn_event_id_t type, const char *description)
{
    request_rec *r = req->r;
    const cn_event_t *ev = cn_event(type);
    const char *html;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "[%s] " CNLOGNO(00201) "%s %s -> page %s (%d)%s%s",
                  req->request_id, r->method, req->path, ev->type, ev->code,
                  description ? ": " : "", description ? description : "");
    page_headers(r);
    html = apr_pstrcat(
        r->pool,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>Sign-in could not continue</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;"
        "padding:0 1em;line-height:1.5}code{background:#eee;padding:0 .2em}</style></head>"
        "<body><main><h1>Sign-in could not continue</h1><p role=\"alert\">",
        ap_escape_html2(r->pool, ev->message, 0), "</p><p>Please return to the application "
        "and start again.</p><p><small>Error <code>", ap_escape_html2(r->pool, ev->type, 0),
        "</code> (", apr_itoa(r->pool, ev->code), "), request <code>",
        ap_escape_html2(r->pool, req->request_id, 0), "</code></small></p></main></body></html>\n",
        NULL);
    r->status = ev->http_code >= 400 ? ev->http_code : HTTP_BAD_REQUEST;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)strlen(html));
    if (!r->header_only) {
        ap_rputs(html, r);
    }
    return OK;
}

int cn_page_result(cn_req_t *req)
{
    const cn_result_t *res = &req->ctx.res;
    return cn_page_error(req, res->event ? res->event->id : CN_EV_INTERNAL_ERROR, res->description);
}

int cn_redirect(cn_req_t *req, const char *location)
{
    request_rec *r = req->r;
    const unsigned char *c;
    /* What goes into Location was validated and encoded; a control character
     * here would make httpd refuse the header with a bare 500. */
    for (c = (const unsigned char *)location; c && *c; ++c) {
        if (*c < 0x20 || *c == 0x7f) {
            return cn_page_error(req, CN_EV_REDIRECT_URI_NOT_ALLOWED,
                                 "the redirect target has control characters");
        }
    }
    if (!location || !*location) {
        return cn_page_error(req, CN_EV_INTERNAL_ERROR, "no redirect target");
    }
    page_headers(r);
    apr_table_setn(r->headers_out, "Location", location);
    r->status = HTTP_MOVED_TEMPORARILY;
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_set_content_length(r, 0);
    return OK;
}

int cn_page_ok(cn_req_t *req)
{
    request_rec *r = req->r;
    page_headers(r);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, 0);
    return OK;
}
