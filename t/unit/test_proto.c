/* Unit tests of include/cn_proto.h without a provider: which requested
 * scopes a provider did not grant, the authorize URL and the endpoints it
 * is built on (tenants, ConnectProviderEndpoint overrides), query strings
 * and form bodies, and the claims of a JWT. */
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_base64.h>

#include "cn_proto.h"
#include "cn_test.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* TEXT parsed as JSON, owned by the test's pool. */
static json_t *json_of(const char *text)
{
    const char *err = NULL;
    json_t *j = cn_json_parse(pool, text, strlen(text), &err);
    ck_assert_msg(j != NULL, "fixture %s is not JSON: %s", text, err ? err : "?");
    return j;
}

/* A string of N copies of C. */
static char *repeat(char c, apr_size_t n)
{
    char *s = apr_palloc(pool, n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- cn_oauth_missing_scope ------------------------------------------- */

#define G_EMAIL "https://www.googleapis.com/auth/userinfo.email"
#define G_PROFILE "https://www.googleapis.com/auth/userinfo.profile"
#define G_MAIL "https://mail.google.com/"

static const struct scope_case {
    const char *name, *provider;
    const char *requested; /* a JSON array */
    const char *granted;   /* the token answer's scope, or NULL: none came */
    const char *missing;   /* the first requested scope not granted, as requested, or NULL */
} scope_cases[] = {
    {"google: granted verbatim", "google", "[\"" G_MAIL "\"]", G_MAIL, NULL},
    {"google: email granted as userinfo.email", "google", "[\"email\",\"" G_MAIL "\"]",
     G_MAIL " " G_EMAIL, NULL},
    {"google: profile granted as userinfo.profile", "google", "[\"profile\"]", G_PROFILE, NULL},
    {"google: userinfo.email asked, email granted", "google", "[\"" G_EMAIL "\"]", "email",
     NULL},
    {"google: userinfo.profile asked, profile granted", "google", "[\"" G_PROFILE "\"]",
     "openid profile", NULL},
    {"google: openid and offline_access are never echoed", "google",
     "[\"openid\",\"offline_access\",\"" G_MAIL "\"]", G_MAIL, NULL},
    {"google: runs of spaces between granted scopes", "google", "[\"" G_MAIL "\",\"email\"]",
     "  " G_MAIL "   " G_EMAIL " ", NULL},
    {"google: nothing asked", "google", "[]", "", NULL},
    {"google: granted NULL trusts the consent screen", "google",
     "[\"" G_MAIL "\",\"email\",\"https://www.googleapis.com/auth/calendar\"]", NULL, NULL},
    {"google: email not granted", "google", "[\"email\"]", G_MAIL, "email"},
    {"google: profile does not stand for email", "google", "[\"email\"]", G_PROFILE, "email"},
    {"google: email does not stand for profile", "google", "[\"profile\"]", "email", "profile"},
    {"google: the first missing one, as requested", "google",
     "[\"" G_MAIL "\",\"https://www.googleapis.com/auth/calendar\","
     "\"https://www.googleapis.com/auth/contacts\"]",
     G_MAIL, "https://www.googleapis.com/auth/calendar"},
    {"google: no prefix is stripped", "google",
     "[\"https://www.googleapis.com/auth/gmail.readonly\"]", "gmail.readonly",
     "https://www.googleapis.com/auth/gmail.readonly"},
    {"google: a prefix of a scope is not the scope", "google", "[\"" G_MAIL "\"]",
     "https://mail.google.com", G_MAIL},
    {"google: an empty answer grants nothing", "google", "[\"openid\",\"" G_MAIL "\"]", "",
     G_MAIL},
    {"google: offline_access asked, nothing else missing", "google",
     "[\"offline_access\",\"email\"]", "openid", "email"},

    {"microsoft: Graph prefix on the granted side", "microsoft", "[\"Mail.Read\"]",
     "https://graph.microsoft.com/Mail.Read", NULL},
    {"microsoft: Graph prefix on the requested side", "microsoft",
     "[\"https://graph.microsoft.com/Mail.Read\"]", "Mail.Read User.Read", NULL},
    {"microsoft: Graph prefix in any case, granted", "microsoft", "[\"Mail.Send\"]",
     "hTTps://GRAPH.microsoft.com/Mail.Send", NULL},
    {"microsoft: Graph prefix in any case, requested", "microsoft",
     "[\"HTTPS://Graph.Microsoft.COM/Mail.Send\"]", "https://graph.microsoft.com/mail.send",
     NULL},
    {"microsoft: scope names in any case", "microsoft", "[\"mail.send\",\"USER.READ\"]",
     "Mail.Send User.Read", NULL},
    {"microsoft: openid, offline_access, email, profile never echoed", "microsoft",
     "[\"openid\",\"offline_access\",\"email\",\"profile\",\"Mail.Read\"]", "Mail.Read", NULL},
    {"microsoft: only OpenID scopes asked, nothing granted", "microsoft",
     "[\"openid\",\"email\",\"profile\",\"offline_access\"]", "", NULL},
    {"microsoft: another resource echoed with its prefix", "microsoft",
     "[\"https://outlook.office.com/IMAP.AccessAsUser.All\"]",
     "https://outlook.office.com/IMAP.AccessAsUser.All", NULL},
    {"microsoft: granted NULL trusts the consent screen", "microsoft",
     "[\"Mail.Read\",\"Mail.Send\"]", NULL, NULL},
    {"microsoft: a missing one, as requested", "microsoft", "[\"Mail.Read\",\"Mail.Send\"]",
     "https://graph.microsoft.com/Mail.Read offline_access", "Mail.Send"},
    {"microsoft: Graph does not stand for Outlook", "microsoft",
     "[\"https://outlook.office.com/IMAP.AccessAsUser.All\"]", "IMAP.AccessAsUser.All",
     "https://outlook.office.com/IMAP.AccessAsUser.All"},
    {"microsoft: a look-alike host is not Graph", "microsoft", "[\"Mail.Read\"]",
     "https://graph.microsoft.com.evil.example/Mail.Read", "Mail.Read"},
    {"microsoft: a prefix without its slash is not Graph", "microsoft", "[\"Mail.Read\"]",
     "https://graph.microsoft.comMail.Read", "Mail.Read"},
    {"microsoft: an empty answer grants nothing", "microsoft", "[\"openid\",\"Mail.Read\"]", "",
     "Mail.Read"},
};

START_TEST(test_missing_scope)
{
    const struct scope_case *c = &scope_cases[_i];
    const char *got = cn_oauth_missing_scope(pool, c->provider, json_of(c->requested), c->granted);
    if (c->missing) {
        ck_assert_msg(got != NULL, "%s: nothing reported missing", c->name);
        ck_assert_msg(!strcmp(got, c->missing), "%s: \"%s\" reported, expected \"%s\"", c->name,
                      got, c->missing);
    }
    else {
        ck_assert_msg(got == NULL, "%s: \"%s\" reported missing", c->name, got);
    }
}
END_TEST

/* ---- endpoints -------------------------------------------------------- */

#define MS_LOGIN "https://login.microsoftonline.com/"
#define GUID "72f988bf-86f1-41af-91ab-2d7cd011db47"

static const struct endpoint_case {
    const char *name;
    const char *provider, *endpoint, *tenant;
    const char *override_key, *override_url; /* ctx.endpoints, or NULL */
    const char *url;                         /* expected, or NULL */
} endpoint_cases[] = {
    {"google authorize", "google", "authorize", NULL, NULL, NULL,
     "https://accounts.google.com/o/oauth2/v2/auth"},
    {"google token", "google", "token", NULL, NULL, NULL, "https://oauth2.googleapis.com/token"},
    {"google userinfo", "google", "userinfo", NULL, NULL, NULL,
     "https://openidconnect.googleapis.com/v1/userinfo"},
    {"google revoke", "google", "revoke", NULL, NULL, NULL,
     "https://oauth2.googleapis.com/revoke"},
    {"google has no tenant: one is ignored", "google", "token", "../evil", NULL, NULL,
     "https://oauth2.googleapis.com/token"},
    {"google has no adminconsent", "google", "adminconsent", NULL, NULL, NULL, NULL},
    {"microsoft authorize, no tenant: common", "microsoft", "authorize", NULL, NULL, NULL,
     MS_LOGIN "common/oauth2/v2.0/authorize"},
    {"microsoft token, tenant organizations", "microsoft", "token", "organizations", NULL, NULL,
     MS_LOGIN "organizations/oauth2/v2.0/token"},
    {"microsoft adminconsent, a GUID tenant", "microsoft", "adminconsent", GUID, NULL, NULL,
     MS_LOGIN GUID "/v2.0/adminconsent"},
    {"microsoft: a DNS tenant kept as spelt", "microsoft", "token", "Contoso.OnMicrosoft.com",
     NULL, NULL, MS_LOGIN "Contoso.OnMicrosoft.com/oauth2/v2.0/token"},
    {"microsoft userinfo", "microsoft", "userinfo", NULL, NULL, NULL,
     "https://graph.microsoft.com/v1.0/me"},
    {"microsoft graph has no tenant: a bad one is ignored", "microsoft", "graph", "a/b", NULL,
     NULL, "https://graph.microsoft.com/v1.0"},
    {"microsoft has no revoke", "microsoft", "revoke", NULL, NULL, NULL, NULL},
    {"an unknown endpoint", "microsoft", "jwks", NULL, NULL, NULL, NULL},
    {"an unknown provider", "yahoo", "token", NULL, NULL, NULL, NULL},
    {"microsoft: a bad tenant", "microsoft", "token", "../../evil?x=", NULL, NULL, NULL},
    {"microsoft: a tenant with a slash", "microsoft", "authorize", "contoso.example/x", NULL,
     NULL, NULL},
    {"microsoft: a tenant with a query", "microsoft", "authorize", "contoso.example?x=1", NULL,
     NULL, NULL},
    {"microsoft: a tenant with a fragment", "microsoft", "authorize", "contoso.example#x", NULL,
     NULL, NULL},
    {"microsoft: a tenant already percent-encoded", "microsoft", "adminconsent", "%2e%2e", NULL,
     NULL, NULL},
    {"microsoft: a tenant with CR LF", "microsoft", "token", "a.example\r\nX: 1", NULL, NULL,
     NULL},
    {"microsoft: an empty tenant", "microsoft", "token", "", NULL, NULL, NULL},
    {"microsoft: a one-label tenant", "microsoft", "token", "contoso", NULL, NULL, NULL},
    {"override: google token", "google", "token", NULL, "google:token",
     "http://127.0.0.1:8443/google/token", "http://127.0.0.1:8443/google/token"},
    {"override of another endpoint leaves this one", "google", "authorize", NULL, "google:token",
     "http://127.0.0.1:8443/google/token", "https://accounts.google.com/o/oauth2/v2/auth"},
    {"override of another provider leaves this one", "microsoft", "token", NULL, "google:token",
     "http://127.0.0.1:8443/google/token", MS_LOGIN "common/oauth2/v2.0/token"},
    {"override with {tenant}", "microsoft", "token", "contoso.example", "microsoft:token",
     "https://127.0.0.1:8443/microsoft/{tenant}/oauth2/v2.0/token",
     "https://127.0.0.1:8443/microsoft/contoso.example/oauth2/v2.0/token"},
    {"override with {tenant}, no tenant: common", "microsoft", "authorize", NULL,
     "microsoft:authorize", "https://127.0.0.1:8443/ms/{tenant}/authorize",
     "https://127.0.0.1:8443/ms/common/authorize"},
    {"override with {tenant}: a bad tenant", "microsoft", "authorize", "a/b",
     "microsoft:authorize", "https://127.0.0.1:8443/ms/{tenant}/authorize", NULL},
    {"override without {tenant}: the tenant is not used", "microsoft", "token", "contoso.example",
     "microsoft:token", "https://127.0.0.1:8443/ms/token", "https://127.0.0.1:8443/ms/token"},
    {"override without {tenant}: a bad one is not looked at", "microsoft", "token", "a/b",
     "microsoft:token", "https://127.0.0.1:8443/ms/token", "https://127.0.0.1:8443/ms/token"},
    {"override of an endpoint without a default", "microsoft", "revoke", NULL,
     "microsoft:revoke", "https://127.0.0.1:8443/ms/revoke", "https://127.0.0.1:8443/ms/revoke"},
};

static cn_ctx_t *ctx_make(const char *override_key, const char *override_url)
{
    cn_ctx_t *ctx = apr_pcalloc(pool, sizeof(*ctx));
    ctx->pool = pool;
    ctx->base_url = "https://connect.example";
    if (override_key) {
        apr_table_t *t = apr_table_make(pool, 2);
        apr_table_set(t, override_key, override_url);
        ctx->endpoints = t;
    }
    return ctx;
}

START_TEST(test_endpoint)
{
    const struct endpoint_case *c = &endpoint_cases[_i];
    cn_ctx_t *ctx = ctx_make(c->override_key, c->override_url);
    const char *url = cn_oauth_endpoint(ctx, c->provider, c->endpoint, c->tenant);
    if (c->url) {
        ck_assert_msg(url != NULL, "%s: no URL", c->name);
        ck_assert_msg(!strcmp(url, c->url), "%s: %s, expected %s", c->name, url, c->url);
    }
    else {
        ck_assert_msg(url == NULL, "%s: %s", c->name, url);
    }
}
END_TEST

/* ---- cn_oauth_authorize_url ------------------------------------------ */

/* The parameters of an authorize URL, in this order in a case's WANT. */
static const char *const az_names[] = {
    "client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
    "code_challenge_method", "login_hint", "access_type", "prompt", "include_granted_scopes",
    "response_mode",
};
#define AZ_N 12

#define STATE "st/a+t=e&x?y#z %"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define REDIRECT "https://connect.example/callback"
#define G_AUTH "https://accounts.google.com/o/oauth2/v2/auth?"
#define MS_AUTH(t) MS_LOGIN t "/oauth2/v2.0/authorize?"
#define G_FIXED(cid) cid, REDIRECT, "code"
#define G_PKCE STATE, CHALLENGE, "S256"

static const struct az_case {
    const char *name, *provider;
    const char *settings, *scope; /* JSON */
    const char *login_hint;
    const char *override_key, *override_url;
    const char *prefix; /* the URL up to the first parameter of ours */
    const char *want[AZ_N];
} az_cases[] = {
    {"google", "google", "{\"client_id\":\"cid-g\"}", "[\"" G_MAIL "\"]", "ann@example.com",
     NULL, NULL, G_AUTH,
     {G_FIXED("cid-g"), G_MAIL " openid " G_EMAIL, G_PKCE, "ann@example.com", "offline",
      "consent", "true", NULL}},
    {"google: email asked: no userinfo.email added", "google", "{\"client_id\":\"cid-g\"}",
     "[\"email\",\"openid\",\"" G_MAIL "\"]", NULL, NULL, NULL, G_AUTH,
     {G_FIXED("cid-g"), "email openid " G_MAIL, G_PKCE, NULL, "offline", "consent", "true",
      NULL}},
    {"google: userinfo.email asked: only openid added", "google", "{\"client_id\":\"cid-g\"}",
     "[\"" G_EMAIL "\"]", NULL, NULL, NULL, G_AUTH,
     {G_FIXED("cid-g"), G_EMAIL " openid", G_PKCE, NULL, "offline", "consent", "true", NULL}},
    {"google: nothing asked", "google", "{\"client_id\":\"cid-g\"}", "[]", "", NULL, NULL, G_AUTH,
     {G_FIXED("cid-g"), "openid " G_EMAIL, G_PKCE, NULL, "offline", "consent", "true", NULL}},
    {"google: always consent, whatever the settings", "google",
     "{\"client_id\":\"cid-g\",\"prompt\":\"select_account\",\"tenant\":\"a/b\"}",
     "[\"" G_MAIL "\"]", NULL, NULL, NULL, G_AUTH,
     {G_FIXED("cid-g"), G_MAIL " openid " G_EMAIL, G_PKCE, NULL, "offline", "consent", "true",
      NULL}},
    {"google: endpoint override", "google", "{\"client_id\":\"cid-g\"}", "[\"email\"]",
     "b@example.com", "google:authorize", "https://127.0.0.1:8443/google/authorize",
     "https://127.0.0.1:8443/google/authorize?",
     {G_FIXED("cid-g"), "email openid", G_PKCE, "b@example.com", "offline", "consent", "true",
      NULL}},
    {"google: an override with a query gets '&'", "google", "{\"client_id\":\"cid-g\"}",
     "[\"email\"]", NULL, "google:authorize", "https://127.0.0.1:8443/auth?hd=example.com",
     "https://127.0.0.1:8443/auth?hd=example.com&",
     {G_FIXED("cid-g"), "email openid", G_PKCE, NULL, "offline", "consent", "true", NULL}},

    {"microsoft", "microsoft", "{\"client_id\":\"cid-m\"}",
     "[\"https://graph.microsoft.com/Mail.Read\"]", "carol@contoso.example", NULL, NULL,
     MS_AUTH("common"),
     {G_FIXED("cid-m"), "https://graph.microsoft.com/Mail.Read openid email offline_access",
      G_PKCE, "carol@contoso.example", NULL, "select_account", NULL, "query"}},
    {"microsoft: the OpenID scopes asked: none added", "microsoft", "{\"client_id\":\"cid-m\"}",
     "[\"offline_access\",\"Mail.Read\",\"email\",\"openid\"]", NULL, NULL, NULL,
     MS_AUTH("common"),
     {G_FIXED("cid-m"), "offline_access Mail.Read email openid", G_PKCE, NULL, NULL,
      "select_account", NULL, "query"}},
    {"microsoft: nothing asked", "microsoft", "{\"client_id\":\"cid-m\"}", "[]", "", NULL, NULL,
     MS_AUTH("common"),
     {G_FIXED("cid-m"), "openid email offline_access", G_PKCE, NULL, NULL, "select_account",
      NULL, "query"}},
    {"microsoft: prompt=consent in the settings", "microsoft",
     "{\"client_id\":\"cid-m\",\"prompt\":\"consent\"}", "[\"Mail.Read\"]", NULL, NULL, NULL,
     MS_AUTH("common"),
     {G_FIXED("cid-m"), "Mail.Read openid email offline_access", G_PKCE, NULL, NULL, "consent",
      NULL, "query"}},
    {"microsoft: another prompt setting: select_account", "microsoft",
     "{\"client_id\":\"cid-m\",\"prompt\":\"none\"}", "[\"Mail.Read\"]", NULL, NULL, NULL,
     MS_AUTH("common"),
     {G_FIXED("cid-m"), "Mail.Read openid email offline_access", G_PKCE, NULL, NULL,
      "select_account", NULL, "query"}},
    {"microsoft: prompt=Consent is not consent", "microsoft",
     "{\"client_id\":\"cid-m\",\"prompt\":\"Consent\"}", "[\"Mail.Read\"]", NULL, NULL, NULL,
     MS_AUTH("common"),
     {G_FIXED("cid-m"), "Mail.Read openid email offline_access", G_PKCE, NULL, NULL,
      "select_account", NULL, "query"}},
    {"microsoft: a prompt that is not a string", "microsoft",
     "{\"client_id\":\"cid-m\",\"prompt\":true}", "[\"Mail.Read\"]", NULL, NULL, NULL,
     MS_AUTH("common"),
     {G_FIXED("cid-m"), "Mail.Read openid email offline_access", G_PKCE, NULL, NULL,
      "select_account", NULL, "query"}},
    {"microsoft: a DNS tenant", "microsoft",
     "{\"client_id\":\"cid-m\",\"tenant\":\"contoso.onmicrosoft.com\"}", "[\"Mail.Read\"]", NULL,
     NULL, NULL, MS_AUTH("contoso.onmicrosoft.com"),
     {G_FIXED("cid-m"), "Mail.Read openid email offline_access", G_PKCE, NULL, NULL,
      "select_account", NULL, "query"}},
    {"microsoft: a GUID tenant", "microsoft", "{\"client_id\":\"cid-m\",\"tenant\":\"" GUID "\"}",
     "[\"Mail.Read\"]", NULL, NULL, NULL, MS_AUTH(GUID),
     {G_FIXED("cid-m"), "Mail.Read openid email offline_access", G_PKCE, NULL, NULL,
      "select_account", NULL, "query"}},
    {"microsoft: a tenant that is not a string: common", "microsoft",
     "{\"client_id\":\"cid-m\",\"tenant\":42}", "[\"Mail.Read\"]", NULL, NULL, NULL,
     MS_AUTH("common"),
     {G_FIXED("cid-m"), "Mail.Read openid email offline_access", G_PKCE, NULL, NULL,
      "select_account", NULL, "query"}},
    {"microsoft: endpoint override with {tenant}", "microsoft",
     "{\"client_id\":\"cid-m\",\"tenant\":\"organizations\"}", "[\"Mail.Read\"]", NULL,
     "microsoft:authorize", "https://127.0.0.1:8443/microsoft/{tenant}/oauth2/v2.0/authorize",
     "https://127.0.0.1:8443/microsoft/organizations/oauth2/v2.0/authorize?",
     {G_FIXED("cid-m"), "Mail.Read openid email offline_access", G_PKCE, NULL, NULL,
      "select_account", NULL, "query"}},
    {"microsoft: an override with a query gets '&'", "microsoft", "{\"client_id\":\"cid-m\"}",
     "[\"Mail.Read\"]", NULL, "microsoft:authorize", "https://login.example.test/{tenant}/a?p=1",
     "https://login.example.test/common/a?p=1&",
     {G_FIXED("cid-m"), "Mail.Read openid email offline_access", G_PKCE, NULL, NULL,
      "select_account", NULL, "query"}},
};

/* The characters an encoded query value may have (APR's urlencoded form). */
#define QUERY_SAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._*%+"

/* The parameters of QUERY (name=value&...) decoded, in a table: every one
 * must be encoded, and come once. */
static apr_table_t *query_params(const char *what, const char *query)
{
    apr_table_t *t = apr_table_make(pool, 16);
    char *copy = apr_pstrdup(pool, query), *pair, *state = NULL;
    for (pair = apr_strtok(copy, "&", &state); pair; pair = apr_strtok(NULL, "&", &state)) {
        char *eq = strchr(pair, '=');
        const char *name, *value;
        ck_assert_msg(eq != NULL, "%s: parameter without '=': %s", what, pair);
        *eq = '\0';
        ck_assert_msg(pair[strspn(pair, QUERY_SAFE)] == '\0' && eq[1 + strspn(eq + 1, QUERY_SAFE)] == '\0',
                      "%s: %s=%s is not encoded", what, pair, eq + 1);
        name = apr_punescape_url(pool, pair, NULL, NULL, 1);
        value = apr_punescape_url(pool, eq + 1, NULL, NULL, 1);
        ck_assert_msg(name && value, "%s: %s=%s does not decode", what, pair, eq + 1);
        ck_assert_msg(apr_table_get(t, name) == NULL, "%s: %s twice", what, name);
        apr_table_add(t, name, value);
    }
    return t;
}

START_TEST(test_authorize_url)
{
    const struct az_case *c = &az_cases[_i];
    cn_ctx_t *ctx = ctx_make(c->override_key, c->override_url);
    cn_integration_t it = {0};
    const char *url;
    apr_table_t *params;
    int k, want_n = 0;

    it.provider = c->provider;
    it.settings = json_of(c->settings);
    url = cn_oauth_authorize_url(ctx, &it, json_of(c->scope), STATE, CHALLENGE, c->login_hint);
    ck_assert_msg(url != NULL, "%s: no URL", c->name);
    ck_assert_msg(!strncmp(url, c->prefix, strlen(c->prefix)), "%s: %s does not start with %s",
                  c->name, url, c->prefix);
    params = query_params(c->name, url + strlen(c->prefix));
    for (k = 0; k < AZ_N; ++k) {
        const char *got = apr_table_get(params, az_names[k]);
        if (c->want[k]) {
            ++want_n;
            ck_assert_msg(got != NULL, "%s: no %s", c->name, az_names[k]);
            ck_assert_msg(!strcmp(got, c->want[k]), "%s: %s=\"%s\", expected \"%s\"", c->name,
                          az_names[k], got, c->want[k]);
        }
        else {
            ck_assert_msg(got == NULL, "%s: %s=\"%s\" should not be there", c->name, az_names[k],
                          got);
        }
    }
    ck_assert_msg(apr_table_elts(params)->nelts == want_n, "%s: %d parameters, expected %d",
                  c->name, apr_table_elts(params)->nelts, want_n);
}
END_TEST

/* A tenant that is not one gives no URL, with or without an override. */
static const char *const bad_tenants[] = {
    "../evil", "a/b", "contoso.example/x", "contoso.example?x=1", "contoso.example#x",
    "%2e%2e", "a b.example", "a.example\r\nX-Injected: 1", "", "contoso", "commons",
    "-a.example", "caf\xc3\xa9.example", "{tenant}",
};

START_TEST(test_authorize_url_bad_tenant)
{
    const char *tenant = bad_tenants[_i];
    cn_integration_t it = {0};
    json_t *scope = json_of("[\"Mail.Read\"]");
    it.provider = "microsoft";
    it.settings = cn_json_own(pool, json_pack("{s:s,s:s}", "client_id", "cid-m", "tenant", tenant));
    ck_assert_ptr_nonnull(it.settings);
    ck_assert_msg(cn_oauth_authorize_url(ctx_make(NULL, NULL), &it, scope, "st", "cc", NULL) == NULL,
                  "tenant \"%s\" gave a URL", tenant);
    ck_assert_msg(cn_oauth_authorize_url(ctx_make("microsoft:authorize",
                                                  "https://127.0.0.1:8443/{tenant}/authorize"),
                                         &it, scope, "st", "cc", NULL) == NULL,
                  "tenant \"%s\" gave a URL through an override", tenant);
    /* the same tenant in a Google integration's settings means nothing */
    it.provider = "google";
    ck_assert_ptr_nonnull(cn_oauth_authorize_url(ctx_make(NULL, NULL), &it, scope, "st", "cc", NULL));
}
END_TEST

/* ---- query strings and form bodies ------------------------------------ */

/* Every character RFC 3986 reserves (gen-delims, sub-delims), and the others
 * that must not appear raw: each escaped in names and values alike (APR's
 * urlencoded form keeps '*', which RFC 3986 allows in a query). */
static const struct char_case {
    const char *raw, *encoded;
} char_cases[] = {
    {":", "%3a"}, {"/", "%2f"}, {"?", "%3f"}, {"#", "%23"}, {"[", "%5b"}, {"]", "%5d"},
    {"@", "%40"}, {"!", "%21"}, {"$", "%24"}, {"&", "%26"}, {"'", "%27"}, {"(", "%28"},
    {")", "%29"}, {"*", "*"}, {"+", "%2b"}, {",", "%2c"}, {";", "%3b"}, {"=", "%3d"},
    {"%", "%25"}, {" ", "+"}, {"\"", "%22"}, {"<", "%3c"}, {">", "%3e"}, {"\\", "%5c"},
    {"^", "%5e"}, {"`", "%60"}, {"{", "%7b"}, {"|", "%7c"}, {"}", "%7d"}, {"~", "%7e"},
    {"\t", "%09"}, {"\r", "%0d"}, {"\n", "%0a"}, {"\x7f", "%7f"}, {"\xc3\xa9", "%c3%a9"},
    {"-", "-"}, {".", "."}, {"_", "_"}, {"aZ09", "aZ09"},
};

START_TEST(test_encode_char)
{
    const struct char_case *c = &char_cases[_i];
    const char *pairs[] = {c->raw, c->raw, NULL, NULL};
    const char *want = apr_pstrcat(pool, c->encoded, "=", c->encoded, NULL);
    const char *form = cn_http_form(pool, pairs);
    const char *url = cn_http_url_with_query(pool, "https://app.example/cb", pairs);
    ck_assert_msg(!strcmp(form, want), "form of \"%s\": %s, expected %s", c->raw, form, want);
    ck_assert_msg(!strcmp(url, apr_pstrcat(pool, "https://app.example/cb?", want, NULL)),
                  "URL with \"%s\": %s", c->raw, url);
    ck_assert_str_eq(apr_punescape_url(pool, c->encoded, NULL, NULL, 1), c->raw);
}
END_TEST

static const struct pairs_case {
    const char *name;
    const char *url;
    const char *pairs[11]; /* name, value, ...; a NULL name ends them */
    const char *want_url, *want_form;
} pairs_cases[] = {
    {"one pair", "https://app.example/cb", {"a", "1"}, "https://app.example/cb?a=1", "a=1"},
    {"pairs joined by '&', in order", "https://app.example/cb", {"b", "2", "a", "1", "c", "3"},
     "https://app.example/cb?b=2&a=1&c=3", "b=2&a=1&c=3"},
    {"NULL values skipped", "https://app.example/cb",
     {"a", NULL, "b", "2", "c", NULL, "d", "4", "e", NULL},
     "https://app.example/cb?b=2&d=4", "b=2&d=4"},
    {"an empty value is kept", "https://app.example/cb", {"a", "", "b", "x"},
     "https://app.example/cb?a=&b=x", "a=&b=x"},
    {"an existing query gets '&'", "https://app.example/cb?x=1", {"a", "1"},
     "https://app.example/cb?x=1&a=1", "a=1"},
    {"an existing query, values skipped", "https://app.example/cb?x=1&y=2",
     {"a", NULL, "b", "y z"}, "https://app.example/cb?x=1&y=2&b=y+z", "b=y+z"},
    {"a native app's URI", "com.example.app:/oauth", {"code", "c/1"},
     "com.example.app:/oauth?code=c%2f1", "code=c%2f1"},
    {"values with what would split them", "https://app.example/cb",
     {"state", "a&b=c", "x", "1+1 2"}, "https://app.example/cb?state=a%26b%3dc&x=1%2b1+2",
     "state=a%26b%3dc&x=1%2b1+2"},
    {"CR LF encoded", "https://app.example/cb", {"v", "a\r\nLocation: x"},
     "https://app.example/cb?v=a%0d%0aLocation%3a+x", "v=a%0d%0aLocation%3a+x"},
    {"every value NULL: the URL unchanged", "https://app.example/cb?x=1", {"a", NULL, "b", NULL},
     "https://app.example/cb?x=1", ""},
    {"no pairs: the URL unchanged", "https://app.example/cb", {NULL},
     "https://app.example/cb", ""},
    {"no pairs, a query: the URL unchanged", "https://app.example/cb?x=1", {NULL},
     "https://app.example/cb?x=1", ""},
};

START_TEST(test_pairs)
{
    const struct pairs_case *c = &pairs_cases[_i];
    const char *url = cn_http_url_with_query(pool, c->url, c->pairs);
    const char *form = cn_http_form(pool, c->pairs);
    ck_assert_msg(!strcmp(url, c->want_url), "%s: URL %s, expected %s", c->name, url, c->want_url);
    ck_assert_msg(!strcmp(form, c->want_form), "%s: form \"%s\", expected \"%s\"", c->name, form,
                  c->want_form);
}
END_TEST

/* ---- cn_jwt_claims ----------------------------------------------------- */

#define JWT_H "eyJhbGciOiJSUzI1NiJ9" /* {"alg":"RS256"} */

static const struct jwt_case {
    const char *name, *jwt;
    const char *key, *value; /* a claim of the result; key NULL: no result */
} jwt_cases[] = {
    {"a JWT", JWT_H ".eyJzdWIiOiJTMSJ9.c2ln", "sub", "S1"},
    {"'-' of the url alphabet", JWT_H ".eyJ4IjoiPz8-PiJ9.c2ln", "x", "?\?>>"},
    {"'_' of the url alphabet", JWT_H ".eyJ4IjoiPz8_In0.c2ln", "x", "?\?\?"},
    {"no padding, two bytes short", JWT_H ".eyJ4IjoiPz8ifQ.c2ln", "x", "?\?"},
    {"an empty signature", JWT_H ".eyJzdWIiOiJTMSJ9.", "sub", "S1"},
    {"an empty header", ".eyJzdWIiOiJTMSJ9.c2ln", "sub", "S1"},
    {"'+' of standard base64", JWT_H ".eyJ4IjoiPz8+PiJ9.c2ln", NULL, NULL},
    {"'/' of standard base64", JWT_H ".eyJ4IjoiPz8/In0.c2ln", NULL, NULL},
    {"one '=' of padding", JWT_H ".eyJ4IjoiPz8_In0=.c2ln", NULL, NULL},
    {"two '=' of padding", JWT_H ".eyJ4IjoiPz8ifQ==.c2ln", NULL, NULL},
    {"a length of 1 mod 4", JWT_H ".eyJzdWIiOiJTMSJ9e.c2ln", NULL, NULL},
    {"white space in the payload", JWT_H ".eyJzdWIi OiJTMSJ9.c2ln", NULL, NULL},
    {"a line break in the payload", JWT_H ".eyJzdWIi\nOiJTMSJ9.c2ln", NULL, NULL},
    {"percent-encoding in the payload", JWT_H ".eyJzdWIiOiJTMSJ9%3D.c2ln", NULL, NULL},
    {"one segment", "eyJzdWIiOiJTMSJ9", NULL, NULL},
    {"two segments", JWT_H ".eyJzdWIiOiJTMSJ9", NULL, NULL},
    {"four segments", JWT_H ".eyJzdWIiOiJTMSJ9.c2ln.c2ln", NULL, NULL},
    {"four segments, the last empty", JWT_H ".eyJzdWIiOiJTMSJ9.c2ln.", NULL, NULL},
    {"five segments (a JWE)", JWT_H ".eyJzdWIiOiJTMSJ9.aXY.Y3Q.dGFn", NULL, NULL},
    {"an empty payload", JWT_H "..c2ln", NULL, NULL},
    {"dots only", "..", NULL, NULL},
    {"empty", "", NULL, NULL},
    {"a payload that is an array", JWT_H ".WyJzdWIiLCJTMSJd.c2ln", NULL, NULL},
    {"a payload that is a string", JWT_H ".IlMxIg.c2ln", NULL, NULL},
    {"a payload that is a number", JWT_H ".NDI.c2ln", NULL, NULL},
    {"a payload that is null", JWT_H ".bnVsbA.c2ln", NULL, NULL},
    {"a payload that is not JSON", JWT_H ".bm90IGpzb24.c2ln", NULL, NULL},
    {"text after the object", JWT_H ".eyJhIjoxfXg.c2ln", NULL, NULL},
    {"a NUL byte after the object", JWT_H ".eyJhIjoxfQA.c2ln", NULL, NULL},
    {"a claim twice", JWT_H ".eyJzdWIiOiJhIiwic3ViIjoiYiJ9.c2ln", NULL, NULL},
};

START_TEST(test_jwt_claims)
{
    const struct jwt_case *c = &jwt_cases[_i];
    json_t *claims = cn_jwt_claims(pool, c->jwt);
    if (c->key) {
        json_t *v;
        ck_assert_msg(claims != NULL, "%s: no claims", c->name);
        ck_assert_msg(json_is_object(claims), "%s: not an object", c->name);
        v = json_object_get(claims, c->key);
        ck_assert_msg(json_is_string(v) && !strcmp(json_string_value(v), c->value),
                      "%s: %s is not \"%s\"", c->name, c->key, c->value);
    }
    else {
        ck_assert_msg(claims == NULL, "%s: claims %s", c->name,
                      claims ? cn_json_dump(pool, claims) : "");
    }
}
END_TEST

START_TEST(test_jwt_claims_null)
{
    ck_assert_ptr_null(cn_jwt_claims(pool, NULL));
}
END_TEST

/* A payload of 4 MiB is read whole; 4 MiB that decode to NUL bytes are not JSON. */
START_TEST(test_jwt_claims_huge)
{
    const apr_size_t big = 4 * 1024 * 1024;
    const char *doc = apr_pstrcat(pool, "{\"sub\":\"S1\",\"pad\":\"", repeat('x', big), "\"}", NULL);
    const char *jwt = apr_pstrcat(pool, JWT_H ".", cn_b64url_encode(pool, doc, strlen(doc)), ".c2ln",
                                  NULL);
    json_t *claims = cn_jwt_claims(pool, jwt), *pad;
    ck_assert_ptr_nonnull(claims);
    ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), "S1");
    pad = json_object_get(claims, "pad");
    ck_assert(json_is_string(pad));
    ck_assert_uint_eq(json_string_length(pad), big);

    jwt = apr_pstrcat(pool, JWT_H ".", repeat('A', big), ".c2ln", NULL);
    ck_assert_ptr_null(cn_jwt_claims(pool, jwt));
    /* a huge payload in the wrong alphabet is refused as a short one is */
    jwt = apr_pstrcat(pool, JWT_H ".", repeat('+', big), ".c2ln", NULL);
    ck_assert_ptr_null(cn_jwt_claims(pool, jwt));
}
END_TEST

