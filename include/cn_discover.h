/* Where a mailbox lives: the bundled provider table, RFC 6186 SRV records,
 * the domain's autoconfig (Thunderbird's clientConfig, parsed with libxml2),
 * the MX host (Google Workspace, Microsoft 365, or a hosting provider), and a
 * guess (imap.<domain>, mail.<domain>); provider detection for the API. */
#ifndef CN_DISCOVER_H
#define CN_DISCOVER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>
#include "cn_model.h"

/* ---- the bundled provider table ---- */
/* Well-known mail domains and where their mailboxes live. */

typedef struct cn_known_domain_t {
    const char *domain;   /* exact, lowercase; "gmx.*" matches any gmx.TLD */
    const char *provider; /* google, microsoft, imap */
    const char *type;     /* google, microsoft, yahoo, icloud, ... */
    const char *imap_host;
    int imap_port;        /* IMAP over TLS (993) for every IMAP row */
    const char *hint_url; /* the provider's guide to app passwords (or to turning IMAP
                           * on), for providers that refuse the account password; or NULL */
} cn_known_domain_t;

/* The entry for the domain of EMAIL, or NULL. EMAIL must be local@domain. */
const cn_known_domain_t *cn_providers_lookup(apr_pool_t *pool, const char *email);
/* The same for DOMAIN (any case). */
const cn_known_domain_t *cn_providers_lookup_domain(apr_pool_t *pool, const char *domain);
/* The first IMAP row of the table for the kind of mailbox TYPE (yahoo,
 * icloud, ...: what an application names in settings.type), or NULL. */
const cn_known_domain_t *cn_providers_of_type(const char *type);

/* 1 when EMAIL is a plausible address: one '@', non-empty parts, at most 254
 * bytes, no white space or control characters. */
int cn_email_valid(const char *email);

/* ---- what discovery finds ---- */

typedef struct cn_mail_settings_t {
    const char *provider;  /* google, microsoft, imap */
    const char *type;      /* google, microsoft, yahoo, icloud, ..., or "imap" for a
                            * server no table row names */
    const char *imap_host; /* NULL for google and microsoft (OAuth) */
    int imap_port;
    const char *security;  /* "ssl" (TLS from the start) or "starttls"; NULL with no host */
    const char *username;  /* the login name the server wants: autoconfig's, with its
                            * placeholders substituted, else the address */
    const char *hint_url;  /* the provider's app-password guide, or NULL */
    const char *source;    /* table, srv, autoconfig, mx, guess */
} cn_mail_settings_t;

#define CN_SECURITY_SSL "ssl"
#define CN_SECURITY_STARTTLS "starttls"

/* How discovery reaches the network; the glue fills one per server from its
 * directives (ConnectDNSServer, ConnectAutoconfigURL, ConnectDiscoveryGuessPort,
 * ConnectDiscoveryTimeout, ConnectCAFile, ConnectAllowAddresses). The typedef
 * is in cn_core.h. */
struct cn_discover_conf_t {
    const char *dns_server;   /* "ADDRESS:PORT" (IPv6 as [ADDRESS]:PORT); NULL: the
                               * system's resolvers (/etc/resolv.conf) */
    const apr_array_header_t *autoconfig_urls; /* const char *: templates with %{domain}
                                                * and %{email}, tried in order */
    int guess_port;           /* where imap.<domain> and mail.<domain> are tried (993) */
    long timeout_ms;          /* the budget of one discovery, all steps together */
    const char *ca_file;      /* trust for the guess's TLS; NULL: the system's */
    const cn_addr_allow_t *allow; /* ConnectAllowAddresses: the non-public addresses
                                   * discovery may connect to; NULL: none */
};

/* Defaults and limits. */
#define CN_AUTOCONFIG_URL_DEFAULT_1 \
    "https://autoconfig.%{domain}/mail/config-v1.1.xml?emailaddress=%{email}"
