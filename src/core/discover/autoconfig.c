/* Thunderbird's autoconfig (clientConfig v1.1): the URL templates of
 * ConnectAutoconfigURL, and the document, parsed with libxml2. The document
 * comes from whoever answers for the domain, so it is treated as hostile:
 * a size cap before anything, no DOCTYPE at all (no entities to expand, no
 * DTD to load), only encodings libxml2 reads itself, no network, and only
 * values that pass the same checks as DNS answers (a host name, a port). */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "cn_util.h"
#include "cn_discover.h"

#define USERNAME_MAX 254
#define ADDRESS "%EMAILADDRESS%"
#define LOCALPART "%EMAILLOCALPART%"
#define EMAILDOMAIN "%EMAILDOMAIN%"

/* ---- templates ---------------------------------------------------------- */

/* TMPL with each %{domain} and %{email} replaced (DOMAIN and EMAIL as given). */
static const char *expand(apr_pool_t *pool, const char *tmpl, const char *domain,
                          const char *email)
{
    const char *out = "", *p = tmpl, *ph;
    while ((ph = strstr(p, "%{")) != NULL) {
        const char *value = NULL;
        apr_size_t skip = 0;
        if (!strncmp(ph, "%{domain}", 9)) {
            value = domain;
            skip = 9;
        }
        else if (!strncmp(ph, "%{email}", 8)) {
            value = email;
            skip = 8;
        }
        if (!value) {
            out = apr_pstrcat(pool, out, apr_pstrndup(pool, p, (apr_size_t)(ph - p) + 2), NULL);
            p = ph + 2;
            continue;
        }
        out = apr_pstrcat(pool, out, apr_pstrndup(pool, p, (apr_size_t)(ph - p)), value, NULL);
        p = ph + skip;
    }
    return apr_pstrcat(pool, out, p, NULL);
}

const char *cn_autoconfig_url(apr_pool_t *pool, const char *tmpl, const char *domain,
                              const char *email)
{
    return expand(pool, tmpl, cn_url_encode(pool, cn_lower(pool, domain)),
                  cn_url_encode(pool, email));
}

static apr_status_t refuse(const char **why, const char *reason)
{
    if (why) {
        *why = reason;
    }
    return APR_EINVAL;
}

