/* The guess's check: does HOST:PORT answer TLS with a certificate for
 * HOST that we trust? libcurl makes the connection (its TLS settings and
 * verification are the ones every other call uses) to the addresses our
 * resolver found (CURLOPT_RESOLVE), and stops once the handshake is done
 * (CURLOPT_CONNECT_ONLY with an https URL: nothing is sent after it). The
 * domain's DNS chose those addresses: the address rule is on the socket
 * (cn_curl_guard). */
#include <string.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "cn_proto.h"
#include "cn_discover.h"

static apr_status_t easy_cleanup(void *c)
{
    curl_easy_cleanup(c);
    return APR_SUCCESS;
}

static apr_status_t slist_cleanup(void *l)
{
    curl_slist_free_all(l);
    return APR_SUCCESS;
}

apr_status_t cn_discover_tls_probe(apr_pool_t *pool, const cn_discover_conf_t *conf,
                                   const char *host, int port, const apr_array_header_t *addrs,
                                   long timeout_ms, const char **why)
{
    const char *resolve, *dummy;
    struct curl_slist *list;
    cn_curl_guard_t guard;
    CURL *c;
    CURLcode rc;
    int i;

    if (!why) {
        why = &dummy;
    }
    if (!cn_dns_name_valid(host) || port < 1 || port > 65535 || !addrs || !addrs->nelts) {
        *why = "nothing to connect to";
        return APR_EINVAL;
    }
    if (timeout_ms < 1) {
        *why = "no time left";
        return APR_TIMEUP;
    }
    /* "host:port:addr,addr,...", IPv6 addresses in brackets */
    resolve = apr_psprintf(pool, "%s:%d:", host, port);
    for (i = 0; i < addrs->nelts; ++i) {
        const char *a = APR_ARRAY_IDX(addrs, i, const char *);
        resolve = apr_pstrcat(pool, resolve, i ? "," : "", strchr(a, ':') ? "[" : "", a,
                              strchr(a, ':') ? "]" : "", NULL);
    }
    if (!(c = curl_easy_init())) {
        *why = "cannot set up libcurl";
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(pool, c, easy_cleanup, apr_pool_cleanup_null);
    if (!(list = curl_slist_append(NULL, resolve))) {
        *why = "cannot set up libcurl";
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(pool, list, slist_cleanup, apr_pool_cleanup_null);
    guard.pool = pool;
    guard.allow = conf ? conf->allow : NULL;
    if (cn_curl_guard(c, &guard) != APR_SUCCESS
        || curl_easy_setopt(c, CURLOPT_URL, apr_psprintf(pool, "https://%s:%d/", host, port))
            != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_RESOLVE, list) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_SSL_ENABLE_ALPN, 0L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
        || (conf && conf->ca_file
            && curl_easy_setopt(c, CURLOPT_CAINFO, conf->ca_file) != CURLE_OK)) {
        apr_pool_cleanup_run(pool, c, easy_cleanup);
        *why = "cannot set up libcurl";
        return APR_EGENERAL;
    }
    rc = curl_easy_perform(c);
    apr_pool_cleanup_run(pool, c, easy_cleanup);
    if (rc == CURLE_OK) {
        return APR_SUCCESS;
    }
    if (rc == CURLE_COULDNT_CONNECT && guard.refused) {
        *why = guard.refused;
        return APR_EACCES;
    }
    *why = curl_easy_strerror(rc);
    return rc == CURLE_OPERATION_TIMEDOUT ? APR_TIMEUP : APR_EGENERAL;
}
