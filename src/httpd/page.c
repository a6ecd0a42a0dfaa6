/* The module's HTML pages and browser redirects: templates compiled at
 * start-up (conf/templates/, ConnectTemplateDir), rendered with a JSON object
 * of values, every value escaped; the stylesheets served from memory under
 * <mount>/assets/. Pages are never framed or cached, leak no referrer, and
 * run under a Content-Security-Policy without inline style or script. */
#include <dlfcn.h>
#include <apr_file_info.h>
#include <apr_lib.h>

#include "cn_request.h"

/* Where the templates are when ConnectTemplateDir is not given and no
 * templates/ lies next to mod_connect.so: a Debian-ish install. */
#ifndef CN_TEMPLATE_DIR
#define CN_TEMPLATE_DIR "/usr/share/mod_connect/templates"
#endif

#define CN_STYLESHEET "connect.css"
#define CN_STYLESHEET_MAX (256 * 1024)
/* Asset URLs change with their content (a version or a digest in them). */
#define CN_ASSET_CACHE_CONTROL "public, max-age=31536000, immutable"
#define CN_PAGE_LANG "en"

/* The templates every server has; a missing or broken one stops start-up. */
static const char *const template_names[] = {"error.html", "imap.html", "choose.html",
                                             "connect.html", NULL};

typedef struct asset_t {
    const char *type;
    const char *body;
    apr_size_t len;
} asset_t;

struct cn_pages_t {
    const char *dir;
    apr_hash_t *templates;   /* file name -> const cn_template_t * */
    apr_hash_t *assets;      /* file name below <mount>/assets/ -> const asset_t * */
    const char *css_version; /* digest prefix of connect.css, in its URL */
};

/* ---- start-up ------------------------------------------------------------- */

/* templates/ next to the loaded mod_connect.so (a build tree's build/templates,
 * a self-contained install), else CN_TEMPLATE_DIR. */
static const char *default_template_dir(apr_pool_t *p)
{
    Dl_info info;
    apr_finfo_t fi;
    if (dladdr((void *)&connect_module, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
        char *dir = apr_pstrdup(p, info.dli_fname);
        const char *candidate;
        *strrchr(dir, '/') = '\0';
        candidate = apr_pstrcat(p, dir, "/templates", NULL);
        if (apr_stat(&fi, candidate, APR_FINFO_TYPE, p) == APR_SUCCESS && fi.filetype == APR_DIR) {
            return candidate;
        }
    }
    return CN_TEMPLATE_DIR;
}

static int refuse_pages(server_rec *s, const char *msg)
{
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, CNLOGNO(00801) "%s: %s", CN_DIR_TEMPLATE_DIR, msg);
    return HTTP_INTERNAL_SERVER_ERROR;
}

static void add_asset(apr_pool_t *p, cn_pages_t *pg, const char *name, const char *type,
                      const char *body, apr_size_t len)
{
    asset_t *a = apr_pcalloc(p, sizeof(*a));
    a->type = type;
    a->body = body;
    a->len = len;
    apr_hash_set(pg->assets, name, APR_HASH_KEY_STRING, a);
}

/* The stylesheet of an application's accent colour: the two custom
 * properties connect.css uses, the text colour chosen to read on the accent.
 * Named by its digest, so its URL changes with it. */
static void add_theme(apr_pool_t *pconf, cn_pages_t *pg, cn_app_t *app)
{
    unsigned rgb = 0;
    const char *css, *name;
    app->theme_asset = NULL;
    if (!app->color || cn_color_parse(app->color, &rgb) != APR_SUCCESS) {
        return;
    }
    css = apr_psprintf(pconf, "/* %s */\n:root { --accent: %s; --on-accent: %s; }\n",
                       "the accent colour of an application (ConnectApplication color=)",
                       app->color, cn_color_text_on(rgb));
    name = apr_psprintf(pconf, "theme-%.12s.css", cn_sha256_hex(pconf, css, strlen(css)));
    add_asset(pconf, pg, name, "text/css; charset=utf-8", css, strlen(css));
    app->theme_asset = name;
}