apr_status_t cn_autoconfig_template_check(apr_pool_t *pool, const char *tmpl, const char **why)
{
    const unsigned char *c;
    const char *ph, *url;
    apr_uri_t u;
    if (!tmpl || !*tmpl) {
        return refuse(why, "it is empty");
    }
    if (strlen(tmpl) > 2048) {
        return refuse(why, "it is longer than 2048 bytes");
    }
    for (c = (const unsigned char *)tmpl; *c; ++c) {
        if (*c <= 0x20 || *c >= 0x7f) {
            return refuse(why, "it has white space, control or non-ASCII characters");
        }
    }
    for (ph = strstr(tmpl, "%{"); ph; ph = strstr(ph + 2, "%{")) {
        if (strncmp(ph, "%{domain}", 9) && strncmp(ph, "%{email}", 8)) {
            return refuse(why, "it has a placeholder other than %{domain} and %{email}");
        }
    }
    /* what it becomes for an address: an https URL with a host */
    url = cn_autoconfig_url(pool, tmpl, "example.com", "user@example.com");
    memset(&u, 0, sizeof(u));
    if (apr_uri_parse(pool, url, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || !*u.hostname) {
        return refuse(why, "it is not an absolute URL with a host");
    }
    if (strcasecmp(u.scheme, "https")) {
        return refuse(why, "it is not an https URL (a document over plain HTTP could send "
                           "the mailbox's password anywhere)");
    }
    if (u.fragment) {
        return refuse(why, "it has a fragment");
    }
    return APR_SUCCESS;
}

/* The authority of URL as apr_uri_parse reads it, or NULL. */
static const char *authority(apr_pool_t *pool, const char *url)
{
    apr_uri_t u;
    memset(&u, 0, sizeof(u));
    if (apr_uri_parse(pool, url, &u) != APR_SUCCESS || !u.hostname) {
        return NULL;
    }
    return apr_pstrcat(pool, u.user ? u.user : "", "@", u.password ? u.password : "", "@",
                       u.hostname, ":", u.port_str ? u.port_str : "", NULL);
}

int cn_autoconfig_template_host_fixed(apr_pool_t *pool, const char *tmpl)
{
    /* two addresses that share nothing: the same authority for both, or the
     * address has a say in where the request goes */
    const char *a = authority(pool, cn_autoconfig_url(pool, tmpl, "a.example", "a@a.example"));
    const char *b = authority(pool, cn_autoconfig_url(pool, tmpl, "b.test", "b@b.test"));
    return a && b && !strcmp(a, b);
}

const char *cn_autoconfig_substitute(apr_pool_t *pool, const char *tmpl, const char *email)
{
    const char *at = email ? strchr(email, '@') : NULL;
    const char *local = at ? apr_pstrndup(pool, email, (apr_size_t)(at - email)) : "";
    const char *domain = at ? at + 1 : "";
    const char *out = "", *p = tmpl, *ph;
    if (!tmpl) {
        return NULL;
    }
    while ((ph = strchr(p, '%')) != NULL) {
        const char *value = NULL;
        apr_size_t skip = 0;
        if (!strncmp(ph, ADDRESS, sizeof(ADDRESS) - 1)) {
            value = email;
            skip = sizeof(ADDRESS) - 1;
        }
        else if (!strncmp(ph, LOCALPART, sizeof(LOCALPART) - 1)) {
            value = local;
            skip = sizeof(LOCALPART) - 1;
        }
        else if (!strncmp(ph, EMAILDOMAIN, sizeof(EMAILDOMAIN) - 1)) {
            value = domain;
            skip = sizeof(EMAILDOMAIN) - 1;
        }
        if (!value) {
            out = apr_pstrcat(pool, out, apr_pstrndup(pool, p, (apr_size_t)(ph - p) + 1), NULL);
            p = ph + 1;
            continue;
        }
        out = apr_pstrcat(pool, out, apr_pstrndup(pool, p, (apr_size_t)(ph - p)), value, NULL);
        p = ph + skip;
    }
    return apr_pstrcat(pool, out, p, NULL);
}

/* ---- the document -------------------------------------------------------- */

static apr_status_t free_doc(void *doc)
{
    xmlFreeDoc(doc);
    return APR_SUCCESS;
}

/* Encodings libxml2 decodes itself (no iconv behind them). */
static const char *const encodings[] = {"UTF-8", "UTF8", "US-ASCII", "ASCII", "ISO-8859-1",
                                        "ISO-LATIN-1", NULL};

static int xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* What must hold before libxml2 sees BUF[LEN]. */
static apr_status_t precheck(const char *buf, apr_size_t len, const char **why)
{
    const char *p = buf, *end = buf + len;
    if (len > CN_AUTOCONFIG_MAX) {
        if (why) {
            *why = "the document is larger than 64 KiB";
        }
        return APR_ENOSPC;
    }
    if (!len) {
        return refuse(why, "the document is empty");
    }
    if (len >= 2 && (((unsigned char)buf[0] == 0xfe && (unsigned char)buf[1] == 0xff)
                     || ((unsigned char)buf[0] == 0xff && (unsigned char)buf[1] == 0xfe))) {
        return refuse(why, "the document is UTF-16 (a byte-order mark)");
    }
    if (memchr(buf, '\0', len)) {
        return refuse(why, "the document has NUL bytes (UTF-16 or UTF-32, or not text)");
    }
    if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
        p += 3; /* UTF-8's byte-order mark */
    }
    while (p < end && xml_space(*p)) {
        ++p;
    }
    /* An ASCII '<' first: EBCDIC and other encodings libxml2 would guess from
     * the first bytes are refused here. */
    if (p == end || *p != '<') {
        return refuse(why, "the document does not start with markup");
    }
    /* No DOCTYPE: no internal subset whose entities could expand (a billion
     * laughs), no external DTD or entity to fetch or read. A clientConfig has
     * none. */
    {
        static const char doctype[] = "<!DOCTYPE";
        static const char entity[] = "<!ENTITY";
        const char *q;
        for (q = buf; (q = memchr(q, '<', (apr_size_t)(end - q))) != NULL; ++q) {
            if (((apr_size_t)(end - q) >= sizeof(doctype) - 1
                 && !strncasecmp(q, doctype, sizeof(doctype) - 1))
                || ((apr_size_t)(end - q) >= sizeof(entity) - 1
                    && !strncasecmp(q, entity, sizeof(entity) - 1))) {
                return refuse(why, "the document has a DOCTYPE (DTDs and entities are refused)");
            }
        }
    }
    /* The encoding the XML declaration names, if any. */
    if ((apr_size_t)(end - p) >= 5 && !strncmp(p, "<?xml", 5) && xml_space(p[5])) {
        const char *decl_end = NULL, *q, *enc;
        apr_size_t n;
        for (q = p; q + 1 < end && q - p < 256; ++q) {
            if (q[0] == '?' && q[1] == '>') {
                decl_end = q;
                break;
            }
        }
        if (!decl_end) {
            return refuse(why, "the XML declaration does not end");
        }
        for (enc = p; enc + 8 <= decl_end; ++enc) {
            if (!strncmp(enc, "encoding", 8)) {
                break;
            }
        }
        if (enc + 8 <= decl_end) {
            const char *const *e;
            char quote;
            enc += 8;
            while (enc < decl_end && (xml_space(*enc) || *enc == '=')) {
                ++enc;
            }
            if (enc >= decl_end || (*enc != '"' && *enc != '\'')) {
                return refuse(why, "the XML declaration's encoding is not quoted");
            }
            quote = *enc++;
            q = memchr(enc, quote, (apr_size_t)(decl_end - enc));
            if (!q) {
                return refuse(why, "the XML declaration's encoding is not quoted");
            }
            n = (apr_size_t)(q - enc);
            for (e = encodings; *e; ++e) {
                if (strlen(*e) == n && !strncasecmp(enc, *e, n)) {
                    break;
                }
            }
            if (!*e) {
                return refuse(why, "the document's encoding is not UTF-8, US-ASCII or "
                                   "ISO-8859-1");
            }
        }
    }
    return APR_SUCCESS;
}

