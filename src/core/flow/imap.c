/* A mailbox proven by its password: the IMAP LOGIN the hosted form and
 * native authentication (POST /grants, provider imap) share, and what it
 * leaves for the grant. */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "cn_proto.h"
#include "cn_discover.h"
#include "flow.h"

const char *cn_imap_subject(apr_pool_t *pool, const char *host, const char *username)
{
    return apr_pstrcat(pool, cn_lower(pool, host), "/", username, NULL);
}

/* 1 when S has no control characters (ASCII 0-31 and 127). */
static int no_controls(const char *s)
{
    for (; *s; ++s) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int type_valid(const char *t)
{
    apr_size_t n = strlen(t);
    return n && n <= CN_IMAP_TYPE_MAX
           && t[strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_-")] == '\0';
}

static apr_status_t bad(cn_ctx_t *ctx, const char *why)
{
    return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_PAYLOAD, "%s", why);
}

apr_status_t cn_imap_login_check(cn_ctx_t *ctx, const cn_imap_login_t *l)
{
    if (!l->username || !*l->username) {
        return bad(ctx, "imap_username is required");
    }
    if (strlen(l->username) > CN_IMAP_USERNAME_MAX || !no_controls(l->username)) {
        return bad(ctx, apr_psprintf(ctx->pool, "imap_username must be at most %d characters, "
                                     "without control characters", CN_IMAP_USERNAME_MAX));
    }
    if (!l->password || !*l->password) {
        return bad(ctx, "imap_password is required");
    }
    if (strlen(l->password) > CN_IMAP_PASSWORD_MAX) {
        return bad(ctx, apr_psprintf(ctx->pool, "imap_password must be at most %d bytes",
                                     CN_IMAP_PASSWORD_MAX));
    }
    if (!l->host || !cn_imap_host_valid(l->host)) {
        return bad(ctx, "imap_host must be a host name or an IPv4 address");
    }
    if (l->port < 1 || l->port > 65535) {
        return bad(ctx, "imap_port must be a number from 1 to 65535");
    }
    if (!cn_imap_security_valid(l->security)) {
        return bad(ctx, "imap_security must be ssl, starttls or plain");
    }
    if (l->email ? !cn_email_valid(l->email) : !cn_email_valid(l->username)) {
        return bad(ctx, l->email ? "email must be an address of the form local@domain"
                                 : "email is required when imap_username is not an email "
                                   "address");
    }
    if (l->type && !type_valid(l->type)) {
        return bad(ctx, apr_psprintf(ctx->pool, "type must be at most %d lowercase letters, "
                                     "digits, '_' or '-'", CN_IMAP_TYPE_MAX));
    }
    return APR_SUCCESS;
}

/* Where HOST is, for a LOGIN on PORT, as the module's own resolver finds it
 * ("HOST:PORT:ADDR,..."), when ConnectDNSServer names one; NULL (libcurl asks
 * the system's) when it does not, HOST is an address, or it finds nothing. */
static const char *pinned_host(cn_ctx_t *ctx, const char *host, int port)
{
    apr_array_header_t *addrs;
    const char *pinned, *c;
    int i;
    if (!ctx->discover || !ctx->discover->dns_server) {
        return NULL;
    }
    for (c = host; *c && (apr_isdigit(*c) || *c == '.'); ++c) {
    }
    if (!*c || cn_dns_addrs(ctx->pool, ctx->discover, host, CN_DISCOVER_DNS_MS, &addrs, NULL)
                   != APR_SUCCESS) {
        return NULL;
    }
    pinned = apr_psprintf(ctx->pool, "%s:%d:", host, port);
    for (i = 0; i < addrs->nelts; ++i) {
        const char *a = APR_ARRAY_IDX(addrs, i, const char *);
        int v6 = strchr(a, ':') != NULL;
        pinned = apr_pstrcat(ctx->pool, pinned, i ? "," : "", v6 ? "[" : "", a, v6 ? "]" : "",
                             NULL);
    }
    return pinned;
}

apr_status_t cn_imap_prove(cn_ctx_t *ctx, const cn_imap_login_t *login, cn_flow_proof_t *proof)
{
    cn_imap_request_t req = {0};
    cn_identity_t *id;
    if (cn_imap_login_check(ctx, login) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    req.host = cn_lower(ctx->pool, login->host);
    req.port = login->port;
    req.security = login->security;
    req.username = login->username;
    req.password = login->password;
    req.pinned = pinned_host(ctx, req.host, req.port);
    if (cn_imap_login(ctx, &req) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    id = apr_pcalloc(ctx->pool, sizeof(*id));
    id->subject = id->legacy_subject = cn_imap_subject(ctx->pool, req.host, req.username);
    id->user_id = req.username;
    id->email = cn_lower(ctx->pool, login->email ? login->email : login->username);
    proof->id = id;
    proof->tokens = NULL;
    proof->password = login->password;
    proof->settings = cn_json_own(ctx->pool,
                                  json_pack("{s:s,s:s,s:i,s:s,s:o}", "imap_username",
                                            req.username, "imap_host", req.host, "imap_port",
                                            req.port, "imap_security", req.security, "type",
                                            login->type ? json_string(login->type)
                                                        : json_null()));
    if (!proof->settings) {
        return cn_fail_internal(ctx, "an IMAP grant's settings");
    }
    return APR_SUCCESS;
}

/* ---- POST /grants, provider imap ---- */

/* An optional string setting: absent or null leaves *OUT NULL. */
static apr_status_t opt_string(cn_ctx_t *ctx, json_t *settings, const char *key,
                               const char **out)
{
    json_t *v = json_object_get(settings, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        return APR_SUCCESS;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        return bad(ctx, apr_pstrcat(ctx->pool, "settings.", key, " must be a string", NULL));
    }
    *out = json_string_value(v);
    return APR_SUCCESS;
}

apr_status_t cn_imap_settings_read(cn_ctx_t *ctx, json_t *settings, cn_imap_login_t *login)
{
    static const char *const allowed[] = {"imap_username", "imap_password", "imap_host",
                                          "imap_port", "imap_security", "type", "email", NULL};
    const char *key;
    json_t *port;
    memset(login, 0, sizeof(*login));
    if (!json_is_object(settings)) {
        return bad(ctx, "settings with imap_username and imap_password are required");
    }
    if ((key = cn_json_unknown_key(settings, allowed))) {
        return bad(ctx, apr_psprintf(ctx->pool, "unknown setting '%.64s' (imap_username, "
                                     "imap_password, imap_host, imap_port, imap_security, "
                                     "type, email)", key));
    }
    if (opt_string(ctx, settings, "imap_username", &login->username) != APR_SUCCESS
        || opt_string(ctx, settings, "imap_password", &login->password) != APR_SUCCESS
        || opt_string(ctx, settings, "imap_host", &login->host) != APR_SUCCESS
        || opt_string(ctx, settings, "imap_security", &login->security) != APR_SUCCESS
        || opt_string(ctx, settings, "type", &login->type) != APR_SUCCESS
        || opt_string(ctx, settings, "email", &login->email) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    port = json_object_get(settings, "imap_port");
    if (port && !json_is_null(port)) {
        if (!json_is_integer(port) || json_integer_value(port) < 1
            || json_integer_value(port) > 65535) {
            return bad(ctx, "settings.imap_port must be a number from 1 to 65535");
        }
        login->port = (int)json_integer_value(port);
    }
    if (!login->username || !*login->username) {
        return bad(ctx, "settings.imap_username is required");
    }
    if (!login->password || !*login->password) {
        return bad(ctx, "settings.imap_password is required");
    }
    if (login->security && !cn_imap_security_valid(login->security)) {
        return bad(ctx, "settings.imap_security must be ssl, starttls or plain");
    }
    return APR_SUCCESS;
}

/* Where the mailbox of EMAIL lives, for a login that does not say: its
 * host, and the port, security and type it did not give either. Today the
 * bundled provider table; the whole discovery chain (cn_discover) goes
 * here. A network call may come: no database handle may be held. */
static apr_status_t discover(cn_ctx_t *ctx, const char *email, cn_imap_login_t *login)
{
    cn_mail_settings_t *found = NULL;
    const char *domain = strchr(email, '@') + 1;
    apr_status_t rv = cn_discover(ctx, email, &found);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        return APR_EGENERAL; /* ctx->res says why */
    }
    if (!found || !found->imap_host) {
        return bad(ctx, apr_psprintf(ctx->pool, "settings.imap_host is required: no IMAP "
                                     "server was found for %.255s%s%s%s", domain,
                                     found ? " (it signs in with " : "",
                                     found ? found->provider : "", found ? ")" : ""));
    }
    login->host = found->imap_host;
    if (!login->port) {
        login->port = found->imap_port;
        if (!login->security) {
            login->security = found->security ? found->security : CN_IMAP_SSL;
        }
    }
    if (!login->type) {
        login->type = found->type;
    }
    return APR_SUCCESS;
}

apr_status_t cn_imap_login_fill(cn_ctx_t *ctx, cn_imap_login_t *login)
{
    const char *email = login->email ? login->email : login->username;
    if (!login->host) {
        if (!email || !cn_email_valid(email)) {
            return bad(ctx, "settings.imap_host is required: no email address to find the "
                            "IMAP server from");
        }
        if (discover(ctx, email, login) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
    }
    if (!login->security) {
        login->security = login->port == CN_IMAP_PORT_STARTTLS ? CN_IMAP_STARTTLS : CN_IMAP_SSL;
    }
    if (!login->port) {
        login->port = strcmp(login->security, CN_IMAP_SSL) ? CN_IMAP_PORT_STARTTLS
                                                           : CN_IMAP_PORT_SSL;
    }
    return APR_SUCCESS;
}

apr_status_t cn_flow_native_imap(cn_ctx_t *ctx, json_t *body, cn_grant_t **grant, int *reauth)
{
    static const char *const allowed[] = {"provider", "settings", "scope", "state", NULL};
    const char *provider = json_string_value(json_object_get(body, "provider")), *state = NULL;
    const char *key;
    json_t *scope = NULL;
    cn_integration_t *it;
    cn_imap_login_t login;
    cn_flow_proof_t proof = {0};
    apr_status_t rv;

    if ((key = cn_json_unknown_key(body, allowed))) {
        return bad(ctx, apr_psprintf(ctx->pool, "unknown field '%.64s'", key));
    }
    if (cn_json_get_string_array(body, "scope", 100, 512, &scope) != APR_SUCCESS
        || cn_json_get_string(body, "state", &state) != APR_SUCCESS
        || (state && strlen(state) > 512)) {
        return bad(ctx, "scope must be an array of strings, state a string");
    }
    if (cn_imap_settings_read(ctx, json_object_get(body, "settings"), &login) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    rv = cn_integration_require(ctx, provider, &it);
    cn_ctx_db_close(ctx);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Discovery and the LOGIN talk to the network: no handle is held. */
    if (cn_imap_login_fill(ctx, &login) != APR_SUCCESS
        || cn_imap_prove(ctx, &login, &proof) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return cn_flow_connect(ctx, it, scope ? scope : it->scope, state, NULL, &proof, grant,
                           reauth);
}