#define CN_AUTOCONFIG_URL_DEFAULT_2 "https://%{domain}/.well-known/autoconfig/mail/config-v1.1.xml"
#define CN_AUTOCONFIG_MAX (64 * 1024) /* bytes of an autoconfig document */
#define CN_DISCOVER_GUESS_PORT 993
#define CN_DISCOVER_TIMEOUT_MS 10000L
/* One step's share of the budget at most: a DNS query, an autoconfig fetch,
 * a TLS handshake. */
#define CN_DISCOVER_DNS_MS 3000L
#define CN_DISCOVER_HTTP_MS 5000L
#define CN_DISCOVER_PROBE_MS 3000L
/* How long the shared cache (ctx->cache) keeps what a domain's discovery
 * found, and that it found nothing. */
#define CN_DISCOVER_TTL_FOUND 3600
#define CN_DISCOVER_TTL_NOTHING 300

/* Process-wide set-up of c-ares and libxml2; call once before threads start. */
apr_status_t cn_discover_global_init(void);

/* Where EMAIL's mailbox lives: the table, then (for a domain the table does
 * not have) the shared cache, SRV records, autoconfig, the MX host, a guess.
 * APR_NOTFOUND (ctx->res not set to an error) when nothing was found;
 * APR_EINVAL with ctx->res (bad_request) when EMAIL is no address. The
 * network steps refuse to run while the caller holds a database handle
 * (internal_error). Without ctx->discover only the table is asked. */
apr_status_t cn_discover(cn_ctx_t *ctx, const char *email, cn_mail_settings_t **out);

/* ---- autoconfig (Thunderbird's clientConfig v1.1) ---- */

/* The IMAP server of an autoconfig document BUF[LEN] for EMAIL: the first
 * incomingServer of type imap with socketType SSL, else the first with
 * STARTTLS; its hostname (a DNS name; %EMAILDOMAIN% substituted), port
 * (1-65535) and username (%EMAILADDRESS%, %EMAILLOCALPART%, %EMAILDOMAIN%
 * substituted; the address when there is none). source is "autoconfig",
 * provider and type "imap".
 * Refused, before or without expanding anything: documents over
 * CN_AUTOCONFIG_MAX (APR_ENOSPC); a DOCTYPE (entities, external or internal
 * DTDs), NUL bytes, a byte-order mark or an encoding other than UTF-8,
 * US-ASCII or ISO-8859-1, what is not well-formed XML, a root that is not
 * clientConfig (APR_EINVAL). APR_NOTFOUND when the document is fine but
 * names no usable IMAP server (POP3 only, plain text only, bad host or port). */
apr_status_t cn_autoconfig_parse(apr_pool_t *pool, const char *buf, apr_size_t len,
                                 const char *email, cn_mail_settings_t **out);

/* The same for every address of DOMAIN: username keeps its placeholders
 * (substitute them with cn_autoconfig_substitute). *WHY (may be NULL) says
 * why a document was refused or had no server, for the log. */
apr_status_t cn_autoconfig_parse_domain(apr_pool_t *pool, const char *buf, apr_size_t len,
                                        const char *domain, cn_mail_settings_t **out,
                                        const char **why);

/* 1 when the host (and port, and user) of template TMPL is the same for
 * every address: the operator chose where its requests go. 0 when an
 * address's domain or the address itself has a say (%{domain} in the host,
 * as in the defaults): a user chose the host, and the request is held to
 * the address rule (cn_addr_permitted) on the resolver's answers. */
int cn_autoconfig_template_host_fixed(apr_pool_t *pool, const char *tmpl);

/* TEMPLATE with %EMAILADDRESS%, %EMAILLOCALPART% and %EMAILDOMAIN%
 * replaced by the parts of EMAIL (local@domain); other text as it is. */
const char *cn_autoconfig_substitute(apr_pool_t *pool, const char *tmpl, const char *email);

/* The URL of autoconfig template TMPL: %{domain} and %{email} replaced by
 * DOMAIN (lowercase) and EMAIL, percent-encoded. DOMAIN is EMAIL's, or for
 * a hosted domain its MX host's. */
const char *cn_autoconfig_url(apr_pool_t *pool, const char *tmpl, const char *domain,
                              const char *email);

