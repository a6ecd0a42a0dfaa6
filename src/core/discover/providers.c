#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "cn_util.h"
#include "cn_discover.h"
#include "cn_model.h"

/* What a DNS label may have (the domain is lowercased first). */
#define LABEL_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-"

/* The providers' own guides, for those that refuse the account password
 * over IMAP (an app password, or IMAP to be turned on first). */
#define HINT_YAHOO "https://help.yahoo.com/kb/SLN15241.html"
#define HINT_ICLOUD "https://support.apple.com/en-us/102654"
#define HINT_AOL "https://help.aol.com/articles/Create-and-manage-app-password"
#define HINT_FASTMAIL "https://www.fastmail.help/hc/en-us/articles/360058752854-App-passwords"
#define HINT_GMX_DE "https://hilfe.gmx.net/pop-imap/einschalten.html"
#define HINT_GMX_COM "https://support.gmx.com/pop-imap/toggle.html"
#define HINT_WEBDE "https://hilfe.web.de/pop-imap/einschalten.html"
#define HINT_ZOHO "https://www.zoho.com/mail/help/imap-access.html"
#define HINT_YANDEX "https://yandex.com/support/id/authorization/app-passwords.html"
#define HINT_MAILRU "https://help.mail.ru/mail/security/protection/external"

#define GOOGLE(d) {d, "google", "google", NULL, 0, NULL}
#define MICROSOFT(d) {d, "microsoft", "microsoft", NULL, 0, NULL}
#define IMAP(d, type, host, hint) {d, "imap", type, host, 993, hint}

/* Consumer domains, and the domains of the hosts that receive mail for
 * hosted domains (an MX host's registrable domain is looked up here too:
 * yahoodns.net, messagingengine.com, ...). */
