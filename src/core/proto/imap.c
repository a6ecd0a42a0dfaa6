/* IMAP, the core's side: what a request may name, the LOGIN through the
 * context's seam (never with a database handle held), and what its outcome
 * means for the application. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_time.h>
#include <apr_base64.h>

#include "cn_proto.h"

int cn_imap_host_valid(const char *host)
{
    const char *c, *label = host;
    apr_size_t n;
    if (!host || !*host || (n = strlen(host)) > 253) {
        return 0;
    }
    for (c = host;; ++c) {
        if (*c == '.' || !*c) {
            apr_size_t len = (apr_size_t)(c - label);
            if (!len || len > 63 || label[0] == '-' || c[-1] == '-') {
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

int cn_imap_security_valid(const char *security)
{
    return security && (!strcmp(security, CN_IMAP_SSL) || !strcmp(security, CN_IMAP_STARTTLS)
                        || !strcmp(security, CN_IMAP_PLAIN));
}

cn_event_id_t cn_imap_outcome_event(cn_imap_outcome_t outcome)
{
    switch (outcome) {
    case CN_IMAP_LOGGED_IN:
        return CN_EV__COUNT;
    case CN_IMAP_DENIED:
    case CN_IMAP_NO_MECHANISM:
        return CN_EV_INVALID_AUTHENTICATION;
    case CN_IMAP_NO_ANSWER:
    case CN_IMAP_ADDRESS_REFUSED:
        return CN_EV_PROVIDER_NOT_RESPONDING;
    case CN_IMAP_TLS_UNTRUSTED:
    case CN_IMAP_TLS_FAILED:
        return CN_EV_PROVIDER_TLS_FAILED;
    case CN_IMAP_PLAIN_REFUSED:
        return CN_EV_PROVIDER_SETTINGS_INVALID;
    case CN_IMAP_CLIENT_FAILED:
        return CN_EV_SERVICE_UNAVAILABLE;
    }
    return CN_EV_INTERNAL_ERROR;
}

/* What the application and the log are told of OUTCOME at WHERE. */
static const char *outcome_text(apr_pool_t *pool, cn_imap_outcome_t outcome, const char *where,
                                long timeout_ms)
{
    switch (outcome) {
    case CN_IMAP_DENIED:
        return apr_psprintf(pool, "the IMAP server %s refused the username or password", where);
    case CN_IMAP_NO_MECHANISM:
        return apr_psprintf(pool, "the IMAP server %s offers no password login "
                            "(AUTHENTICATE PLAIN or LOGIN)", where);
    case CN_IMAP_NO_ANSWER:
        return apr_psprintf(pool, "no IMAP answer from %s within %ld s", where,
                            (timeout_ms + 999) / 1000);
    case CN_IMAP_ADDRESS_REFUSED:
        /* which address, and what it is, goes to the log only: the answer
         * tells no one what a name resolves to inside the network */
        return apr_psprintf(pool, "the IMAP server %s is not at a public address; this "
                            "server does not connect there (ConnectAllowAddresses)", where);
    case CN_IMAP_TLS_UNTRUSTED:
        return apr_psprintf(pool, "the TLS certificate of %s is not trusted here "
                            "(ConnectCAFile), or not issued for that host name", where);
    case CN_IMAP_TLS_FAILED:
        return apr_psprintf(pool, "no TLS connection with %s: the server does not offer "
                            "STARTTLS, or does not speak TLS on that port", where);
    case CN_IMAP_PLAIN_REFUSED:
        return apr_psprintf(pool, "IMAP without TLS (security plain, to %s) is not allowed "
                            "on this server (ConnectIMAPAllowPlain)", where);
    case CN_IMAP_CLIENT_FAILED:
        return apr_psprintf(pool, "the IMAP client could not run (for %s)", where);
    case CN_IMAP_LOGGED_IN:
        break;
    }
    return "";
}

