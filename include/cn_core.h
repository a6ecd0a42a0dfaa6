/* The context of every core call: the caller's pool, the seams to the host
 * (database, HTTP client), the keyring, who calls, and the result of a call
 * that failed. The glue fills one per request (or per background job); the
 * core never sees a request_rec. */
#ifndef CN_CORE_H
#define CN_CORE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "cn_util.h"
#include "cn_store.h"

typedef struct cn_http_t cn_http_t;             /* cn_proto.h */

typedef struct cn_ctx_t {
    apr_pool_t *pool;
    cn_db_t *db;
    const cn_keyring_t *ring;
    const char *app_id; /* the authenticated application's client id */
    apr_int64_t now;    /* seconds since the epoch */
    cn_result_t res;    /* the failure, when a call fails */
    const char *request_id;        /* for events and logs */
    cn_http_t *http;               /* outgoing calls to providers */
    const apr_table_t *endpoints;  /* "provider:name" -> URL overrides */
    const char *base_url;          /* ConnectBaseURL */
    const char *client_ip, *user_agent; /* of the browser or caller */
    cn_text_cache_t *grant_cache; /* rendered grants, per process; may be NULL */
} cn_ctx_t;

#endif
