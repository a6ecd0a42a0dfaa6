/* The libcurl implementation of cn_imap_t: one LOGIN on a fresh connection.
 * libcurl's IMAP logs in while it connects (greeting, CAPABILITY, STARTTLS,
 * AUTHENTICATE); NOOP is the one command asked of the session, then LOGOUT.
 * Handles are not pooled: a connection that was logged in as someone is
 * never used again, and a LOGIN is rare next to provider calls. */
#include <string.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "cn_proto.h"

/* What a server may send during a LOGIN and a NOOP before we hang up. */
#define IMAP_MAX_ANSWER (64 * 1024)

/* The password mechanisms Thunderbird calls "normal password": never
 * GSSAPI, NTLM or the like, which a server may offer first and which have
 * nothing to do with the password the user gave. */
#define IMAP_LOGIN_OPTIONS "AUTH=PLAIN;AUTH=LOGIN"

typedef struct imap_client_t {
    cn_imap_options_t opts;
} imap_client_t;

typedef struct sink_t {
    apr_size_t len;
} sink_t;

/* What the server says after the LOGIN is read and dropped (capped). */
static size_t drop_write(char *data, size_t size, size_t nmemb, void *userp)
{
    sink_t *s = userp;
    size_t n = size * nmemb;
    (void)data;
    if (s->len + n > IMAP_MAX_ANSWER) {
        return 0; /* aborts the transfer */
    }
    s->len += n;
    return n;
}

static apr_status_t easy_cleanup(void *data)
{
    curl_easy_cleanup(data);
    return APR_SUCCESS;
}

static apr_status_t slist_cleanup(void *data)
{
    curl_slist_free_all(data);
    return APR_SUCCESS;
}

cn_imap_outcome_t cn_imap_curl_outcome(int code, const char *errbuf)
{
    switch ((CURLcode)code) {
    case CURLE_OK:
        return CN_IMAP_LOGGED_IN;
    case CURLE_LOGIN_DENIED:
        /* libcurl says so too when no mechanism it may use is offered */
        return errbuf && strstr(errbuf, "No known authentication mechanisms")
                   ? CN_IMAP_NO_MECHANISM
                   : CN_IMAP_DENIED;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return CN_IMAP_TLS_UNTRUSTED;
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CONNECT_ERROR:
        return CN_IMAP_TLS_FAILED;
    case CURLE_FAILED_INIT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_NOT_BUILT_IN:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_URL_MALFORMAT:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_CIPHER:
        return CN_IMAP_CLIENT_FAILED;
    default:
        /* refused, unreachable, unresolvable, timed out, cut off, or an
         * answer that is not IMAP's */
        return CN_IMAP_NO_ANSWER;
    }
}

/* Every option of one LOGIN, each result checked; the server's address
 * checked by GUARD. */
static apr_status_t login_setup(CURL *c, const cn_imap_options_t *opts, apr_pool_t *pool,
                                const cn_imap_request_t *req, sink_t *sink, char *errbuf,
                                cn_curl_guard_t *guard)
{
    int tls = strcmp(req->security, CN_IMAP_SSL) == 0;
    const char *url = apr_psprintf(pool, "%s://%s:%d/", tls ? "imaps" : "imap", req->host,
                                   req->port);
    long use_ssl = strcmp(req->security, CN_IMAP_STARTTLS) == 0 ? (long)CURLUSESSL_ALL
                                                                 : (long)CURLUSESSL_NONE;
    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "imap,imaps") != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_USERNAME, req->username) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_PASSWORD, req->password) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, IMAP_LOGIN_OPTIONS) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "NOOP") != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_USE_SSL, use_ssl) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK
        || (opts->ca_file && curl_easy_setopt(c, CURLOPT_CAINFO, opts->ca_file) != CURLE_OK)
        || curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, opts->timeout_ms) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, opts->timeout_ms) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, drop_write) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEDATA, sink) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK
        || cn_curl_guard(c, guard) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t curl_login(cn_imap_t *imap, apr_pool_t *pool, const cn_imap_request_t *req,
                               cn_imap_outcome_t *outcome, const char **error)
{
    imap_client_t *ic = imap->baton;
    char *errbuf = apr_pcalloc(pool, CURL_ERROR_SIZE);
    sink_t *sink = apr_pcalloc(pool, sizeof(*sink));
    cn_curl_guard_t *guard = apr_pcalloc(pool, sizeof(*guard));
    CURL *c;
    CURLcode rc;

    *error = NULL;
    *outcome = CN_IMAP_CLIENT_FAILED;
    /* The plain refusal is the core's; the client keeps it as well. */
    if (!strcmp(req->security, CN_IMAP_PLAIN) && !ic->opts.allow_plain) {
        *outcome = CN_IMAP_PLAIN_REFUSED;
        return APR_EGENERAL;
    }
    if (!cn_imap_host_valid(req->host) || req->port < 1 || req->port > 65535
        || !cn_imap_security_valid(req->security) || !req->username || !req->password) {
        *error = "an IMAP request the client does not take";
        return APR_EGENERAL;
    }
    if (!(c = curl_easy_init())) {
        *error = "cannot make a libcurl handle";
        return APR_EGENERAL;
    }
    /* The handle (and the copies of the credentials it holds) goes with the
     * request's pool; the error buffer lives in the same pool. */
    apr_pool_cleanup_register(pool, c, easy_cleanup, apr_pool_cleanup_null);
    guard->pool = pool;
    guard->allow = ic->opts.allow;
    if (login_setup(c, &ic->opts, pool, req, sink, errbuf, guard) != APR_SUCCESS) {
        *error = "cannot configure the IMAP client";
        return APR_EGENERAL;
    }
    if (req->pinned) { /* the host where the module's resolver found it */
        struct curl_slist *resolve = curl_slist_append(NULL, req->pinned);
        if (!resolve) {
            *error = "cannot configure the IMAP client";
            return APR_EGENERAL;
        }
        apr_pool_cleanup_register(pool, resolve, slist_cleanup, apr_pool_cleanup_null);
        if (curl_easy_setopt(c, CURLOPT_RESOLVE, resolve) != CURLE_OK) {
            *error = "cannot configure the IMAP client";
            return APR_EGENERAL;
        }
    }
    rc = curl_easy_perform(c);
    *outcome = cn_imap_curl_outcome((int)rc, errbuf);
    if (rc == CURLE_COULDNT_CONNECT && guard->refused) {
        /* no address was left to connect to: refused, not unreachable */
        *outcome = CN_IMAP_ADDRESS_REFUSED;
        *error = guard->refused;
    }
    else if (rc != CURLE_OK) {
        *error = apr_pstrdup(pool, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    return *outcome == CN_IMAP_LOGGED_IN ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t cn_imap_curl_make(apr_pool_t *pool, const cn_imap_options_t *opts,
                               cn_imap_t **out)
{
    imap_client_t *ic = apr_pcalloc(pool, sizeof(*ic));
    cn_imap_t *imap = apr_pcalloc(pool, sizeof(*imap));
    ic->opts = *opts;
    if (opts->ca_file) {
        ic->opts.ca_file = apr_pstrdup(pool, opts->ca_file);
    }
    if (ic->opts.timeout_ms <= 0) {
        return APR_EINVAL;
    }
    imap->login = curl_login;
    imap->allow_plain = opts->allow_plain;
    imap->timeout_ms = ic->opts.timeout_ms;
    imap->baton = ic;
    *out = imap;
    return APR_SUCCESS;
}