/* APR_SUCCESS when TMPL may be configured: an https URL with a host once
 * expanded, no placeholder but %{domain} and %{email}, printable ASCII
 * without white space. APR_EINVAL with *WHY otherwise. */
apr_status_t cn_autoconfig_template_check(apr_pool_t *pool, const char *tmpl,
                                          const char **why);

/* ---- names and hosts ---- */

/* 1 when NAME is a DNS host name: labels of 1-63 of a-z A-Z 0-9 '-' (not
 * at a label's ends), at most 253 bytes, no trailing dot. */
int cn_dns_name_valid(const char *name);

/* The provider whose mail exchanger MX_HOST is: "google" for Google
 * Workspace (aspmx.l.google.com and its alt hosts, *.googlemail.com,
 * *.google.com), "microsoft" for Microsoft 365 (*.mail.protection.outlook.com);
 * NULL for any other host. Any case, a trailing dot allowed. */
const char *cn_discover_mx_provider(const char *mx_host);

/* The registrable domain of HOST (lowercase, no trailing dot): its last two
 * labels, three under a known two-level public suffix (co.uk, com.au, ...).
 * NULL when HOST has fewer labels than that. */
const char *cn_registrable_domain(apr_pool_t *pool, const char *host);

/* ---- DNS (c-ares) ---- */

typedef struct cn_dns_srv_t {
    const char *target; /* "." (or empty) when the service is not offered */
    int port, priority, weight;
} cn_dns_srv_t;

typedef struct cn_dns_mx_t {
    const char *host;
    int preference;
} cn_dns_mx_t;

/* Lookups through CONF's name server (or the system's), each bounded by
 * TIMEOUT_MS: SRV records of NAME (cn_dns_srv_t), MX records of NAME
 * (cn_dns_mx_t, by preference), the IPv4 and IPv6 addresses of NAME
 * (const char *, numeric). APR_SUCCESS with at least one record;
 * APR_NOTFOUND when the name or the record type does not exist; APR_TIMEUP
 * when no answer came in time; APR_EGENERAL for other failures (a refusing
 * or failing server, a broken answer). *WHY (may be NULL) says what failed. */
apr_status_t cn_dns_srv(apr_pool_t *pool, const cn_discover_conf_t *conf, const char *name,
                        long timeout_ms, apr_array_header_t **out, const char **why);
apr_status_t cn_dns_mx(apr_pool_t *pool, const cn_discover_conf_t *conf, const char *name,
                       long timeout_ms, apr_array_header_t **out, const char **why);
apr_status_t cn_dns_addrs(apr_pool_t *pool, const cn_discover_conf_t *conf, const char *name,
                          long timeout_ms, apr_array_header_t **out, const char **why);

/* The SRV record to use (RFC 6186 §3.4, RFC 2782): the lowest priority, of
 * those the highest weight, first listed on a tie; NULL for none. A record
 * whose target is "." says the service is not offered (RFC 2782): the
 * caller treats it as nothing found. */
const cn_dns_srv_t *cn_dns_srv_pick(const apr_array_header_t *records);

/* ---- the guess's TLS handshake ---- */

/* APR_SUCCESS when a TLS connection to HOST:PORT at one of ADDRS (numeric,
 * from cn_dns_addrs) is made within TIMEOUT_MS with a certificate for HOST
 * that CONF's CA file (or the system's) trusts. Only addresses
 * cn_addr_permitted(CONF->allow) permits are connected (the caller leaves
 * the others out; the socket is checked again): none, APR_EACCES. *WHY (may
 * be NULL) says what failed. */
apr_status_t cn_discover_tls_probe(apr_pool_t *pool, const cn_discover_conf_t *conf,
                                   const char *host, int port, const apr_array_header_t *addrs,
                                   long timeout_ms, const char **why);

/* ---- the API ---- */
/* Providers an application has integrations for, and the provider of an
 * address (the discovery chain; detected when the application has an
 * integration for it, or ALL_PROVIDER_TYPES). */
apr_status_t cn_providers_find(cn_ctx_t *ctx, json_t **out);
apr_status_t cn_providers_detect(cn_ctx_t *ctx, const char *email, int all_provider_types,
                                 json_t **out);

#endif