/* The trimmed text of the first child element NAME of NODE, or NULL. */
static const char *child_text(apr_pool_t *pool, xmlNodePtr node, const char *name)
{
    xmlNodePtr c;
    for (c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name)) {
            xmlChar *t = xmlNodeGetContent(c);
            const char *s, *e;
            char *copy;
            if (!t) {
                return "";
            }
            s = (const char *)t;
            while (*s && xml_space(*s)) {
                ++s;
            }
            e = s + strlen(s);
            while (e > s && xml_space(e[-1])) {
                --e;
            }
            copy = apr_pstrndup(pool, s, (apr_size_t)(e - s));
            xmlFree(t);
            return copy;
        }
    }
    return NULL;
}

static const char *attr(apr_pool_t *pool, xmlNodePtr node, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(node, (const xmlChar *)name);
    char *copy;
    if (!v) {
        return NULL;
    }
    copy = apr_pstrdup(pool, (const char *)v);
    xmlFree(v);
    return copy;
}

static int port_valid(const char *s, int *port)
{
    int n = 0;
    const char *c;
    if (!s || !*s || strlen(s) > 5) {
        return 0;
    }
    for (c = s; *c; ++c) {
        if (!apr_isdigit(*c)) {
            return 0;
        }
        n = n * 10 + (*c - '0');
    }
    if (n < 1 || n > 65535) {
        return 0;
    }
    *port = n;
    return 1;
}

/* A login name as the document gives it (placeholders kept): printable,
 * at most USERNAME_MAX bytes; none is the address. */
static const char *username_valid(const char *s)
{
    const unsigned char *c;
    if (!s || !*s) {
        return ADDRESS;
    }
    if (strlen(s) > USERNAME_MAX) {
        return NULL;
    }
    for (c = (const unsigned char *)s; *c; ++c) {
        if (*c < 0x20 || *c == 0x7f) {
            return NULL;
        }
    }
    return s;
}

/* The settings of incomingServer NODE for DOMAIN, or NULL when it is not
 * usable (*WHY then says why). */