int cn_pages_load(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s, cn_server_conf_t *sc)
{
    cn_pages_t *pg = apr_pcalloc(pconf, sizeof(*pg));
    const char *const *name;
    const char *css = NULL, *err = NULL;
    apr_size_t css_len = 0;
    apr_finfo_t fi;
    int i;

    pg->dir = sc->template_dir ? sc->template_dir : default_template_dir(pconf);
    pg->templates = apr_hash_make(pconf);
    pg->assets = apr_hash_make(pconf);
    if (apr_stat(&fi, pg->dir, APR_FINFO_TYPE, ptemp) != APR_SUCCESS || fi.filetype != APR_DIR) {
        return refuse_pages(s, apr_psprintf(ptemp, "%s is not a directory%s", pg->dir,
                                            sc->template_dir ? ""
                                                             : " (the default: set "
                                                               CN_DIR_TEMPLATE_DIR
                                                               " to the module's conf/templates)"));
    }
    for (name = template_names; *name; ++name) {
        cn_template_t *t = NULL;
        if (cn_template_load(pconf, apr_pstrcat(ptemp, pg->dir, "/", *name, NULL), &t, &err)
            != APR_SUCCESS) {
            return refuse_pages(s, err);
        }
        apr_hash_set(pg->templates, *name, APR_HASH_KEY_STRING, t);
    }
    if (cn_file_read(pconf, apr_pstrcat(ptemp, pg->dir, "/" CN_STYLESHEET, NULL), CN_STYLESHEET_MAX,
                     &css, &css_len, &err) != APR_SUCCESS) {
        return refuse_pages(s, err);
    }
    add_asset(pconf, pg, CN_STYLESHEET, "text/css; charset=utf-8", css, css_len);
    pg->css_version = apr_pstrndup(pconf, cn_sha256_hex(ptemp, css, css_len), 12);
    for (i = 0; i < sc->apps->nelts; ++i) {
        add_theme(pconf, pg, APR_ARRAY_IDX(sc->apps, i, cn_app_t *));
    }
    sc->pages = pg;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, CNLOGNO(00802) "%s: the pages' templates are "
                 "in %s", CN_DIR_TEMPLATE_DIR, pg->dir);
    return OK;
}

/* ---- headers ---------------------------------------------------------------- */

/* A source a form may be answered from (cn_url_origin's forms): nothing that
 * could end a directive or add a keyword. */
static int csp_source_ok(const char *tok)
{
    const char *c;
    if (!apr_isalpha(*tok) || !strchr(tok, ':')) {
        return 0;
    }
    for (c = tok; *c; ++c) {
        if (!apr_isalnum(*c) && !strchr("+-.:/", *c)) {
            return 0;
        }
    }
    return 1;
}

/* The page's policy: nothing but the module's stylesheets, the
 * application's logo (its origin only) and forms posted here, whose answer
 * may go on to EXTRA (space-separated sources: Chromium checks form-action
 * on the redirect after a POST too). */
