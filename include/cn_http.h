/* Outgoing HTTP: a small seam (a function table) so the core can call
 * providers; libcurl is the implementation the module uses. */
#ifndef CN_HTTP_H
#define CN_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct cn_http_request_t {
    const char *method;       /* "GET" or "POST" */
    const char *url;
    const char *content_type; /* of BODY, for POST */
    const char *body;
    apr_size_t body_len;
    const char *bearer;       /* Authorization: Bearer <bearer>, or NULL */
} cn_http_request_t;

typedef struct cn_http_response_t {
    int status;               /* HTTP status, 0 when no answer came */
    const char *content_type; /* may be NULL */
    const char *body;         /* NUL-terminated */
    apr_size_t body_len;
    const char *error;        /* transport failure, for logs (no secrets) */
} cn_http_response_t;

typedef struct cn_http_t cn_http_t;
struct cn_http_t {
    /* APR_SUCCESS when an HTTP answer came (whatever its status);
     * APR_TIMEUP on a timeout, APR_ENOSPC when the answer exceeds the size
     * cap, APR_EGENERAL for other transport failures. */
    apr_status_t (*perform)(cn_http_t *http, apr_pool_t *pool, const cn_http_request_t *req,
                            cn_http_response_t *resp);
    void *baton;
};

typedef struct cn_http_options_t {
    const char *ca_file;      /* NULL: the system's trust store */
    long connect_timeout_ms;
    long timeout_ms;
    apr_size_t max_response;  /* bytes */
} cn_http_options_t;

/* Process-wide libcurl setup; call once before threads start. */
apr_status_t cn_http_global_init(void);

/* A libcurl client whose easy handles are pooled in POOL (a process-lifetime
 * pool): no redirects are followed, only http/https, TLS verified. */
apr_status_t cn_http_curl_make(apr_pool_t *pool, const cn_http_options_t *opts,
                               cn_http_t **out);

/* application/x-www-form-urlencoded from name/value pairs (NULL-terminated,
 * NULL values skipped). */
const char *cn_http_form(apr_pool_t *pool, const char *const *pairs);

/* Append name=value pairs (NULL-terminated) to URL as a query string. */
const char *cn_http_url_with_query(apr_pool_t *pool, const char *url,
                                   const char *const *pairs);

#endif
