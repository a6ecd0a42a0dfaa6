/* The discovery chain: where a mailbox lives, in Thunderbird's order and
 * beyond it. The bundled table first (no network); for other domains the
 * shared cache, then RFC 6186 SRV records, the domain's autoconfig, its MX
 * host (Google Workspace, Microsoft 365, or a hosting provider's table row
 * or autoconfig), and a guess (imap.<domain>, mail.<domain>) kept only when
 * it answers TLS. One budget (ConnectDiscoveryTimeout) bounds all steps;
 * no database handle may be held meanwhile. What the network steps find is
 * cached per domain, with the login name as a template (%EMAILADDRESS%...)
 * so that every address of the domain shares the entry. The domain's DNS
 * decides where the autoconfig fetches and the guess connect: only to the
 * addresses cn_addr_permitted allows (public ones, ConnectAllowAddresses),
 * as our resolver found them; a step with none falls through. */
#include <string.h>
#include <ares.h>
#include <libxml/parser.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <apr_uri.h>

#include "cn_proto.h"
#include "cn_discover.h"

#define ADDRESS_TEMPLATE "%EMAILADDRESS%"
#define CACHE_PREFIX "discover:"
#define CACHE_VERSION 1

typedef struct run_t {
    cn_ctx_t *ctx;
    const cn_discover_conf_t *conf;
    const char *email;
    const char *domain;   /* lowercase */
    apr_time_t deadline;
    int inconclusive;     /* a step could not ask (resolver failure, time out):
                           * "nothing found" is not worth remembering */
} run_t;

apr_status_t cn_discover_global_init(void)
{
    xmlInitParser();
    return ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? APR_SUCCESS : APR_EGENERAL;
}

/* Milliseconds a step may take: at most STEP_MAX, at most what is left. */
static long budget(run_t *r, long step_max)
{
    apr_interval_time_t left = r->deadline - apr_time_now();
    long ms = left > 0 ? (long)apr_time_as_msec(left) : 0;
    if (ms <= 0) {
        r->inconclusive = 1;
        return 0;
    }
    return ms < step_max ? ms : step_max;
}

static cn_mail_settings_t *settings(apr_pool_t *pool, const char *provider, const char *type,
                                    const char *host, int port, const char *security,
                                    const char *hint, const char *source)
{
    cn_mail_settings_t *ms = apr_pcalloc(pool, sizeof(*ms));
    ms->provider = provider;
    ms->type = type;
    ms->imap_host = host;
    ms->imap_port = host ? port : 0;
    ms->security = host ? security : NULL;
    ms->username = ADDRESS_TEMPLATE;
    ms->hint_url = hint;
    ms->source = source;
    return ms;
}

static cn_mail_settings_t *from_table(apr_pool_t *pool, const cn_known_domain_t *k,
                                      const char *source)
{
    return settings(pool, k->provider, k->type, k->imap_host, k->imap_port, CN_SECURITY_SSL,
                    k->hint_url, source);
}

/* A resolver that failed (rather than said "no") makes the outcome
 * inconclusive. */
static void dns_outcome(run_t *r, apr_status_t rv, const char *what, const char *name,
                        const char *why)
{
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        r->inconclusive = 1;
        cn_log(r->ctx, CN_LOG_INFO, CNLOGNO(00605) "discovery: %s lookup of %s failed: %s",
               what, name, why ? why : "unknown");
    }
}

/* The addresses of HOST (ADDRS, numeric) a connection may go to; each
 * other one is logged and left out. */
static apr_array_header_t *permitted(run_t *r, const char *host, const apr_array_header_t *addrs)
{
    apr_pool_t *pool = r->ctx->pool;
    apr_array_header_t *ok = apr_array_make(pool, addrs->nelts, sizeof(const char *));
    int i;
    for (i = 0; i < addrs->nelts; ++i) {
        const char *a = APR_ARRAY_IDX(addrs, i, const char *), *why = NULL;
        if (cn_addr_permitted(pool, r->conf->allow, a, &why) == APR_SUCCESS) {
            APR_ARRAY_PUSH(ok, const char *) = a;
        }
        else {
            cn_log(r->ctx, CN_LOG_INFO, CNLOGNO(01012) "discovery: %s: %s; not connected "
                   "(ConnectAllowAddresses)", host, why ? why : a);
        }
    }
    return ok;
}

/* ---- RFC 6186 SRV records ----------------------------------------------- */