static const char *page_csp(cn_req_t *req, const cn_app_t *app, const char *extra)
{
    apr_pool_t *p = req->r->pool;
    const char *form_action = "'self'";
    if (extra && *extra) {
        char *copy = apr_pstrdup(p, extra), *tok, *last = NULL;
        for (tok = apr_strtok(copy, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
            if (csp_source_ok(tok)) {
                form_action = apr_pstrcat(p, form_action, " ", tok, NULL);
            }
            else {
                cn_log(req, APLOG_WARNING, CNLOGNO(00803) "form-action source refused: "
                       "not an origin (%" APR_SIZE_T_FMT " bytes)", strlen(tok));
            }
        }
    }
    return apr_pstrcat(p, "default-src 'none'; style-src 'self'; ",
                       app && app->logo_origin ? "img-src " : "",
                       app && app->logo_origin ? app->logo_origin : "",
                       app && app->logo_origin ? "; " : "",
                       "form-action ", form_action, "; frame-ancestors 'none'; base-uri 'none'",
                       NULL);
}

static void page_headers(request_rec *r, const char *csp)
{
    apr_table_setn(r->err_headers_out, "Content-Security-Policy", csp);
    apr_table_setn(r->err_headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->err_headers_out, "Referrer-Policy", "no-referrer");
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
}

/* ---- pages ------------------------------------------------------------------- */

/* What a template that cannot be rendered is replaced with. */
static const char fallback_page[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>Something went wrong</title></head><body><main><h1>Something went wrong</h1>"
    "<p>We could not show this page. Please try again in a few minutes.</p></main></body>"
    "</html>\n";

/* The application a page speaks for: the caller's, the flow's, or none. */
static const cn_app_t *page_app(cn_req_t *req)
{
    const char *id = req->page_app_id ? req->page_app_id : req->ctx.app_id;
    if (req->app) {
        return req->app;
    }
    return id ? apr_hash_get(req->sc->apps_by_id, id, APR_HASH_KEY_STRING) : NULL;
}

/* The path of the mount this request came through (pages link their
 * stylesheet there), without a trailing slash. */
static const char *mount_of(cn_req_t *req)
{
    const char *uri = req->r->uri;
    apr_size_t ul = uri ? strlen(uri) : 0, pl = req->path ? strlen(req->path) : 0;
    if (uri && req->path && pl <= ul && !strcmp(uri + ul - pl, req->path)) {
        apr_size_t n = ul - pl;
        while (n && uri[n - 1] == '/') {
            --n;
        }
        return apr_pstrndup(req->r->pool, uri, n);
    }
    return req->sc->base_path ? req->sc->base_path : "";
}

/* The values every template has (see conf/templates/error.html). */
static json_t *common_values(cn_req_t *req, const cn_app_t *app)
{
    apr_pool_t *p = req->r->pool;
    const cn_pages_t *pg = req->sc->pages;
    const char *mount = mount_of(req);
    return cn_json_own(p, json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:{s:s,s:s}}", "lang", CN_PAGE_LANG,
        "app", "name", app ? app->display_name : "", "logo", app && app->logo ? app->logo : "",
        "color", app && app->color ? app->color : "",
        "assets", "css", apr_pstrcat(p, mount, "/assets/" CN_STYLESHEET "?v=",
                                     pg ? pg->css_version : "", NULL),
        "theme", app && app->theme_asset ? apr_pstrcat(p, mount, "/assets/", app->theme_asset,
                                                       NULL)
                                         : ""));
}

/* error.field F becomes error.on.F = true: a template cannot compare
 * strings, but it can test a name. */
static void mark_error_field(json_t *values)
{
    json_t *err = json_object_get(values, "error"), *on;
    const char *field = json_string_value(json_object_get(err, "field"));
    if (!json_is_object(err) || !field || !*field) {
        return;
    }
    if (!json_is_object(on = json_object_get(err, "on"))) {
        on = json_object();
        json_object_set_new(err, "on", on);
    }
    json_object_set_new(on, field, json_true());
}

static int send_html(request_rec *r, int status, const char *html, apr_size_t len)
{
    r->status = status;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(html, (int)len, r);
    }
    return OK;
}

int cn_page_render(cn_req_t *req, int status, const char *template_name, json_t *values,
                   const char *extra_form_action)
{
    request_rec *r = req->r;
    const cn_pages_t *pg = req->sc->pages;
    const cn_template_t *t = pg && template_name
                                 ? apr_hash_get(pg->templates, template_name, APR_HASH_KEY_STRING)
                                 : NULL;
    const cn_app_t *app = page_app(req);
    const char *html = NULL;
    apr_size_t len = 0;
    apr_status_t rv = APR_ENOENT;

    if (!json_is_object(values)) {
        values = cn_json_own(r->pool, json_object());
    }
    mark_error_field(values);
    json_object_update_missing(values, common_values(req, app));
    if (!t || (rv = cn_template_render(r->pool, t, values, &html, &len)) != APR_SUCCESS) {
        cn_log(req, APLOG_ERR, CNLOGNO(00804) "page %s cannot be rendered: %s",
               template_name ? template_name : "(none)",
               !t ? "no such template" : "larger than the renderer's limits");
        status = HTTP_INTERNAL_SERVER_ERROR;
        html = fallback_page;
        len = sizeof(fallback_page) - 1;
    }
    page_headers(r, page_csp(req, app, extra_form_action));
    return send_html(r, status, html, len);
}