static cn_mail_settings_t *server_settings(apr_pool_t *pool, xmlNodePtr node,
                                           const char *domain, const char *security,
                                           const char **why)
{
    const char *host = child_text(pool, node, "hostname");
    const char *port_s = child_text(pool, node, "port");
    const char *user = username_valid(child_text(pool, node, "username"));
    cn_mail_settings_t *ms;
    int port = 0;
    if (host && (strstr(host, ADDRESS) || strstr(host, LOCALPART))) {
        host = NULL; /* a host that varies per address is no host */
    }
    if (host) {
        /* Thunderbird allows the domain in the host name ("mail.%EMAILDOMAIN%") */
        host = cn_lower(pool, cn_autoconfig_substitute(pool, host, apr_pstrcat(pool, "x@",
                                                                                domain, NULL)));
    }
    if (!host || !cn_dns_name_valid(host)) {
        *why = "an IMAP server's hostname is not a DNS name";
        return NULL;
    }
    if (!port_valid(port_s, &port)) {
        *why = "an IMAP server's port is not a number from 1 to 65535";
        return NULL;
    }
    if (!user) {
        *why = "an IMAP server's username is too long or has control characters";
        return NULL;
    }
    ms = apr_pcalloc(pool, sizeof(*ms));
    ms->provider = "imap";
    ms->type = "imap";
    ms->imap_host = host;
    ms->imap_port = port;
    ms->security = security;
    ms->username = user;
    ms->source = "autoconfig";
    return ms;
}

apr_status_t cn_autoconfig_parse_domain(apr_pool_t *pool, const char *buf, apr_size_t len,
                                        const char *domain, cn_mail_settings_t **out,
                                        const char **why)
{
    /* No NOENT (entities stay references), no DTDLOAD/DTDATTR/DTDVALID, no
     * XINCLUDE, no HUGE (libxml2's own limits stay on); no network; no
     * messages on stderr. */
    const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
                        | XML_PARSE_NOCDATA;
    const char *dummy, *bad = NULL;
    static const char *const wanted[] = {"SSL", "STARTTLS"};
    static const char *const security[] = {CN_SECURITY_SSL, CN_SECURITY_STARTTLS};
    xmlDocPtr doc;
    xmlNodePtr root, prov, srv;
    apr_status_t rv;
    int i;

    *out = NULL;
    if (!why) {
        why = &dummy;
    }
    *why = NULL;
    if (!buf || !domain) {
        return refuse(why, "no document");
    }
    if ((rv = precheck(buf, len, why)) != APR_SUCCESS) {
        return rv;
    }
    xmlInitParser();
    doc = xmlReadMemory(buf, (int)len, NULL, NULL, options);
    if (!doc) {
        return refuse(why, "the document is not well-formed XML");
    }
    apr_pool_cleanup_register(pool, doc, free_doc, apr_pool_cleanup_null);
    if (doc->intSubset || doc->extSubset) {
        return refuse(why, "the document has a DOCTYPE (DTDs and entities are refused)");
    }
    root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "clientConfig")) {
        return refuse(why, "the root element is not clientConfig");
    }
    /* SSL first, then STARTTLS: the first usable server of each kind */
    for (i = 0; i < 2; ++i) {
        for (prov = root->children; prov; prov = prov->next) {
            if (prov->type != XML_ELEMENT_NODE || strcmp((const char *)prov->name, "emailProvider")) {
                continue;
            }
            for (srv = prov->children; srv; srv = srv->next) {
                const char *type, *socket;
                if (srv->type != XML_ELEMENT_NODE
                    || strcmp((const char *)srv->name, "incomingServer")) {
                    continue;
                }
                type = attr(pool, srv, "type");
                socket = child_text(pool, srv, "socketType");
                if (!type || strcmp(type, "imap") || !socket || strcasecmp(socket, wanted[i])) {
                    continue;
                }
                *out = server_settings(pool, srv, domain, security[i], &bad);
                if (*out) {
                    return APR_SUCCESS;
                }
            }
        }
    }
    *why = bad ? bad : "no IMAP server over SSL or STARTTLS in the document";
    return APR_NOTFOUND;
}

apr_status_t cn_autoconfig_parse(apr_pool_t *pool, const char *buf, apr_size_t len,
                                 const char *email, cn_mail_settings_t **out)
{
    const char *at = email ? strchr(email, '@') : NULL;
    const char *user;
    apr_status_t rv;
    *out = NULL;
    if (!at || !at[1]) {
        return APR_EINVAL;
    }
    rv = cn_autoconfig_parse_domain(pool, buf, len, cn_lower(pool, at + 1), out, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    user = cn_autoconfig_substitute(pool, (*out)->username, email);
    (*out)->username = user && *user && strlen(user) <= USERNAME_MAX ? user : email;
    return APR_SUCCESS;
}