apr_status_t cn_imap_login(cn_ctx_t *ctx, const cn_imap_request_t *req)
{
    cn_imap_outcome_t outcome = CN_IMAP_CLIENT_FAILED;
    const char *error = NULL, *where;
    apr_time_t t0;
    long timeout_ms;
    apr_status_t rv;

    where = apr_psprintf(ctx->pool, "%s:%d (%s)", req->host, req->port, req->security);
    if (ctx->db) {
        /* The rule of every flow, as for provider calls: no database handle
         * while a server is asked (it may take the whole ConnectIMAPTimeout). */
        cn_log(ctx, CN_LOG_CRIT, CNLOGNO(00701) "a database handle is held across an IMAP "
               "LOGIN at %s", where);
        return cn_fail_rv(ctx->pool, &ctx->res, APR_EBUSY, CN_EV_INTERNAL_ERROR,
                          "a database handle is held across an IMAP LOGIN");
    }
    if (!ctx->imap || !ctx->imap->login) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_SERVICE_UNAVAILABLE,
                       "no IMAP client in this process");
    }
    timeout_ms = ctx->imap->timeout_ms;
    if (!strcmp(req->security, CN_IMAP_PLAIN) && !ctx->imap->allow_plain) {
        outcome = CN_IMAP_PLAIN_REFUSED;
    }
    else {
        t0 = apr_time_now();
        rv = ctx->imap->login(ctx->imap, ctx->pool, req, &outcome, &error);
        if (rv != APR_SUCCESS && outcome == CN_IMAP_LOGGED_IN) {
            outcome = CN_IMAP_CLIENT_FAILED; /* a confused client: not logged in */
        }
        if (outcome == CN_IMAP_ADDRESS_REFUSED) {
            cn_log(ctx, CN_LOG_NOTICE, CNLOGNO(01011) "IMAP LOGIN at %s refused: %s; nothing "
                   "was connected (ConnectAllowAddresses)", where,
                   error ? error : "not a public address");
        }
        else {
            cn_log(ctx, CN_LOG_INFO, CNLOGNO(00702) "IMAP LOGIN at %s: %s in %" APR_TIME_T_FMT
                   " ms%s%s", where, outcome == CN_IMAP_LOGGED_IN ? "logged in" : "failed",
                   apr_time_as_msec(apr_time_now() - t0), error ? ": " : "", error ? error : "");
        }
    }
    if (outcome == CN_IMAP_LOGGED_IN) {
        return APR_SUCCESS;
    }
    /* What the client saw says why a server could not be reached or trusted
     * (a refused connection, an unknown host, the certificate's fault). */
    if (error && (outcome == CN_IMAP_NO_ANSWER || outcome == CN_IMAP_TLS_UNTRUSTED
                  || outcome == CN_IMAP_TLS_FAILED)) {
        return cn_fail(ctx->pool, &ctx->res, cn_imap_outcome_event(outcome), "%s (%.200s)",
                       outcome_text(ctx->pool, outcome, where, timeout_ms), error);
    }
    return cn_fail(ctx->pool, &ctx->res, cn_imap_outcome_event(outcome), "%s",
                   outcome_text(ctx->pool, outcome, where, timeout_ms));
}

const char *cn_imap_xoauth2(apr_pool_t *pool, const char *user, const char *token)
{
    const char *plain;
    char *out;
    int len;
    if (!user || !token || strchr(user, '\x01') || strchr(token, '\x01')) {
        return NULL;
    }
    plain = apr_pstrcat(pool, "user=", user, "\x01" "auth=Bearer ", token, "\x01\x01", NULL);
    len = (int)strlen(plain);
    out = apr_palloc(pool, (apr_size_t)apr_base64_encode_len(len));
    apr_base64_encode(out, plain, len);
    return out;
}

const char *cn_imap_oauth_host(const char *provider)
{
    if (provider && !strcmp(provider, "google")) {
        return "imap.gmail.com";
    }
    if (provider && !strcmp(provider, "microsoft")) {
        return "outlook.office365.com";
    }
    return NULL;
}