static cn_mail_settings_t *by_srv(run_t *r)
{
    static const struct {
        const char *prefix, *security;
    } services[] = {{"_imaps._tcp.", CN_SECURITY_SSL}, {"_imap._tcp.", CN_SECURITY_STARTTLS}};
    apr_pool_t *pool = r->ctx->pool;
    int i;
    for (i = 0; i < 2; ++i) {
        const char *name = apr_pstrcat(pool, services[i].prefix, r->domain, NULL), *why = NULL;
        apr_array_header_t *recs;
        const cn_dns_srv_t *s;
        apr_status_t rv = cn_dns_srv(pool, r->conf, name, budget(r, CN_DISCOVER_DNS_MS), &recs,
                                     &why);
        dns_outcome(r, rv, "SRV", name, why);
        if (rv != APR_SUCCESS || !(s = cn_dns_srv_pick(recs))) {
            continue;
        }
        if (!*s->target || !strcmp(s->target, ".")) {
            /* RFC 2782: "decidedly not available at this domain" */
            cn_log(r->ctx, CN_LOG_DEBUG, CNLOGNO(00606) "discovery: %s says no service", name);
            continue;
        }
        if (!cn_dns_name_valid(s->target) || s->port < 1 || s->port > 65535) {
            cn_log(r->ctx, CN_LOG_INFO, CNLOGNO(00607) "discovery: %s names no usable host "
                   "and port", name);
            continue;
        }
        return settings(pool, "imap", "imap", cn_lower(pool, s->target), s->port,
                        services[i].security, NULL, "srv");
    }
    return NULL;
}

/* ---- autoconfig ---------------------------------------------------------- */

/* For the autoconfig URL URL, whose host the address chose: ask our
 * resolver where the host is, keep the addresses that may be connected,
 * and pin the request to them (REQ). 0 when there is none. */
static int pin(run_t *r, int n, const char *domain, const char *url, cn_http_request_t *req)
{
    apr_pool_t *pool = r->ctx->pool;
    apr_array_header_t *addrs;
    const char *why = NULL, *pinned;
    apr_uri_t u;
    apr_status_t rv;
    int i;
    memset(&u, 0, sizeof(u));
    if (apr_uri_parse(pool, url, &u) != APR_SUCCESS || !u.hostname
        || !cn_dns_name_valid(u.hostname)) {
        cn_log(r->ctx, CN_LOG_DEBUG, CNLOGNO(01013) "discovery: autoconfig %d of %s: the URL "
               "names no DNS host", n, domain);
        return 0;
    }
    rv = cn_dns_addrs(pool, r->conf, u.hostname, budget(r, CN_DISCOVER_DNS_MS), &addrs, &why);
    dns_outcome(r, rv, "address", u.hostname, why);
    if (rv != APR_SUCCESS) {
        return 0;
    }
    if (!(addrs = permitted(r, u.hostname, addrs))->nelts) {
        return 0;
    }
    pinned = apr_psprintf(pool, "%s:%u:", u.hostname,
                          u.port ? (unsigned)u.port : (unsigned)apr_uri_port_of_scheme("https"));
    for (i = 0; i < addrs->nelts; ++i) {
        const char *a = APR_ARRAY_IDX(addrs, i, const char *);
        int v6 = strchr(a, ':') != NULL;
        pinned = apr_pstrcat(pool, pinned, i ? "," : "", v6 ? "[" : "", a, v6 ? "]" : "", NULL);
    }
    req->user_chosen = 1;
    req->allow = r->conf->allow;
    req->pinned = pinned;
    return 1;
}

/* The autoconfig documents of DOMAIN (EMAIL's, or its MX host's), in the
 * order of the templates; the first that names an IMAP server wins. A
 * template whose host the operator wrote is asked as it is; one whose host
 * is the address's domain (the defaults) only at the addresses our
 * resolver found and the address rule permits. */
