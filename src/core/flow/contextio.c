/* Context.IO's native account creation (POST /accounts, POST
 * /accounts/{id}/sources): a source given by IMAP settings or by a provider
 * refresh token is proven the way POST /grants proves it (cn_flow_native:
 * an IMAP LOGIN, a provider refresh), then becomes a source of the account.
 * Deleting a source or an account deletes its grants (cn_grant_revoke). */
#include <string.h>
#include <apr_strings.h>

#include "cn_flow.h"
#include "cn_util.h"

static apr_status_t bad(cn_ctx_t *ctx, const char *what)
{
    return cn_fail(ctx->pool, &ctx->res, CN_EV_BAD_REQUEST, "%s", what);
}

/* The OAuth provider whose integration has client id CONSUMER_KEY. */
static apr_status_t provider_of_consumer(cn_ctx_t *ctx, const char *consumer_key,
                                         const char **provider)
{
    static const char *const oauth[] = {"google", "microsoft", NULL};
    const char *const *p;
    *provider = NULL;
    if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (p = oauth; *p; ++p) {
        cn_integration_t *it = NULL;
        const char *id = NULL;
        if (cn_integration_load(ctx, *p, &it) == APR_SUCCESS && it
            && cn_json_get_string(it->settings, "client_id", &id) == APR_SUCCESS && id
            && !strcmp(id, consumer_key)) {
            *provider = *p;
            break;
        }
    }
    cn_ctx_db_close(ctx);
    if (!*provider) {
        return bad(ctx, "provider_consumer_key is not the client id of this application's "
                        "google or microsoft integration");
    }
    return APR_SUCCESS;
}

apr_status_t cn_cio_source_body(cn_ctx_t *ctx, const apr_table_t *params, const char *email,
                                json_t **body)
{
    const char *refresh = apr_table_get(params, "provider_refresh_token");
    const char *consumer = apr_table_get(params, "provider_consumer_key");
    const char *type = apr_table_get(params, "type");
    *body = NULL;
    if (refresh) {
        const char *provider = NULL;
        if (!*refresh || !consumer || !*consumer) {
            return bad(ctx, "provider_refresh_token and provider_consumer_key go together");
        }
        if (provider_of_consumer(ctx, consumer, &provider) != APR_SUCCESS) {
            return APR_EGENERAL;
        }
        *body = cn_json_own(ctx->pool, json_pack("{s:s,s:{s:s}}", "provider", provider,
                                                 "settings", "refresh_token", refresh));
    }
    else {
        const char *server = apr_table_get(params, "server");
        const char *username = apr_table_get(params, "username");
        const char *password = apr_table_get(params, "password");
        const char *port = apr_table_get(params, "port");
        const char *ssl = apr_table_get(params, "use_ssl");
        apr_int64_t n;
        char *end = NULL;
        if (type && strcasecmp(type, "imap")) {
            return bad(ctx, "type must be IMAP");
        }
        if (!server || !username || !password || !port || !*server || !*username
            || !*password) {
            return bad(ctx, "a source needs server, username, password and port (type=IMAP), "
                            "or provider_refresh_token and provider_consumer_key");
        }
        n = apr_strtoi64(port, &end, 10);
        if (!*port || *end || n < 1 || n > 65535) {
            return bad(ctx, "port must be a number from 1 to 65535");
        }
        if (ssl && strcmp(ssl, "0") && strcmp(ssl, "1")) {
            return bad(ctx, "use_ssl must be 0 or 1");
        }
        /* use_ssl=0 is IMAP on a plain port: the password still goes only
         * inside TLS, after STARTTLS */
        *body = cn_json_own(ctx->pool,
                            json_pack("{s:s,s:{s:s,s:s,s:s,s:I,s:s,s:s}}", "provider", "imap",
                                      "settings", "imap_username", username, "imap_password",
                                      password, "imap_host", server, "imap_port", (json_int_t)n,
                                      "imap_security", ssl && !strcmp(ssl, "0") ? "starttls"
                                                                                : "ssl",
                                      "email", email));
    }
    return *body ? APR_SUCCESS : cn_fail_internal(ctx, "a source body does not build");
}

apr_status_t cn_cio_source_add(cn_ctx_t *ctx, const cn_cio_account_t *account, json_t *body,
                               cn_grant_t **grant)
{
    int reauth = 0;
    *grant = NULL;
    if (cn_flow_native(ctx, body, grant, &reauth) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    return cn_cio_grant_link(ctx, (*grant)->id, account->id);
}

apr_status_t cn_cio_source_remove(cn_ctx_t *ctx, const char *account_id, const char *label)
{
    apr_array_header_t *ids = NULL;
    int i;
    if (cn_cio_account_grant_ids(ctx, account_id, &ids) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (i = 0; i < ids->nelts; ++i) {
        if (!strcmp(APR_ARRAY_IDX(ids, i, const char *), label)) {
            return cn_grant_revoke(ctx, label);
        }
    }
    return cn_fail(ctx->pool, &ctx->res, CN_EV_NOT_FOUND_ERROR, "no such source");
}

apr_status_t cn_cio_account_delete(cn_ctx_t *ctx, const char *account_id)
{
    apr_array_header_t *ids = NULL;
    int i;
    if (cn_cio_account_grant_ids(ctx, account_id, &ids) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    for (i = 0; i < ids->nelts; ++i) {
        /* a grant deleted meanwhile (through the Unified Auth API) is gone already */
        if (cn_grant_revoke(ctx, APR_ARRAY_IDX(ids, i, const char *)) != APR_SUCCESS
            && (!ctx->res.event || ctx->res.event->id != CN_EV_GRANT_NOT_FOUND)) {
            return APR_EGENERAL;
        }
    }
    return cn_cio_account_remove(ctx, account_id);
}
