/* Unit tests of cn_oauth_identity (include/cn_oauth.h): who signed in, from
 * the id_token's claims and, where they lack something, the provider's user
 * document, over a fake HTTP seam. A grant is keyed by the subject the
 * provider guarantees; an email counts only when the provider vouches for it. */
#include <apr_strings.h>

#include "cn_proto.h"
#include "cn_test.h"

/* The fake provider: one user document and how many times it was asked. */
typedef struct fake_t {
    const char *doc; /* JSON answered with 200, or NULL: 404 */
    int calls;
    const char *last_url, *last_bearer;
} fake_t;

static apr_status_t fake_perform(cn_http_t *http, apr_pool_t *p, const cn_http_request_t *req,
                                 cn_http_response_t *resp)
{
    fake_t *f = http->baton;
    memset(resp, 0, sizeof(*resp));
    f->calls++;
    f->last_url = apr_pstrdup(p, req->url);
    f->last_bearer = req->bearer ? apr_pstrdup(p, req->bearer) : NULL;
    resp->status = f->doc ? 200 : 404;
    resp->body = f->doc ? f->doc : "{\"error\":\"not_found\"}";
    resp->body_len = strlen(resp->body);
    resp->content_type = "application/json";
    return APR_SUCCESS;
}

static const struct id_case {
    const char *name, *provider;
    const char *claims;  /* the id_token payload, or NULL: no id_token */
    const char *doc;     /* userinfo / Graph /me */
    int calls;           /* user documents asked for */
    const char *subject, *user_id, *email; /* expected; subject NULL: a failure */
    const char *error;   /* expected event type and part of the description */
    const char *why;
} cases[] = {
    {"google: verified email in the id_token", "google",
     "{\"sub\":\"S1\",\"email\":\"Ann@Example.com\",\"email_verified\":true}", NULL, 0,
     "S1", "S1", "ann@example.com", NULL, NULL},
    {"google: email_verified as a string", "google",
     "{\"sub\":\"S1\",\"email\":\"a@example.com\",\"email_verified\":\"true\"}", NULL, 0,
     "S1", "S1", "a@example.com", NULL, NULL},
    {"google: unverified everywhere", "google",
     "{\"sub\":\"S1\",\"email\":\"a@example.com\",\"email_verified\":false}",
     "{\"sub\":\"S1\",\"email\":\"a@example.com\",\"email_verified\":false}", 1,
     NULL, NULL, NULL, "oauth_provider_error", "not verified"},
    {"google: no email_verified claim, userinfo verifies", "google",
     "{\"sub\":\"S1\",\"email\":\"a@example.com\"}",
     "{\"sub\":\"S1\",\"email\":\"a@example.com\",\"email_verified\":true}", 1,
     "S1", "S1", "a@example.com", NULL, NULL},
    {"google: no email in the id_token", "google", "{\"sub\":\"S2\"}",
     "{\"sub\":\"S2\",\"email\":\"B@example.com\",\"email_verified\":true}", 1,
     "S2", "S2", "b@example.com", NULL, NULL},
    {"google: userinfo names another user", "google", "{\"sub\":\"S2\"}",
     "{\"sub\":\"S3\",\"email\":\"b@example.com\",\"email_verified\":true}", 1,
     NULL, NULL, NULL, "oauth_provider_error", "another user"},
    {"google: no id_token", "google", NULL,
     "{\"sub\":\"S4\",\"email\":\"c@example.com\",\"email_verified\":true}", 1,
     "S4", "S4", "c@example.com", NULL, NULL},
    {"google: no sub anywhere", "google", NULL,
     "{\"email\":\"c@example.com\",\"email_verified\":true}", 1,
     NULL, NULL, NULL, "oauth_provider_error", "no sub"},
    {"google: userinfo fails", "google", "{\"sub\":\"S5\"}", NULL, 1,
     NULL, NULL, NULL, "oauth_provider_error", "userinfo"},
    {"microsoft: email with xms_edov", "microsoft",
     "{\"tid\":\"T1\",\"oid\":\"O1\",\"sub\":\"pairwise\",\"email\":\"Carol@Contoso.example\",\"xms_edov\":true}",
     NULL, 0, "T1/O1", "O1", "carol@contoso.example", NULL, NULL},
    {"microsoft: email without xms_edov: the UPN", "microsoft",
     "{\"tid\":\"T2\",\"oid\":\"O2\",\"email\":\"carol@contoso.example\","
     "\"preferred_username\":\"carol@contoso.example\"}",
     "{\"id\":\"O2\",\"mail\":\"carol@contoso.example\",\"userPrincipalName\":\"carol@evil.onmicrosoft.example\"}",
     1, "T2/O2", "O2", "carol@evil.onmicrosoft.example", NULL, NULL},
    {"microsoft: xms_edov false, only mail", "microsoft",
     "{\"tid\":\"T3\",\"oid\":\"O3\",\"email\":\"carol@contoso.example\",\"xms_edov\":false}",
     "{\"id\":\"O3\",\"mail\":\"carol@contoso.example\"}", 1,
     NULL, NULL, NULL, "oauth_provider_error", "vouch"},
    {"microsoft: no tid", "microsoft",
     "{\"oid\":\"O4\",\"email\":\"d@contoso.example\",\"xms_edov\":true}", NULL, 0,
     NULL, NULL, NULL, "oauth_provider_error", "tid"},
    {"microsoft: no oid in the id_token", "microsoft", "{\"tid\":\"T5\"}",
     "{\"id\":\"O5\",\"userPrincipalName\":\"E@contoso.example\"}", 1,
     "T5/O5", "O5", "e@contoso.example", NULL, NULL},
    {"microsoft: Graph /me names another user", "microsoft", "{\"tid\":\"T6\",\"oid\":\"O6\"}",
     "{\"id\":\"O7\",\"userPrincipalName\":\"f@contoso.example\"}", 1,
     NULL, NULL, NULL, "oauth_provider_error", "another user"},
    {"microsoft: no id_token at all", "microsoft", NULL,
     "{\"id\":\"O8\",\"userPrincipalName\":\"g@contoso.example\"}", 0,
     NULL, NULL, NULL, "oauth_provider_error", "tid"},
};

