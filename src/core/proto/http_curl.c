/* The libcurl implementation of cn_http_t. Easy handles are pooled per
 * process (apr_reslist) so connections and TLS sessions are reused; a
 * request to a host a user chose gets a handle of its own, the address
 * rule on its sockets, and the addresses its caller resolved. */
#include <string.h>
#include <apr_strings.h>
#include <apr_reslist.h>
#include <curl/curl.h>

#include "cn_proto.h"
#include "cn_util.h"

typedef struct curl_client_t {
    cn_http_options_t opts;
    apr_reslist_t *handles;
} curl_client_t;

typedef struct sink_t {
    apr_pool_t *pool;
    char *buf;
    apr_size_t len, cap, max;
    int overflow;
} sink_t;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userp)
{
    sink_t *s = userp;
    size_t n = size * nmemb;
    if (s->len + n > s->max) {
        s->overflow = 1;
        return 0; /* aborts the transfer */
    }
    if (s->len + n + 1 > s->cap) {
        apr_size_t cap = s->cap ? s->cap : 4096;
        char *nb;
        while (cap < s->len + n + 1) {
            cap *= 2;
        }
        nb = apr_palloc(s->pool, cap);
        if (s->len) {
            memcpy(nb, s->buf, s->len);
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return n;
}

static apr_status_t handle_make(void **res, void *params, apr_pool_t *pool)
{
    CURL *c = curl_easy_init();
    *res = c;
    return c ? APR_SUCCESS : APR_ENOMEM;
}

static apr_status_t handle_free(void *res, void *params, apr_pool_t *pool)
{
    curl_easy_cleanup(res);
    return APR_SUCCESS;
}

/* Append LINE to *LIST. On failure *LIST is left as it was (libcurl returns
 * NULL and keeps the old list), still the caller's to free. */
static int header_add(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l) {
        return 0;
    }
    *list = l;
    return 1;
}

/* Every option of one request, each result checked. The header list built
 * here is in *HEADERS even when a later step fails. */
static apr_status_t request_setup(CURL *c, const cn_http_options_t *opts, apr_pool_t *pool,
                                  const cn_http_request_t *req, sink_t *sink, char *errbuf,
                                  struct curl_slist **headers)
{
    /* a request may ask for less time than the client allows, not more */
    long total_ms = req->timeout_ms > 0 && req->timeout_ms < opts->timeout_ms ? req->timeout_ms
                                                                             : opts->timeout_ms;
    long connect_ms = opts->connect_timeout_ms < total_ms ? opts->connect_timeout_ms : total_ms;
    if (curl_easy_setopt(c, CURLOPT_URL, req->url) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
        || (opts->ca_file && curl_easy_setopt(c, CURLOPT_CAINFO, opts->ca_file) != CURLE_OK)
        || curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEDATA, sink) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_USERAGENT, "mod_connect") != CURLE_OK) {
        return APR_EGENERAL;
    }
    if (!header_add(headers, apr_pstrcat(pool, "Accept: ",
                                         req->accept ? req->accept : "application/json", NULL))
        || (req->bearer
            && !header_add(headers,
                           apr_pstrcat(pool, "Authorization: Bearer ", req->bearer, NULL)))) {
        return APR_EGENERAL;
    }
    if (req->headers) {
        const char *const *h;
        for (h = req->headers; *h; ++h) {
            if (!header_add(headers, *h)) {
                return APR_EGENERAL;
            }
        }
    }
    if (!strcmp(req->method, "POST")) {
        const char *type = req->content_type ? req->content_type
                                             : "application/x-www-form-urlencoded";
        if (!header_add(headers, apr_pstrcat(pool, "Content-Type: ", type, NULL))
            || curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK
            || curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "") != CURLE_OK
            || curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len)
                   != CURLE_OK) {
            return APR_EGENERAL;
        }
    }
    return curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers) == CURLE_OK ? APR_SUCCESS
                                                                           : APR_EGENERAL;
}

/* The handle of a request to a host a user chose, its own, and the
 * addresses pinned on it: both go when the request is done (own_cleanup). */
typedef struct own_handle_t {
    CURL *c;
    struct curl_slist *resolve;
} own_handle_t;

static apr_status_t own_cleanup(void *data)
{
    own_handle_t *o = data;
    curl_easy_cleanup(o->c);
    curl_slist_free_all(o->resolve);
    return APR_SUCCESS;
}

/* What a request to a host a user chose adds: the address rule, and the
 * addresses the caller found for the host. */
