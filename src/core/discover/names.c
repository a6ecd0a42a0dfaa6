/* Host names in discovery: what a DNS name may be, which mail exchangers
 * belong to Google Workspace and Microsoft 365, and the registrable domain
 * of an MX host (where its provider's table row or autoconfig is). */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "cn_util.h"
#include "cn_discover.h"

int cn_dns_name_valid(const char *name)
{
    const char *label = name, *c;
    if (!name || !*name || strlen(name) > 253) {
        return 0;
    }
    for (c = name;; ++c) {
        if (*c == '.' || !*c) {
            apr_size_t n = (apr_size_t)(c - label);
            if (n < 1 || n > 63 || label[0] == '-' || c[-1] == '-') {
                return 0;
            }
            if (!*c) {
                return 1;
            }
            label = c + 1;
        }
        else if (!apr_isalnum(*c) && *c != '-') {
            return 0;
        }
    }
}

/* HOST (lowercase, no trailing dot) is SUFFIX or ends with "." SUFFIX. */
static int in_domain(const char *host, const char *suffix)
{
    apr_size_t h = strlen(host), s = strlen(suffix);
    return h == s ? !strcmp(host, suffix)
                  : h > s && host[h - s - 1] == '.' && !strcmp(host + h - s, suffix);
}

/* HOST ends with "." SUFFIX (a host below it, not the domain itself). */
static int below(const char *host, const char *suffix)
{
    return strcmp(host, suffix) && in_domain(host, suffix);
}

static char *normal_host(char *buf, apr_size_t size, const char *host)
{
    apr_size_t n = host ? strlen(host) : 0, i;
    if (n && host[n - 1] == '.') {
        --n;
    }
    if (!n || n >= size) {
        return NULL;
    }
    for (i = 0; i < n; ++i) {
        buf[i] = (char)apr_tolower(host[i]);
    }
    buf[n] = '\0';
    return buf;
}

const char *cn_discover_mx_provider(const char *mx_host)
{
    char buf[256];
    const char *h = normal_host(buf, sizeof(buf), mx_host);
    if (!h) {
        return NULL;
    }
    /* Google Workspace: aspmx.l.google.com and alt1..4.aspmx.l.google.com,
     * the older aspmx2..5.googlemail.com, and smtp.google.com (today's single
     * MX record) */
    if (in_domain(h, "aspmx.l.google.com") || below(h, "googlemail.com")
        || below(h, "google.com")) {
        return "google";
    }
    /* Microsoft 365: <tenant>.mail.protection.outlook.com, and the newer
     * <tenant>.<region>.mx.microsoft */
    if (below(h, "mail.protection.outlook.com") || below(h, "mx.microsoft")) {
        return "microsoft";
    }
    return NULL;
}

/* Two-level public suffixes under which a registrable domain has three
 * labels: the common ones, not the whole Public Suffix List. */
static const char *const two_level_suffixes[] = {
    "co.uk", "org.uk", "me.uk", "ltd.uk", "plc.uk", "ac.uk", "gov.uk", "net.uk",
    "com.au", "net.au", "org.au", "edu.au", "gov.au", "id.au",
    "co.nz", "net.nz", "org.nz", "ac.nz",
    "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp",
    "co.kr", "or.kr", "ne.kr",
    "co.za", "org.za", "net.za",
    "co.in", "net.in", "org.in", "firm.in",
    "co.il", "org.il", "net.il",
    "co.id", "or.id", "web.id",
    "com.br", "net.br", "org.br",
    "com.mx", "com.ar", "com.co", "com.pe", "com.tr", "com.ua", "com.pl",
    "com.cn", "net.cn", "org.cn", "com.hk", "com.sg", "com.tw", "com.my",
    "com.ph", "com.vn", "com.sa", "com.eg", "com.ng",
    NULL
};

const char *cn_registrable_domain(apr_pool_t *pool, const char *host)
{
    char buf[256];
    const char *h = normal_host(buf, sizeof(buf), host), *last2, *last3;
    const char *const *s;
    if (!h || !cn_dns_name_valid(h) || !(last2 = strrchr(h, '.'))) {
        return NULL;
    }
    /* the start of the last two labels, and of the last three (or NULL) */
    while (last2 > h && last2[-1] != '.') {
        --last2;
    }
    last3 = NULL;
    if (last2 > h) {
        last3 = last2 - 1; /* the dot before them */
        while (last3 > h && last3[-1] != '.') {
            --last3;
        }
    }
    for (s = two_level_suffixes; *s; ++s) {
        if (!strcmp(last2, *s)) {
            return last3 ? apr_pstrdup(pool, last3) : NULL;
        }
    }
    return apr_pstrdup(pool, last2);
}
