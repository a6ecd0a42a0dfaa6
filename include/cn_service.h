/* The API's operations, independent of httpd: each takes a context with a
 * pool, a database handle, the keyring and the calling application, and
 * returns APR_SUCCESS with a JSON body, or a failure described in ctx->res. */
#ifndef CN_SERVICE_H
#define CN_SERVICE_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "cn_crypto.h"
#include "cn_event.h"
#include "cn_http.h"
#include "cn_store.h"

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
    struct cn_text_cache_t *grant_cache; /* rendered grants, per process; may be NULL */
} cn_ctx_t;

/* Providers this build supports as integrations. */
int cn_provider_supported(const char *provider);

/* Paging: LIMIT and OFFSET query values; defaults 10 and 0, limit 1..200. */
apr_status_t cn_paging_parse(cn_ctx_t *ctx, const char *limit, const char *offset, int *lim,
                             int *off);

/* Integrations (one per provider per application). */
apr_status_t cn_integration_create(cn_ctx_t *ctx, json_t *body, json_t **out);
apr_status_t cn_integration_list(cn_ctx_t *ctx, int limit, int offset, json_t **out);
apr_status_t cn_integration_read(cn_ctx_t *ctx, const char *provider, json_t **out);
apr_status_t cn_integration_update(cn_ctx_t *ctx, const char *provider, json_t *body,
                                   json_t **out);
apr_status_t cn_integration_delete(cn_ctx_t *ctx, const char *provider);

/* The integration row of (app, provider): id and sealed client secret are
 * what later flows need. APR_ENOENT when there is none. */
typedef struct cn_integration_t {
    const char *id, *app_id, *provider, *name;
    json_t *settings;            /* without client_secret */
    const char *client_secret;   /* sealed, may be NULL */
    json_t *redirect_uris, *scope;
    int expires_in;
    apr_int64_t created_at, updated_at;
} cn_integration_t;
apr_status_t cn_integration_load(cn_ctx_t *ctx, const char *provider, cn_integration_t **out);

/* The same for an operation that needs it: a missing integration (or an
 * unknown provider) fails with integration_not_found, a database error with
 * internal_error, both in ctx->res. */
apr_status_t cn_integration_require(cn_ctx_t *ctx, const char *provider, cn_integration_t **out);

/* Credentials of an integration. */
apr_status_t cn_credential_create(cn_ctx_t *ctx, const char *provider, json_t *body,
                                  json_t **out);
apr_status_t cn_credential_list(cn_ctx_t *ctx, const char *provider, int limit, int offset,
                                const char *sort_by, const char *order_by, json_t **out);
apr_status_t cn_credential_read(cn_ctx_t *ctx, const char *provider, const char *id,
                                json_t **out);
apr_status_t cn_credential_update(cn_ctx_t *ctx, const char *provider, const char *id,
                                  json_t *body, json_t **out);
apr_status_t cn_credential_delete(cn_ctx_t *ctx, const char *provider, const char *id);

/* Providers. */
apr_status_t cn_providers_find(cn_ctx_t *ctx, json_t **out);
apr_status_t cn_providers_detect(cn_ctx_t *ctx, const char *email, int all_provider_types,
                                 json_t **out);

/* Re-seal every stored secret not sealed with the ring's first key, in one
 * transaction. *COUNT gets the number of values re-sealed. */
apr_status_t cn_store_reencrypt(cn_ctx_t *ctx, int *count);

#endif