static apr_status_t user_chosen_setup(own_handle_t *o, apr_pool_t *pool,
                                      const cn_http_request_t *req, cn_curl_guard_t *guard)
{
    guard->pool = pool;
    guard->allow = req->allow;
    if (cn_curl_guard(o->c, guard) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (!req->pinned) {
        return APR_SUCCESS;
    }
    if (!(o->resolve = curl_slist_append(NULL, req->pinned))) {
        return APR_EGENERAL;
    }
    return curl_easy_setopt(o->c, CURLOPT_RESOLVE, o->resolve) == CURLE_OK ? APR_SUCCESS
                                                                           : APR_EGENERAL;
}

/* A handle for REQ: from the pool, or (*OWN) for a host a user chose one of
 * its own, cleaned up with POOL at the latest. */
static apr_status_t handle_get(curl_client_t *cc, apr_pool_t *pool, const cn_http_request_t *req,
                               CURL **c, own_handle_t **own)
{
    *own = NULL;
    if (!req->user_chosen) {
        return apr_reslist_acquire(cc->handles, (void **)c);
    }
    if (!(*c = curl_easy_init())) {
        return APR_ENOMEM;
    }
    *own = apr_pcalloc(pool, sizeof(**own));
    (*own)->c = *c;
    apr_pool_cleanup_register(pool, *own, own_cleanup, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

/* Done with C: a handle of its own goes, a pooled one goes back when it is
 * REUSABLE. */
static void handle_put(curl_client_t *cc, apr_pool_t *pool, CURL *c, own_handle_t *own,
                       int reusable)
{
    if (own) {
        apr_pool_cleanup_run(pool, own, own_cleanup);
    }
    else if (reusable) {
        apr_reslist_release(cc->handles, c);
    }
    else {
        apr_reslist_invalidate(cc->handles, c);
    }
}

static apr_status_t curl_perform(cn_http_t *http, apr_pool_t *pool, const cn_http_request_t *req,
                                 cn_http_response_t *resp)
{
    curl_client_t *cc = http->baton;
    CURL *c = NULL;
    struct curl_slist *headers = NULL;
    sink_t sink = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc;
    long status = 0;
    char *ctype = NULL;
    apr_status_t rv;
    cn_curl_guard_t guard = {0};
    own_handle_t *own;
    int detached;

    memset(resp, 0, sizeof(*resp));
    if (handle_get(cc, pool, req, &c, &own) != APR_SUCCESS) {
        resp->error = "no HTTP client handle";
        return APR_EGENERAL;
    }
    curl_easy_reset(c);
    sink.pool = pool;
    sink.max = req->max_response && req->max_response < cc->opts.max_response
                   ? req->max_response
                   : cc->opts.max_response;
    if (request_setup(c, &cc->opts, pool, req, &sink, errbuf, &headers) != APR_SUCCESS
        || (own && user_chosen_setup(own, pool, req, &guard) != APR_SUCCESS)) {
        /* The handle may hold options half set, and pointers to this
         * frame and to the list: it is not handed out again. */
        handle_put(cc, pool, c, own, 0);
        curl_slist_free_all(headers);
        resp->error = "cannot configure the HTTP client";
        return APR_EGENERAL;
    }

    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
    resp->content_type = ctype ? apr_pstrdup(pool, ctype) : NULL;
    /* The handle goes back to the pool without pointers to the header list
     * or to this frame; one that cannot let go of them is not kept. */
    detached = curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL) == CURLE_OK
               && curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL) == CURLE_OK;

    if (rc == CURLE_OK) {
        resp->status = (int)status;
        resp->body = sink.buf ? sink.buf : "";
        resp->body_len = sink.len;
        rv = APR_SUCCESS;
    }
    else if (sink.overflow) {
        resp->error = "the answer exceeds the size limit";
        rv = APR_ENOSPC;
    }
    else if (rc == CURLE_OPERATION_TIMEDOUT) {
        resp->error = "timed out";
        rv = APR_TIMEUP;
    }
    else if (rc == CURLE_COULDNT_CONNECT && guard.refused) {
        resp->error = apr_pstrcat(pool, "not connected: ", guard.refused, NULL);
        rv = APR_EACCES;
    }
    else {
        resp->error = apr_pstrdup(pool, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        rv = APR_EGENERAL;
    }
    handle_put(cc, pool, c, own, detached);
    curl_slist_free_all(headers);
    return rv;
}

apr_status_t cn_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t cn_http_curl_make(apr_pool_t *pool, const cn_http_options_t *opts,
                               cn_http_t **out)
{
    curl_client_t *cc = apr_pcalloc(pool, sizeof(*cc));
    cn_http_t *http = apr_pcalloc(pool, sizeof(*http));
    apr_status_t rv;
    cc->opts = *opts;
    if (opts->ca_file) {
        cc->opts.ca_file = apr_pstrdup(pool, opts->ca_file);
    }
    /* min 1 (made now: a libcurl that cannot make a handle fails here, at
     * child start, not on a request), soft max 8 kept, hard max 64 handles;
     * idle ones expire after 60 s */
    rv = apr_reslist_create(&cc->handles, 1, 8, 64, apr_time_from_sec(60), handle_make,
                            handle_free, cc, pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(pool, cc->handles, (apr_status_t(*)(void *))apr_reslist_destroy,
                              apr_pool_cleanup_null);
    http->perform = curl_perform;
    http->baton = cc;
    *out = http;
    return APR_SUCCESS;
}

static const char *encode_pairs(apr_pool_t *pool, const char *const *pairs)
{
    const char *out = "";
    int first = 1;
    for (; pairs[0]; pairs += 2) {
        if (!pairs[1]) {
            continue;
        }
        out = apr_pstrcat(pool, out, first ? "" : "&", cn_url_encode(pool, pairs[0]), "=",
                          cn_url_encode(pool, pairs[1]), NULL);
        first = 0;
    }
    return out;
}

const char *cn_http_form(apr_pool_t *pool, const char *const *pairs)
{
    return encode_pairs(pool, pairs);
}

const char *cn_http_url_with_query(apr_pool_t *pool, const char *url, const char *const *pairs)
{
    const char *q = encode_pairs(pool, pairs);
    if (!*q) {
        return url;
    }
    return apr_pstrcat(pool, url, strchr(url, '?') ? "&" : "?", q, NULL);
}