/* ---- the SASL XOAUTH2 string ---- */

START_TEST(test_xoauth2)
{
    /* base64("user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"),
     * the example of Google's XOAUTH2 documentation */
    const char *got = cn_imap_xoauth2(pool, "someuser@example.com",
                                      "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
    char plain[256];
    int n;
    ck_assert_str_eq(got, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRj"
                          "Mk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
    ck_assert_int_lt(apr_base64_decode_len(got), (int)sizeof(plain));
    n = apr_base64_decode(plain, cn_imap_xoauth2(pool, "ann@example.com", "at-1"));
    ck_assert_int_eq(n, (int)strlen("user=ann@example.com\x01" "auth=Bearer at-1\x01\x01"));
    ck_assert_mem_eq(plain, "user=ann@example.com\x01" "auth=Bearer at-1\x01\x01", (size_t)n);
    /* nothing that would end a field early, nothing missing */
    ck_assert_ptr_null(cn_imap_xoauth2(pool, "ann\x01@example.com", "at-1"));
    ck_assert_ptr_null(cn_imap_xoauth2(pool, "ann@example.com", "at\x01"));
    ck_assert_ptr_null(cn_imap_xoauth2(pool, NULL, "at-1"));
    ck_assert_ptr_null(cn_imap_xoauth2(pool, "ann@example.com", NULL));
}
END_TEST

START_TEST(test_imap_oauth_host)
{
    ck_assert_str_eq(cn_imap_oauth_host("google"), "imap.gmail.com");
    ck_assert_str_eq(cn_imap_oauth_host("microsoft"), "outlook.office365.com");
    ck_assert_ptr_null(cn_imap_oauth_host("imap"));
    ck_assert_ptr_null(cn_imap_oauth_host(NULL));
}
END_TEST

static Suite *proto_suite(void)
{
    Suite *s = suite_create("proto");
    TCase *tc;

    tc = cn_tcase("scope");
    tcase_add_loop_test(tc, test_missing_scope, 0, N(scope_cases));
    suite_add_tcase(s, tc);

    tc = cn_tcase("authorize");
    tcase_add_loop_test(tc, test_endpoint, 0, N(endpoint_cases));
    tcase_add_loop_test(tc, test_authorize_url, 0, N(az_cases));
    tcase_add_loop_test(tc, test_authorize_url_bad_tenant, 0, N(bad_tenants));
    suite_add_tcase(s, tc);

    tc = cn_tcase("query");
    tcase_add_loop_test(tc, test_encode_char, 0, N(char_cases));
    tcase_add_loop_test(tc, test_pairs, 0, N(pairs_cases));
    suite_add_tcase(s, tc);

    tc = cn_tcase("jwt");
    tcase_add_loop_test(tc, test_jwt_claims, 0, N(jwt_cases));
    tcase_add_test(tc, test_jwt_claims_null);
    tcase_add_test(tc, test_jwt_claims_huge);
    suite_add_tcase(s, tc);

    tc = cn_tcase("xoauth2");
    tcase_add_test(tc, test_xoauth2);
    tcase_add_test(tc, test_imap_oauth_host);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(proto_suite());
}