static cn_mail_settings_t *by_autoconfig(run_t *r, const char *domain, const char *source)
{
    cn_ctx_t *ctx = r->ctx;
    const apr_array_header_t *urls = r->conf->autoconfig_urls;
    int i;
    if (!urls || !ctx->http || !ctx->http->perform) {
        return NULL;
    }
    for (i = 0; i < urls->nelts; ++i) {
        const char *tmpl = APR_ARRAY_IDX(urls, i, const char *);
        const char *url = cn_autoconfig_url(ctx->pool, tmpl, domain, r->email);
        cn_http_request_t req = {0};
        cn_http_response_t resp;
        cn_mail_settings_t *ms = NULL;
        const char *why = NULL;
        apr_status_t rv;
        long ms_left = budget(r, CN_DISCOVER_HTTP_MS);
        if (!ms_left) {
            return NULL;
        }
        if (strncasecmp(url, "https://", 8)) {
            continue; /* checked at start-up; never plain HTTP */
        }
        if (!cn_autoconfig_template_host_fixed(ctx->pool, tmpl)) {
            if (!pin(r, i + 1, domain, url, &req)) {
                continue;
            }
            if (!(ms_left = budget(r, CN_DISCOVER_HTTP_MS))) {
                return NULL; /* the lookup took what was left */
            }
        }
        req.method = "GET";
        req.url = url;
        req.accept = "application/xml, text/xml;q=0.9, */*;q=0.1";
        req.max_response = CN_AUTOCONFIG_MAX;
        req.timeout_ms = ms_left;
        memset(&resp, 0, sizeof(resp));
        rv = ctx->http->perform(ctx->http, ctx->pool, &req, &resp);
        if (rv == APR_ENOSPC) {
            cn_log(ctx, CN_LOG_INFO, CNLOGNO(00603) "discovery: autoconfig %d of %s refused: "
                   "the document is larger than %d bytes", i + 1, domain, CN_AUTOCONFIG_MAX);
            continue;
        }
        if (rv == APR_EACCES) {
            cn_log(ctx, CN_LOG_INFO, CNLOGNO(01014) "discovery: autoconfig %d of %s: %s "
                   "(ConnectAllowAddresses)", i + 1, domain, resp.error ? resp.error : "refused");
            continue;
        }
        if (rv != APR_SUCCESS) {
            cn_log(ctx, CN_LOG_DEBUG, CNLOGNO(00604) "discovery: autoconfig %d of %s: %s", i + 1,
                   domain, resp.error ? resp.error : "no answer");
            continue;
        }
        if (resp.status != 200) {
            cn_log(ctx, CN_LOG_DEBUG, CNLOGNO(00608) "discovery: autoconfig %d of %s: HTTP %d",
                   i + 1, domain, resp.status);
            continue;
        }
        rv = cn_autoconfig_parse_domain(ctx->pool, resp.body, resp.body_len, domain, &ms, &why);
        if (rv == APR_SUCCESS) {
            ms->source = source;
            return ms;
        }
        cn_log(ctx, rv == APR_NOTFOUND ? CN_LOG_DEBUG : CN_LOG_INFO,
               CNLOGNO(00609) "discovery: autoconfig %d of %s %s: %s", i + 1, domain,
               rv == APR_NOTFOUND ? "has no IMAP server" : "refused", why ? why : "");
    }
    return NULL;
}

/* ---- the MX host ----------------------------------------------------------- */

static cn_mail_settings_t *by_mx(run_t *r)
{
    apr_pool_t *pool = r->ctx->pool;
    apr_array_header_t *mx;
    const char *why = NULL, *host, *provider, *hoster;
    const cn_known_domain_t *k;
    apr_status_t rv = cn_dns_mx(pool, r->conf, r->domain, budget(r, CN_DISCOVER_DNS_MS), &mx,
                                &why);
    dns_outcome(r, rv, "MX", r->domain, why);
    if (rv != APR_SUCCESS) {
        return NULL;
    }
    host = APR_ARRAY_IDX(mx, 0, cn_dns_mx_t).host; /* the preferred exchanger */
    if (!*host || !strcmp(host, ".")) {
        return NULL; /* RFC 7505's null MX: the domain takes no mail */
    }
    if ((provider = cn_discover_mx_provider(host)) != NULL) {
        return settings(pool, provider, provider, NULL, 0, NULL, NULL, "mx");
    }
    /* a hosted domain: the hosting provider's row, or its autoconfig */
    hoster = cn_registrable_domain(pool, host);
    if (!hoster || !strcmp(hoster, r->domain)) {
        return NULL;
    }
    cn_log(r->ctx, CN_LOG_DEBUG, CNLOGNO(00610) "discovery: %s receives mail at %s (%s)",
           r->domain, host, hoster);
    if ((k = cn_providers_lookup_domain(pool, hoster)) != NULL) {
        return from_table(pool, k, "mx");
    }
    return by_autoconfig(r, hoster, "mx");
}

