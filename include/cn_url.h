/* Values that end up in URLs and headers: percent-encoding, and the checks of
 * what an application may register as a redirect URI or a Microsoft tenant.
 * APR and APR-util only (the fuzz targets build this file on its own). */
#ifndef CN_URL_H
#define CN_URL_H

#include <apr_pools.h>

#define CN_REDIRECT_URI_MAX 2048 /* bytes of one redirect URI */
#define CN_REDIRECT_URIS_MAX 50  /* redirect URIs of one integration */
#define CN_TENANT_MAX 253        /* a DNS name's limit */

/* S percent-encoded for a query component or a path segment (APR's
 * urlencoded form: everything but A-Z a-z 0-9 - . _ * is escaped, space as
 * '+'). NULL for NULL. */
const char *cn_url_encode(apr_pool_t *pool, const char *s);

/* APR_SUCCESS when URI may be registered as a redirect URI: at most
 * CN_REDIRECT_URI_MAX bytes of printable ASCII without white space, parsed by
 * apr_uri_parse, absolute, no fragment; http/https need a host (and a port,
 * if any, of 1-65535); any other scheme is a native app's (RFC 8252 §7.1,
 * e.g. com.example.app:/oauth), except javascript, data, file and vbscript.
 * APR_EINVAL otherwise, with *WHY (when given) saying why, in words that do
 * not repeat the value. */
apr_status_t cn_url_redirect_uri_check(apr_pool_t *pool, const char *uri, const char **why);

/* True when TENANT is a Microsoft tenant: a GUID (8-4-4-4-12 hex digits), a
 * DNS name of at least two labels (each 1-63 of A-Z a-z 0-9 and '-', not
 * starting or ending with '-'; CN_TENANT_MAX bytes in all), or one of common,
 * organizations, consumers (in any case). */
int cn_url_tenant_valid(const char *tenant);

#endif
