/* Private to proto/: every call to a provider goes through one function
 * (no database handle held, no HTTP client: service_unavailable), and its
 * failures become results the same way (proto/oauth2.c). */
#ifndef CN_PROTO_PROVIDER_H
#define CN_PROTO_PROVIDER_H

#include "cn_proto.h"

/* REQ through ctx->http: refused when a database handle is held; counted in
 * the metrics under PROVIDER and ENDPOINT (names of cn_metrics.h's tables). */
apr_status_t cn_provider_call(cn_ctx_t *ctx, const char *provider, const char *endpoint,
                              const cn_http_request_t *req, cn_http_response_t *resp);

/* The failure of WHAT (RV, RESP, its JSON BODY or NULL) in ctx->res: an
 * OAuth error's invalid_grant as INVALID_GRANT_TYPE, invalid_client and
 * unauthorized_client as invalid_client, others as oauth_provider_error; no
 * answer as provider_not_responding. */
apr_status_t cn_provider_failure(cn_ctx_t *ctx, const char *what, apr_status_t rv,
                                 const cn_http_response_t *resp, json_t *body,
                                 cn_event_id_t invalid_grant_type);

/* RESP's body as a JSON object, or NULL. */
json_t *cn_provider_json(cn_ctx_t *ctx, const cn_http_response_t *resp);

#endif