int cn_page_error(cn_req_t *req, cn_event_id_t type, const char *description)
{
    request_rec *r = req->r;
    int status = 0;
    const cn_event_t *ev;
    const cn_page_text_t *words;
    json_t *values;
    cn_db_unavailable_answer(req, &status, &type, &description);
    ev = cn_event(type);
    words = cn_page_text(ev->id);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "[%s] " CNLOGNO(00201) "%s %s -> page %s (%d)%s%s",
                  req->request_id, r->method, req->path, ev->type, ev->code,
                  description ? ": " : "", description ? description : "");
    /* The description is for the log: the page says only what the user can act on. */
    values = cn_json_own(r->pool, json_pack("{s:s,s:s,s:s,s:{s:s,s:i},s:s}", "title",
                                            words->title, "message", words->message, "advice",
                                            words->advice, "error", "type", ev->type, "code",
                                            ev->code, "request_id", req->request_id));
    return cn_page_render(req, ev->http_code >= 400 ? ev->http_code : HTTP_BAD_REQUEST,
                          "error.html", values, NULL);
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
    page_headers(r, page_csp(req, NULL, NULL));
    apr_table_setn(r->headers_out, "Location", location);
    r->status = HTTP_MOVED_TEMPORARILY;
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_set_content_length(r, 0);
    return OK;
}

int cn_page_ok(cn_req_t *req)
{
    request_rec *r = req->r;
    page_headers(r, page_csp(req, NULL, NULL));
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, 0);
    return OK;
}

/* ---- GET <mount>/assets/{name} ----------------------------------------------- */

int cn_route_asset(cn_req_t *req)
{
    request_rec *r = req->r;
    const cn_pages_t *pg = req->sc->pages;
    const asset_t *a = pg ? apr_hash_get(pg->assets, req->params[0], APR_HASH_KEY_STRING) : NULL;
    if (!a) {
        return cn_page_error(req, CN_EV_NOT_FOUND_ERROR, "no such asset");
    }
    apr_table_setn(r->headers_out, "Cache-Control", CN_ASSET_CACHE_CONTROL);
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    r->status = HTTP_OK;
    ap_set_content_type(r, a->type);
    ap_set_content_length(r, (apr_off_t)a->len);
    if (!r->header_only) {
        ap_rwrite(a->body, (int)a->len, r);
    }
    return OK;
}

/* ---- GET <mount>/preview/{page} ----------------------------------------------- */

/* Sample values of each page: what its callers pass ({mount} is replaced).
 * The second of each pair is its error state. */
