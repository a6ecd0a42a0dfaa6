/* Percent-encoding and the checks of redirect URIs and tenants: what an
 * application registers ends up in a Location header or a provider URL, so it
 * is refused at the door when it could break out of its place. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_lib.h>
#include <apr_uri.h>

#include "cn_util.h"

const char *cn_url_encode(apr_pool_t *pool, const char *s)
{
    return s ? apr_pescape_urlencoded(pool, s) : NULL;
}

/* Schemes a browser would run or read locally instead of navigating. */
static const char *const refused_schemes[] = {"javascript", "data", "file", "vbscript", NULL};

static apr_status_t refuse(const char **why, const char *reason)
{
    if (why) {
        *why = reason;
    }
    return APR_EINVAL;
}

apr_status_t cn_url_redirect_uri_check(apr_pool_t *pool, const char *uri, const char **why)
{
    apr_uri_t u;
    const unsigned char *c;
    const char *const *s;
    apr_size_t len;

    if (!uri || !(len = strlen(uri))) {
        return refuse(why, "it is empty");
    }
    if (len > CN_REDIRECT_URI_MAX) {
        return refuse(why, "it is longer than 2048 bytes");
    }
    /* Printable ASCII only: CR/LF would split the Location header, and no
     * URI (RFC 3986) has white space, control characters or raw UTF-8. */
    for (c = (const unsigned char *)uri; *c; ++c) {
        if (*c <= 0x20 || *c >= 0x7f) {
            return refuse(why, "it has white space, control or non-ASCII characters");
        }
    }
    if (strpbrk(uri, "\"<>\\^`{|}")) {
        return refuse(why, "it has characters a URI cannot have");
    }
    if (strchr(uri, '#')) {
        return refuse(why, "it has a fragment");
    }
    memset(&u, 0, sizeof(u));
    if (apr_uri_parse(pool, uri, &u) != APR_SUCCESS || !u.scheme) {
        return refuse(why, "it is not an absolute URI");
    }
    for (s = refused_schemes; *s; ++s) {
        if (!strcasecmp(u.scheme, *s)) {
            return refuse(why, "its scheme is not allowed");
        }
    }
    if (!strcasecmp(u.scheme, "http") || !strcasecmp(u.scheme, "https")) {
        if (!u.hostname || !*u.hostname) {
            return refuse(why, "it has no host");
        }
        if (u.port_str && *u.port_str
            && (strlen(u.port_str) > 5 || atoi(u.port_str) < 1 || atoi(u.port_str) > 65535)) {
            return refuse(why, "its port is not 1 to 65535");
        }
    }
    else if (!uri[strlen(u.scheme) + 1]) {
        return refuse(why, "it is a scheme alone");
    }
    return APR_SUCCESS;
}

static int is_hex(const char *s, apr_size_t n)
{
    apr_size_t i;
    for (i = 0; i < n; ++i) {
        if (!apr_isxdigit(s[i])) {
            return 0;
        }
    }
    return 1;
}

static int is_guid(const char *s)
{
    return strlen(s) == 36 && is_hex(s, 8) && s[8] == '-' && is_hex(s + 9, 4) && s[13] == '-'
           && is_hex(s + 14, 4) && s[18] == '-' && is_hex(s + 19, 4) && s[23] == '-'
           && is_hex(s + 24, 12);
}

static int is_dns_name(const char *s)
{
    const char *label = s, *c;
    int labels = 0;
    if (strlen(s) > CN_TENANT_MAX) {
        return 0;
    }
    for (c = s;; ++c) {
        if (*c == '.' || !*c) {
            apr_size_t n = (apr_size_t)(c - label);
            if (n < 1 || n > 63 || label[0] == '-' || c[-1] == '-') {
                return 0;
            }
            ++labels;
            if (!*c) {
                break;
            }
            label = c + 1;
        }
        else if (!apr_isalnum(*c) && *c != '-') {
            return 0;
        }
    }
    return labels >= 2;
}

int cn_url_tenant_valid(const char *tenant)
{
    static const char *const keywords[] = {"common", "organizations", "consumers", NULL};
    const char *const *k;
    if (!tenant) {
        return 0;
    }
    for (k = keywords; *k; ++k) {
        if (!strcasecmp(tenant, *k)) {
            return 1;
        }
    }
    return is_guid(tenant) || is_dns_name(tenant);
}

/* S in lower case, in POOL (url.c stands alone in the fuzz targets). */
static const char *lower(apr_pool_t *pool, const char *s)
{
    char *c = apr_pstrdup(pool, s), *d;
    for (d = c; *d; ++d) {
        *d = (char)apr_tolower(*d);
    }
    return c;
}

static int all_of(const char *s, const char *extra)
{
    for (; *s; ++s) {
        if (!apr_isalnum(*s) && !strchr(extra, *s)) {
            return 0;
        }
    }
    return 1;
}

const char *cn_url_origin(apr_pool_t *pool, const char *url)
{
    apr_uri_t u;
    const unsigned char *c;
    const char *scheme;
    if (!url || !*url) {
        return NULL;
    }
    for (c = (const unsigned char *)url; *c; ++c) {
        if (*c <= 0x20 || *c >= 0x7f || *c == '\'' || *c == '"' || *c == ';' || *c == ',') {
            return NULL;
        }
    }
    memset(&u, 0, sizeof(u));
    if (apr_uri_parse(pool, url, &u) != APR_SUCCESS || !u.scheme || !*u.scheme
        || !apr_isalpha(*u.scheme) || !all_of(u.scheme, "+-.")) {
        return NULL;
    }
    scheme = lower(pool, u.scheme);
    if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
        return apr_pstrcat(pool, scheme, ":", NULL);
    }
    if (!u.hostname || !*u.hostname || !all_of(u.hostname, "-.")) {
        return NULL;
    }
    if (u.port_str && (!*u.port_str || !all_of(u.port_str, "") || !u.port)) {
        return NULL;
    }
    return apr_pstrcat(pool, scheme, "://", lower(pool, u.hostname),
                       u.port_str ? ":" : "", u.port_str ? u.port_str : "", NULL);
}
