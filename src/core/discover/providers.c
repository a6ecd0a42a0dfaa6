#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "cn_util.h"
#include "cn_discover.h"
#include "cn_model.h"

/* What a DNS label may have (the domain is lowercased first). */
#define LABEL_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-"

static const cn_known_domain_t known[] = {
    {"gmail.com", "google", "google", NULL, 0},
    {"googlemail.com", "google", "google", NULL, 0},
    {"outlook.com", "microsoft", "microsoft", NULL, 0},
    {"hotmail.com", "microsoft", "microsoft", NULL, 0},
    {"hotmail.co.uk", "microsoft", "microsoft", NULL, 0},
    {"live.com", "microsoft", "microsoft", NULL, 0},
    {"msn.com", "microsoft", "microsoft", NULL, 0},
    {"yahoo.com", "imap", "yahoo", "imap.mail.yahoo.com", 993},
    {"ymail.com", "imap", "yahoo", "imap.mail.yahoo.com", 993},
    {"rocketmail.com", "imap", "yahoo", "imap.mail.yahoo.com", 993},
    {"icloud.com", "imap", "icloud", "imap.mail.me.com", 993},
    {"me.com", "imap", "icloud", "imap.mail.me.com", 993},
    {"mac.com", "imap", "icloud", "imap.mail.me.com", 993},
    {"aol.com", "imap", "aol", "imap.aol.com", 993},
    {"fastmail.com", "imap", "fastmail", "imap.fastmail.com", 993},
    {"fastmail.fm", "imap", "fastmail", "imap.fastmail.com", 993},
    {"gmx.de", "imap", "gmx", "imap.gmx.net", 993},
    {"gmx.net", "imap", "gmx", "imap.gmx.net", 993},
    {"gmx.at", "imap", "gmx", "imap.gmx.net", 993},
    {"gmx.ch", "imap", "gmx", "imap.gmx.net", 993},
    {"gmx.*", "imap", "gmx", "imap.gmx.com", 993},
    {"zoho.com", "imap", "zoho", "imap.zoho.com", 993},
    {"zohomail.com", "imap", "zoho", "imap.zoho.com", 993},
    {"yandex.com", "imap", "yandex", "imap.yandex.com", 993},
    {"yandex.ru", "imap", "yandex", "imap.yandex.com", 993},
    {NULL, NULL, NULL, NULL, 0}
};

int cn_email_valid(const char *email)
{
    const char *at, *c;
    if (!email || strlen(email) > 254 || !(at = strchr(email, '@')) || at == email
        || !at[1] || strchr(at + 1, '@') || at[1] == '.') {
        return 0;
    }
    for (c = email; *c; ++c) {
        if (apr_iscntrl(*c) || apr_isspace(*c)) {
            return 0;
        }
    }
    return 1;
}

const cn_known_domain_t *cn_providers_lookup(apr_pool_t *pool, const char *email)
{
    const cn_known_domain_t *k;
    const char *domain;
    if (!cn_email_valid(email)) {
        return NULL;
    }
    domain = cn_lower(pool, strchr(email, '@') + 1);
    for (k = known; k->domain; ++k) {
        apr_size_t n = strlen(k->domain);
        if (k->domain[n - 1] == '*') {
            /* one more label, of what a DNS label may have: "gmx.fr", not
             * "gmx.co.uk" nor "gmx.*" */
            if (!strncmp(domain, k->domain, n - 1) && domain[n - 1]
                && !domain[n - 1 + strspn(domain + n - 1, LABEL_CHARS)]) {
                return k;
            }
        }
        else if (!strcmp(domain, k->domain)) {
            return k;
        }
    }
    return NULL;
}

apr_status_t cn_providers_find(cn_ctx_t *ctx, json_t **out)
{
    apr_array_header_t *rows;
    const char *args[1] = {ctx->app_id};
    int i;
    if (cn_db_select(ctx->pool, ctx->db, "cn_integration_providers", 1, args, &rows)
        != APR_SUCCESS) {
        return cn_fail_db(ctx);
    }
    *out = cn_json_own(ctx->pool, json_array());
    for (i = 0; i < rows->nelts; ++i) {
        json_array_append_new(*out, json_pack("{s:s}", "provider",
                                              APR_ARRAY_IDX(rows, i, cn_row_t *)->cols[0]));
    }
    return APR_SUCCESS;
}

apr_status_t cn_providers_detect(cn_ctx_t *ctx, const char *email, int all_provider_types,
                                 json_t **out)
{
    const cn_known_domain_t *k;
    int detected = 0;
    json_t *data;
    if (!cn_email_valid(email)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "email must be an address of the form local@domain");
    }
    k = cn_providers_lookup(ctx->pool, email);
    data = cn_json_own(ctx->pool, json_pack("{s:s}", "email", email));
    if (k) {
        cn_integration_t *it;
        apr_status_t rv = APR_SUCCESS;
        if (!all_provider_types) {
            rv = cn_integration_load(ctx, k->provider, &it);
            if (rv != APR_SUCCESS && rv != APR_ENOENT) {
                return cn_fail_db(ctx);
            }
        }
        detected = rv == APR_SUCCESS;
        json_object_set_new(data, "provider", json_string(k->provider));
        json_object_set_new(data, "type", json_string(k->type));
        if (k->imap_host) {
            json_object_set_new(data, "settings",
                                json_pack("{s:s,s:i,s:s}", "imap_host", k->imap_host,
                                          "imap_port", k->imap_port, "imap_security", "ssl"));
        }
    }
    json_object_set_new(data, "detected", json_boolean(detected));
    *out = data;
    return APR_SUCCESS;
}