/* ---- the guess --------------------------------------------------------------- */

static cn_mail_settings_t *by_guess(run_t *r)
{
    static const char *const prefixes[] = {"imap.", "mail."};
    apr_pool_t *pool = r->ctx->pool;
    int i;
    for (i = 0; i < 2; ++i) {
        const char *host = apr_pstrcat(pool, prefixes[i], r->domain, NULL), *why = NULL;
        apr_array_header_t *addrs;
        apr_status_t rv;
        if (!cn_dns_name_valid(host)) {
            continue;
        }
        rv = cn_dns_addrs(pool, r->conf, host, budget(r, CN_DISCOVER_DNS_MS), &addrs, &why);
        dns_outcome(r, rv, "address", host, why);
        if (rv != APR_SUCCESS || !(addrs = permitted(r, host, addrs))->nelts) {
            continue;
        }
        rv = cn_discover_tls_probe(pool, r->conf, host, r->conf->guess_port, addrs,
                                   budget(r, CN_DISCOVER_PROBE_MS), &why);
        if (rv == APR_SUCCESS) {
            return settings(pool, "imap", "imap", host, r->conf->guess_port, CN_SECURITY_SSL,
                            NULL, "guess");
        }
        cn_log(r->ctx, CN_LOG_DEBUG, CNLOGNO(00611) "discovery: guess %s:%d: %s", host,
               r->conf->guess_port, why ? why : "no TLS");
    }
    return NULL;
}

/* ---- the shared cache ---------------------------------------------------------- */

static const char *cache_key(apr_pool_t *pool, const char *domain)
{
    return apr_pstrcat(pool, CACHE_PREFIX, domain, NULL);
}

static const char *cache_text(apr_pool_t *pool, const cn_mail_settings_t *ms)
{
    json_t *j = ms ? json_pack("{s:i,s:s,s:s,s:s*,s:i,s:s*,s:s,s:s*,s:s}", "v", CACHE_VERSION,
                               "provider", ms->provider, "type", ms->type, "host", ms->imap_host,
                               "port", ms->imap_port, "security", ms->security, "username",
                               ms->username, "hint", ms->hint_url, "source", ms->source)
                   : json_pack("{s:i,s:b}", "v", CACHE_VERSION, "none", 1);
    return cn_json_dump(pool, cn_json_own(pool, j));
}

/* A cached entry, checked as if it came from the network (the cache may be
 * shared with other servers): *FOUND 0 for a remembered "nothing". Returns
 * 0 when there is no usable entry. */
static int cache_read(apr_pool_t *pool, const char *text, apr_size_t len, int *found,
                      cn_mail_settings_t **out)
{
    json_t *j = cn_json_parse(pool, text, len, NULL);
    const char *provider = NULL, *type = NULL, *host = NULL, *security = NULL, *user = NULL,
               *hint = NULL, *source = NULL;
    long long v = 0, port = 0;
    int none = 0;
    if (!json_is_object(j) || cn_json_get_int(j, "v", &v) != APR_SUCCESS || v != CACHE_VERSION
        || cn_json_get_bool(j, "none", &none) != APR_SUCCESS) {
        return 0;
    }
    if (none) {
        *found = 0;
        return 1;
    }
    if (cn_json_get_string(j, "provider", &provider) != APR_SUCCESS
        || cn_json_get_string(j, "type", &type) != APR_SUCCESS
        || cn_json_get_string(j, "host", &host) != APR_SUCCESS
        || cn_json_get_int(j, "port", &port) != APR_SUCCESS
        || cn_json_get_string(j, "security", &security) != APR_SUCCESS
        || cn_json_get_string(j, "username", &user) != APR_SUCCESS
        || cn_json_get_string(j, "hint", &hint) != APR_SUCCESS
        || cn_json_get_string(j, "source", &source) != APR_SUCCESS || !provider || !type
        || !cn_provider(provider) || !user || !source) {
        return 0;
    }
    if (host && (!cn_dns_name_valid(host) || port < 1 || port > 65535 || !security
                 || (strcmp(security, CN_SECURITY_SSL) && strcmp(security, CN_SECURITY_STARTTLS)))) {
        return 0;
    }
    *out = settings(pool, provider, type, host, (int)port, security, hint, source);
    (*out)->username = user;
    *found = 1;
    return 1;
}

/* ---- the chain ------------------------------------------------------------------ */