START_TEST(test_identity)
{
    const struct id_case *c = &cases[_i];
    fake_t fake = {0};
    cn_http_t http = {fake_perform, &fake};
    cn_ctx_t ctx = {0};
    cn_integration_t it = {0};
    cn_tokens_t tokens = {0};
    cn_identity_t *id = NULL;
    apr_status_t rv;

    fake.doc = c->doc;
    ctx.pool = pool;
    ctx.http = &http;
    it.provider = c->provider;
    it.settings = json_object();
    tokens.access_token = "the-access-token";
    tokens.claims = c->claims ? json_loads(c->claims, 0, NULL) : NULL;
    ck_assert_msg(!c->claims || tokens.claims, "%s: the claims fixture is not JSON", c->name);
    rv = cn_oauth_identity(&ctx, &it, &tokens, &id);
    ck_assert_msg(fake.calls == c->calls, "%s: %d user documents asked for, expected %d", c->name,
                  fake.calls, c->calls);
    if (fake.calls) {
        ck_assert_str_eq(fake.last_bearer, "the-access-token");
        ck_assert_msg(strstr(fake.last_url, !strcmp(c->provider, "google") ? "/userinfo" : "/me"),
                      "%s: asked %s", c->name, fake.last_url);
    }
    if (c->subject) {
        ck_assert_msg(rv == APR_SUCCESS, "%s: failed: %s", c->name,
                      ctx.res.description ? ctx.res.description : "?");
        ck_assert_str_eq(id->subject, c->subject);
        ck_assert_str_eq(id->user_id, c->user_id);
        ck_assert_str_eq(id->email, c->email);
        /* a grant of schema 4 was keyed by what is now user_id */
        ck_assert_str_eq(id->legacy_subject, c->user_id);
    }
    else {
        ck_assert_msg(rv != APR_SUCCESS, "%s: succeeded", c->name);
        ck_assert_str_eq(ctx.res.event->type, c->error);
        ck_assert_msg(ctx.res.description && strstr(ctx.res.description, c->why),
                      "%s: \"%s\" does not say %s", c->name,
                      ctx.res.description ? ctx.res.description : "", c->why);
    }
    json_decref(it.settings);
    json_decref(tokens.claims);
}
END_TEST

/* An address longer than 254 bytes is not one, wherever it comes from. */
START_TEST(test_email_too_long)
{
    fake_t fake = {0};
    cn_http_t http = {fake_perform, &fake};
    cn_ctx_t ctx = {0};
    cn_integration_t it = {0};
    cn_tokens_t tokens = {0};
    cn_identity_t *id = NULL;
    char local[300];
    const char *email;
    memset(local, 'a', sizeof(local) - 1);
    local[sizeof(local) - 1] = '\0';
    email = apr_pstrcat(pool, local, "@example.com", NULL);
    fake.doc = apr_psprintf(pool, "{\"sub\":\"S\",\"email_verified\":true,\"email\":\"%s\"}", email);
    ctx.pool = pool;
    ctx.http = &http;
    it.provider = "google";
    tokens.claims = json_pack("{s:s,s:s,s:b}", "sub", "S", "email", email, "email_verified", 1);
    ck_assert_int_ne(cn_oauth_identity(&ctx, &it, &tokens, &id), APR_SUCCESS);
    ck_assert_int_eq(fake.calls, 1); /* the id_token's was not usable: userinfo was asked */
    ck_assert_str_eq(ctx.res.event->type, "oauth_provider_error");
    json_decref(tokens.claims);
}
END_TEST

/* A process without an HTTP client answers service_unavailable, not a crash. */
START_TEST(test_no_http_client)
{
    cn_ctx_t ctx = {0};
    cn_integration_t it = {0};
    cn_tokens_t tokens = {0};
    cn_identity_t *id = NULL;
    cn_tokens_t *out = NULL;
    ctx.pool = pool;
    it.provider = "google";
    it.settings = json_pack("{s:s}", "client_id", "cid");
    tokens.access_token = "at";
    ck_assert_int_ne(cn_oauth_identity(&ctx, &it, &tokens, &id), APR_SUCCESS);
    ck_assert_str_eq(ctx.res.event->type, "service_unavailable");
    ck_assert_int_eq(ctx.res.event->http_code, 503);
    ck_assert_int_ne(cn_oauth_token(&ctx, &it, "secret", NULL, NULL, "rt", &out), APR_SUCCESS);
    ck_assert_str_eq(ctx.res.event->type, "service_unavailable");
    cn_oauth_revoke(&ctx, &it, "rt"); /* best effort: returns, does not crash */
    json_decref(it.settings);
}
END_TEST

static Suite *oauth_suite(void)
{
    Suite *s = suite_create("oauth");
    TCase *tc = cn_tcase("identity");
    tcase_add_loop_test(tc, test_identity, 0, (int)(sizeof(cases) / sizeof(cases[0])));
    tcase_add_test(tc, test_email_too_long);
    tcase_add_test(tc, test_no_http_client);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(oauth_suite());
}