static const cn_known_domain_t known[] = {
    GOOGLE("gmail.com"),
    GOOGLE("googlemail.com"),
    MICROSOFT("outlook.com"),
    MICROSOFT("outlook.de"),
    MICROSOFT("outlook.fr"),
    MICROSOFT("hotmail.com"),
    MICROSOFT("hotmail.co.uk"),
    MICROSOFT("hotmail.de"),
    MICROSOFT("hotmail.fr"),
    MICROSOFT("hotmail.it"),
    MICROSOFT("hotmail.es"),
    MICROSOFT("live.com"),
    MICROSOFT("live.co.uk"),
    MICROSOFT("live.fr"),
    MICROSOFT("msn.com"),
    IMAP("yahoo.com", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("yahoo.co.uk", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("yahoo.ca", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("yahoo.de", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("yahoo.fr", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("yahoo.it", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("yahoo.es", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("ymail.com", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("rocketmail.com", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("yahoodns.net", "yahoo", "imap.mail.yahoo.com", HINT_YAHOO),
    IMAP("icloud.com", "icloud", "imap.mail.me.com", HINT_ICLOUD),
    IMAP("me.com", "icloud", "imap.mail.me.com", HINT_ICLOUD),
    IMAP("mac.com", "icloud", "imap.mail.me.com", HINT_ICLOUD),
    IMAP("aol.com", "aol", "imap.aol.com", HINT_AOL),
    IMAP("aim.com", "aol", "imap.aol.com", HINT_AOL),
    IMAP("fastmail.com", "fastmail", "imap.fastmail.com", HINT_FASTMAIL),
    IMAP("fastmail.fm", "fastmail", "imap.fastmail.com", HINT_FASTMAIL),
    IMAP("messagingengine.com", "fastmail", "imap.fastmail.com", HINT_FASTMAIL),
    IMAP("gmx.de", "gmx", "imap.gmx.net", HINT_GMX_DE),
    IMAP("gmx.net", "gmx", "imap.gmx.net", HINT_GMX_DE),
    IMAP("gmx.at", "gmx", "imap.gmx.net", HINT_GMX_DE),
    IMAP("gmx.ch", "gmx", "imap.gmx.net", HINT_GMX_DE),
    IMAP("gmx.*", "gmx", "imap.gmx.com", HINT_GMX_COM),
    IMAP("web.de", "webde", "imap.web.de", HINT_WEBDE),
    IMAP("zoho.com", "zoho", "imap.zoho.com", HINT_ZOHO),
    IMAP("zohomail.com", "zoho", "imap.zoho.com", HINT_ZOHO),
    IMAP("zoho.eu", "zoho", "imap.zoho.eu", HINT_ZOHO),
    IMAP("yandex.com", "yandex", "imap.yandex.com", HINT_YANDEX),
    IMAP("yandex.ru", "yandex", "imap.yandex.com", HINT_YANDEX),
    IMAP("ya.ru", "yandex", "imap.yandex.com", HINT_YANDEX),
    IMAP("yandex.net", "yandex", "imap.yandex.com", HINT_YANDEX),
    IMAP("mail.ru", "mailru", "imap.mail.ru", HINT_MAILRU),
    IMAP("inbox.ru", "mailru", "imap.mail.ru", HINT_MAILRU),
    IMAP("list.ru", "mailru", "imap.mail.ru", HINT_MAILRU),
    IMAP("bk.ru", "mailru", "imap.mail.ru", HINT_MAILRU),
    IMAP("comcast.net", "comcast", "imap.comcast.net", NULL),
    {NULL, NULL, NULL, NULL, 0, NULL}
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
    if (!cn_email_valid(email)) {
        return NULL;
    }
    return cn_providers_lookup_domain(pool, strchr(email, '@') + 1);
}

const cn_known_domain_t *cn_providers_of_type(const char *type)
{
    const cn_known_domain_t *k;
    for (k = known; type && k->domain; ++k) {
        if (k->imap_host && !strcmp(k->type, type)) {
            return k;
        }
    }
    return NULL;
}

const cn_known_domain_t *cn_providers_lookup_domain(apr_pool_t *pool, const char *domain)
{
    const cn_known_domain_t *k;
    if (!domain) {
        return NULL;
    }
    domain = cn_lower(pool, domain);
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
    cn_mail_settings_t *ms = NULL;
    int detected = 0;
    apr_status_t rv;
    json_t *data;
    if (!cn_email_valid(email)) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_QUERY_PARAMS,
                       "email must be an address of the form local@domain");
    }
    /* the network first, with no database handle held */
    rv = cn_discover(ctx, email, &ms);
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        return rv;
    }
    data = cn_json_own(ctx->pool, json_pack("{s:s}", "email", email));
    if (ms) {
        if (all_provider_types) {
            detected = 1;
        }
        else {
            cn_integration_t *it;
            if (cn_ctx_db_open(ctx) != APR_SUCCESS) {
                return APR_EGENERAL;
            }
            rv = cn_integration_load(ctx, ms->provider, &it);
            if (rv != APR_SUCCESS && rv != APR_ENOENT) {
                rv = cn_fail_db(ctx);
                cn_ctx_db_close(ctx);
                return rv;
            }
            cn_ctx_db_close(ctx);
            detected = rv == APR_SUCCESS;
        }
        json_object_set_new(data, "provider", json_string(ms->provider));
        json_object_set_new(data, "type", json_string(ms->type));
        json_object_set_new(data, "source", json_string(ms->source));
        if (ms->imap_host) {
            json_t *settings = json_pack("{s:s,s:i,s:s,s:s}", "imap_host", ms->imap_host,
                                         "imap_port", ms->imap_port, "imap_security",
                                         ms->security, "imap_username", ms->username);
            if (settings && ms->hint_url) {
                json_object_set_new(settings, "app_password_url", json_string(ms->hint_url));
            }
            json_object_set_new(data, "settings", settings);
        }
    }
    json_object_set_new(data, "detected", json_boolean(detected));
    *out = data;
    return APR_SUCCESS;
}