/* The login name for EMAIL from the template the chain keeps. */
static void for_address(apr_pool_t *pool, cn_mail_settings_t *ms, const char *email)
{
    const char *user = cn_autoconfig_substitute(pool, ms->username, email);
    ms->username = user && *user && strlen(user) <= 254 ? user : email;
}

static cn_mail_settings_t *network_chain(run_t *r)
{
    cn_mail_settings_t *ms;
    if ((ms = by_srv(r)) || (ms = by_autoconfig(r, r->domain, "autoconfig"))
        || (ms = by_mx(r)) || (ms = by_guess(r))) {
        return ms;
    }
    return NULL;
}

apr_status_t cn_discover(cn_ctx_t *ctx, const char *email, cn_mail_settings_t **out)
{
    const cn_known_domain_t *k;
    const cn_cache_seam_t *cache = ctx->cache;
    cn_mail_settings_t *ms = NULL;
    run_t r;
    const char *key, *text = NULL;
    apr_size_t len = 0;
    int found = 0;

    *out = NULL;
    if (!cn_email_valid(email)) {
        return cn_fail_rv(ctx->pool, &ctx->res, APR_EINVAL, CN_EV_BAD_REQUEST,
                          "not an email address of the form local@domain");
    }
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.conf = ctx->discover;
    r.email = email;
    r.domain = cn_lower(ctx->pool, strchr(email, '@') + 1);

    if ((k = cn_providers_lookup_domain(ctx->pool, r.domain)) != NULL) {
        ms = from_table(ctx->pool, k, "table");
        for_address(ctx->pool, ms, email);
        *out = ms;
        return APR_SUCCESS;
    }
    /* The network only for a DNS name of at least two labels (no single
     * label, no address literal, nothing a resolver would search for). */
    if (!r.conf || !cn_dns_name_valid(r.domain) || !strchr(r.domain, '.')) {
        return APR_NOTFOUND;
    }
    if (ctx->db) {
        /* the rule of every outgoing call: no handle while waiting on the network */
        cn_log(ctx, CN_LOG_CRIT, CNLOGNO(00601) "a database handle is held across "
               "auto-discovery of %s", r.domain);
        return cn_fail_rv(ctx->pool, &ctx->res, APR_EBUSY, CN_EV_INTERNAL_ERROR, NULL);
    }

    key = cache_key(ctx->pool, r.domain);
    if (cache && cache->get
        && cache->get(cache->baton, ctx->pool, key, &text, &len) == APR_SUCCESS
        && cache_read(ctx->pool, text, len, &found, &ms)) {
        cn_log(ctx, CN_LOG_DEBUG, CNLOGNO(00612) "discovery: %s from the cache: %s", r.domain,
               found ? ms->source : "nothing");
        if (!found) {
            return APR_NOTFOUND;
        }
        for_address(ctx->pool, ms, email);
        *out = ms;
        return APR_SUCCESS;
    }

    r.deadline = apr_time_now()
                 + apr_time_from_msec(r.conf->timeout_ms > 0 ? r.conf->timeout_ms
                                                             : CN_DISCOVER_TIMEOUT_MS);
    ms = network_chain(&r);
    if ((ms || !r.inconclusive) && cache && cache->put) {
        text = cache_text(ctx->pool, ms);
        if (!text || cache->put(cache->baton, ctx->pool, key, text, strlen(text),
                                ms ? CN_DISCOVER_TTL_FOUND : CN_DISCOVER_TTL_NOTHING)
                         != APR_SUCCESS) {
            cn_log(ctx, CN_LOG_DEBUG, CNLOGNO(00613) "discovery: %s not cached", r.domain);
        }
    }
    if (!ms) {
        cn_log(ctx, CN_LOG_DEBUG, CNLOGNO(00614) "discovery: nothing found for %s%s", r.domain,
               r.inconclusive ? " (inconclusive: not cached)" : "");
        return APR_NOTFOUND;
    }
    cn_log(ctx, CN_LOG_DEBUG, CNLOGNO(00602) "discovery: %s by %s: %s (%s)%s", r.domain,
           ms->source, ms->provider, ms->type,
           ms->imap_host ? apr_psprintf(ctx->pool, " at %s:%d, %s", ms->imap_host,
                                        ms->imap_port, ms->security)
                         : "");
    for_address(ctx->pool, ms, email);
    *out = ms;
    return APR_SUCCESS;
}
