/* The directives of auto-discovery (ConnectDNSServer, ConnectAutoconfigURL,
 * ConnectDiscoveryGuessPort, ConnectDiscoveryTimeout) and the settings the
 * core's discovery gets from them (cn_discover_conf_t). */
#include <stdlib.h>
#include <arpa/inet.h>

#include "cn_httpd.h"

static cn_server_conf_t *conf_of(cmd_parms *cmd)
{
    cn_server_conf_t *sc = ap_get_module_config(cmd->server->module_config, &connect_module);
    sc->configured = 1;
    return sc;
}

/* ADDRESS, ADDRESS:PORT, [IPV6] or [IPV6]:PORT; the address numeric (the
 * resolver cannot ask a name server by name). */
const char *cn_discover_set_dns_server(cmd_parms *cmd, void *dc, const char *v)
{
    const char *addr = v, *port_s = NULL, *close;
    unsigned char buf[16];
    int v6 = 0;
    long port = 53;
    char *end;
    if (v[0] == '[') {
        if (!(close = strchr(v, ']')) || (close[1] && close[1] != ':')) {
            goto bad;
        }
        addr = apr_pstrndup(cmd->pool, v + 1, (apr_size_t)(close - v - 1));
        port_s = close[1] ? close + 2 : NULL;
        v6 = 1;
    }
    else if (strchr(v, ':') == strrchr(v, ':') && strchr(v, ':')) {
        close = strchr(v, ':');
        addr = apr_pstrndup(cmd->pool, v, (apr_size_t)(close - v));
        port_s = close + 1;
    }
    else if (strchr(v, ':')) {
        v6 = 1; /* a bare IPv6 address */
    }
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, buf) != 1) {
        goto bad;
    }
    if (port_s) {
        port = strtol(port_s, &end, 10);
        if (!*port_s || *end || port < 1 || port > 65535) {
            goto bad;
        }
    }
    conf_of(cmd)->dns_server = v6 ? apr_psprintf(cmd->pool, "[%s]:%ld", addr, port)
                                  : apr_psprintf(cmd->pool, "%s:%ld", addr, port);
    return NULL;
bad:
    return apr_pstrcat(cmd->pool, CN_DIR_DNS_SERVER, ": '", v, "' is not ADDRESS[:PORT] "
                       "(a numeric IPv4 address, or an IPv6 address in brackets, and a port "
                       "from 1 to 65535)", NULL);
}

#define AUTOCONFIG_NONE "none"

const char *cn_discover_add_autoconfig_url(cmd_parms *cmd, void *dc, const char *v)
{
    cn_server_conf_t *sc = conf_of(cmd);
    const char *why = NULL;
    int none = !strcasecmp(v, AUTOCONFIG_NONE);
    if (sc->autoconfig_urls->nelts
        && (none || !strcmp(APR_ARRAY_IDX(sc->autoconfig_urls, 0, const char *),
                            AUTOCONFIG_NONE))) {
        return CN_DIR_AUTOCONFIG_URL ": 'none' cannot be combined with templates";
    }
    if (!none && cn_autoconfig_template_check(cmd->temp_pool, v, &why) != APR_SUCCESS) {
        return apr_pstrcat(cmd->pool, CN_DIR_AUTOCONFIG_URL, ": '", v, "': ", why, NULL);
    }
    APR_ARRAY_PUSH(sc->autoconfig_urls, const char *) = none ? AUTOCONFIG_NONE : v;
    return NULL;
}

const char *cn_discover_set_guess_port(cmd_parms *cmd, void *dc, const char *v)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > 65535) {
        return CN_DIR_GUESS_PORT " must be a port from 1 to 65535";
    }
    conf_of(cmd)->guess_port = (int)n;
    return NULL;
}

const char *cn_discover_set_timeout(cmd_parms *cmd, void *dc, const char *v)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > 60) {
        return CN_DIR_DISCOVERY_TIMEOUT " must be a number of seconds from 1 to 60";
    }
    conf_of(cmd)->discovery_timeout = (int)n;
    return NULL;
}

void cn_discover_conf_init(apr_pool_t *p, cn_server_conf_t *sc)
{
    sc->autoconfig_urls = apr_array_make(p, 2, sizeof(const char *));
    sc->guess_port = -1;
    sc->discovery_timeout = -1;
}

void cn_discover_conf_merge(cn_server_conf_t *sc, const cn_server_conf_t *base,
                            const cn_server_conf_t *add)
{
    sc->dns_server = add->dns_server ? add->dns_server : base->dns_server;
    sc->autoconfig_urls = add->autoconfig_urls->nelts ? add->autoconfig_urls
                                                      : base->autoconfig_urls;
    sc->guess_port = add->guess_port != -1 ? add->guess_port : base->guess_port;
    sc->discovery_timeout = add->discovery_timeout != -1 ? add->discovery_timeout
                                                         : base->discovery_timeout;
}

void cn_discover_conf_finish(apr_pool_t *pconf, server_rec *s, cn_server_conf_t *sc)
{
    cn_discover_conf_t *d = apr_pcalloc(pconf, sizeof(*d));
    apr_array_header_t *urls = apr_array_make(pconf, 2, sizeof(const char *));
    if (!sc->autoconfig_urls->nelts) {
        APR_ARRAY_PUSH(urls, const char *) = CN_AUTOCONFIG_URL_DEFAULT_1;
        APR_ARRAY_PUSH(urls, const char *) = CN_AUTOCONFIG_URL_DEFAULT_2;
    }
    else if (strcmp(APR_ARRAY_IDX(sc->autoconfig_urls, 0, const char *), AUTOCONFIG_NONE)) {
        apr_array_cat(urls, sc->autoconfig_urls);
    }
    d->dns_server = sc->dns_server;
    d->autoconfig_urls = urls;
    d->guess_port = sc->guess_port != -1 ? sc->guess_port : CN_DISCOVER_GUESS_PORT;
    d->timeout_ms = sc->discovery_timeout != -1 ? sc->discovery_timeout * 1000L
                                                : CN_DISCOVER_TIMEOUT_MS;
    d->ca_file = sc->ca_file;
    d->allow = sc->allow;
    sc->discover = d;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, CNLOGNO(00620) "auto-discovery: name server "
                 "%s, %d autoconfig URL template(s), guesses on port %d, at most %ld ms each",
                 d->dns_server ? d->dns_server : "of the system", urls->nelts, d->guess_port,
                 d->timeout_ms);
}