static const struct preview_t {
    const char *page, *template_name, *values, *errors;
} previews[] = {
    {"error", "error.html",
     "{\"title\":\"This sign-in link cannot be used\",\"message\":\"The link has expired, has "
     "already been used, or was opened in a different browser than the one it was meant "
     "for.\",\"advice\":\"Go back to the application you came from and start connecting your "
     "mailbox again.\",\"error\":{\"type\":\"login_id_invalid\",\"code\":25004},"
     "\"request_id\":\"00000000-0000-4000-8000-000000000000\"}",
     NULL},
    {"imap", "imap.html",
     "{\"action\":\"{mount}/preview/imap\",\"csrf\":\"preview-csrf\",\"state\":\"preview-state\","
     "\"email\":\"\",\"username\":\"\",\"host\":\"imap.example.com\",\"port\":\"993\","
     "\"security_ssl\":true,\"security_starttls\":false,\"advanced_open\":false}",
     "{\"action\":\"{mount}/preview/imap\",\"csrf\":\"preview-csrf\",\"state\":\"preview-state\","
     "\"email\":\"someone@yahoo.com\",\"username\":\"someone@yahoo.com\","
     "\"host\":\"imap.mail.yahoo.com\",\"port\":\"993\",\"security_ssl\":true,"
     "\"security_starttls\":false,\"advanced_open\":true,\"error\":{\"message\":"
     "\"The email address or password is not right.\",\"field\":\"password\"},"
     "\"hint\":{\"text\":\"Yahoo needs an app password.\",\"url\":"
     "\"https://help.yahoo.com/kb/SLN15241.html\"}}"},
    {"choose", "choose.html",
     "{\"providers\":[{\"name\":\"google\",\"label\":\"Continue with Google\",\"url\":"
     "\"{mount}/preview/error\"},{\"name\":\"microsoft\",\"label\":\"Continue with Microsoft\","
     "\"url\":\"{mount}/preview/error\"},{\"name\":\"imap\",\"label\":\"Other email (IMAP)\","
     "\"url\":\"{mount}/preview/imap\"}],\"has_providers\":true,\"detect\":true,"
     "\"action\":\"{mount}/preview/choose\",\"hidden\":[{\"name\":\"id\","
     "\"value\":\"preview-id\"}],\"email\":\"\"}",
     "{\"providers\":[],\"detect\":true,\"action\":\"{mount}/preview/choose\","
     "\"hidden\":[{\"name\":\"id\",\"value\":\"preview-id\"}],\"email\":\"someone@nowhere.invalid\","
     "\"error\":{\"message\":"
     "\"We could not find out how to connect this address. Check it, or choose your "
     "provider.\"}}"},
    {"connect", "connect.html",
     "{\"providers\":[{\"name\":\"google\",\"label\":\"Continue with Google\"},{\"name\":"
     "\"microsoft\",\"label\":\"Continue with Microsoft\"},{\"name\":\"imap\",\"label\":"
     "\"Other email (IMAP)\"}],\"has_providers\":true,\"action\":\"{mount}/preview/connect\","
     "\"hidden\":[{\"name\":\"token\",\"value\":\"preview-token\"}],\"email\":\"\","
     "\"first_name\":\"\",\"last_name\":\"\"}",
     "{\"providers\":[{\"name\":\"imap\",\"label\":\"Other email (IMAP)\"}],"
     "\"has_providers\":true,\"action\":\"{mount}/preview/connect\",\"hidden\":[{\"name\":"
     "\"token\",\"value\":\"preview-token\"}],\"email\":\"someone@nowhere.invalid\","
     "\"first_name\":\"Ann\",\"last_name\":\"\",\"error\":{\"message\":\"We could not find "
     "out how to connect this address. Check it, or choose your provider.\"}}"},
    {NULL, NULL, NULL, NULL}
};

int cn_route_preview(cn_req_t *req)
{
    apr_pool_t *p = req->r->pool;
    const struct preview_t *pv;
    const char *text, *client_id = apr_table_get(req->query, "client_id"), *at;
    int errors = apr_table_get(req->query, "errors") != NULL;
    char *filled;
    json_t *values;

    if (req->sc->template_preview != 1) {
        return cn_page_error(req, CN_EV_NOT_FOUND_ERROR, "ConnectTemplatePreview is off");
    }
    for (pv = previews; pv->page && strcmp(pv->page, req->params[0]); ++pv) {
    }
    if (!pv->page) {
        return cn_page_error(req, CN_EV_NOT_FOUND_ERROR, "no such page to preview");
    }
    text = errors && pv->errors ? pv->errors : pv->values;
    filled = apr_pstrdup(p, "");
    while ((at = strstr(text, "{mount}"))) {
        filled = apr_pstrcat(p, filled, apr_pstrndup(p, text, (apr_size_t)(at - text)),
                             mount_of(req), NULL);
        text = at + 7;
    }
    filled = apr_pstrcat(p, filled, text, NULL);
    if (!(values = cn_json_parse(p, filled, strlen(filled), NULL))) {
        return cn_page_error(req, CN_EV_INTERNAL_ERROR, "a preview's values do not parse");
    }
    if (client_id) {
        req->page_app_id = client_id;
    }
    /* ?form_action= as a caller's extra sources: what the policy keeps of it. */
    return cn_page_render(req, HTTP_OK, pv->template_name, values,
                          apr_table_get(req->query, "form_action"));
}
