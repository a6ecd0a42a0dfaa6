/* Where a mailbox lives: the bundled provider table (later DNS and
 * autoconfig), and provider detection for the API. */
#ifndef CN_DISCOVER_H
#define CN_DISCOVER_H

#include <apr_pools.h>
#include <jansson.h>
#include "cn_model.h"

/* The bundled provider table: well-known mail domains and where their
 * mailboxes live. */

typedef struct cn_known_domain_t {
    const char *domain;   /* exact, lowercase; "gmx.*" matches any gmx.TLD */
    const char *provider; /* google, microsoft, imap */
    const char *type;     /* google, microsoft, yahoo, icloud, ... */
    const char *imap_host;
    int imap_port;
} cn_known_domain_t;

/* The entry for the domain of EMAIL, or NULL. EMAIL must be local@domain. */
const cn_known_domain_t *cn_providers_lookup(apr_pool_t *pool, const char *email);

/* 1 when EMAIL is a plausible address: one '@', non-empty parts, at most 254
 * bytes, no white space or control characters. */
int cn_email_valid(const char *email);

/* The API: providers an application has integrations for, and the provider
 * of an address. */
apr_status_t cn_providers_find(cn_ctx_t *ctx, json_t **out);
apr_status_t cn_providers_detect(cn_ctx_t *ctx, const char *email, int all_provider_types,
                                 json_t **out);

#endif
