/* Unit tests of the app-permission calls of include/cn_proto.h over a fake
 * HTTP seam: Microsoft client credentials (the request, and each answer as
 * the seed's event), Graph /users/{email} (the identity, the refusals), and a
 * Google service account's assertion (its header, claims and signature,
 * checked with OpenSSL; bad keys refused before any call). */
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cn_proto.h"
#include "cn_test.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define RSA_PEM "../conf/keys/signing-rsa.pem"
#define P256_PEM "../conf/keys/signing-p256.pem"
#define NOW 1800000000

/* The fake provider: one answer, and what it was asked. */
typedef struct fake_t {
    apr_status_t rv; /* the transport's outcome */
    int status;
    const char *body;
    int calls;
    const char *url, *form, *bearer;
} fake_t;

static apr_status_t fake_perform(cn_http_t *http, apr_pool_t *p, const cn_http_request_t *req,
                                 cn_http_response_t *resp)
{
    fake_t *f = http->baton;
    memset(resp, 0, sizeof(*resp));
    f->calls++;
    f->url = apr_pstrdup(p, req->url);
    f->form = req->body ? apr_pstrmemdup(p, req->body, req->body_len) : NULL;
    f->bearer = req->bearer ? apr_pstrdup(p, req->bearer) : NULL;
    if (f->rv != APR_SUCCESS) {
        resp->error = "no answer";
        return f->rv;
    }
    resp->status = f->status;
    resp->body = f->body;
    resp->body_len = strlen(f->body);
    resp->content_type = "application/json";
    return APR_SUCCESS;
}

static cn_ctx_t make_ctx(cn_http_t *http)
{
    cn_ctx_t ctx = {0};
    ctx.pool = pool;
    ctx.http = http;
    ctx.now = NOW;
    return ctx;
}

/* The form FAKE received, as a table. */
static apr_table_t *form_of(const fake_t *f)
{
    apr_table_t *t = NULL;
    const char *why = NULL;
    ck_assert_ptr_nonnull(f->form);
    ck_assert_int_eq(cn_oauth_params_parse(pool, "application/x-www-form-urlencoded", f->form,
                                           strlen(f->form), &t, &why),
                     APR_SUCCESS);
    return t;
}

/* The expected failure: EVENT (a type) with WHY in its description. */
static void expect_failure(const cn_ctx_t *ctx, apr_status_t rv, const char *event, const char *why)
{
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_ptr_nonnull(ctx->res.event);
    ck_assert_str_eq(ctx->res.event->type, event);
    if (why) {
        ck_assert_msg(ctx->res.description && strstr(ctx->res.description, why),
                      "'%s' does not say '%s'", ctx->res.description ? ctx->res.description : "",
                      why);
    }
}

/* ---- client credentials --------------------------------------------------- */

static const struct token_case {
    const char *name;
    apr_status_t rv;
    int status;
    const char *body;
    const char *event, *why; /* NULL: success */
    const char *token;
    long expires_in;
} cc_cases[] = {
    {"a token", APR_SUCCESS, 200,
     "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,\"access_token\":\"at-1\"}",
     NULL, NULL, "at-1", 3599},
    {"no expires_in: an hour", APR_SUCCESS, 200, "{\"access_token\":\"at-2\"}", NULL, NULL, "at-2",
     3600},
    {"a wrong secret", APR_SUCCESS, 401,
     "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret provided.\"}",
     "invalid_client", "AADSTS7000215", NULL, 0},
    {"not in the tenant's directory", APR_SUCCESS, 400,
     "{\"error\":\"unauthorized_client\",\"error_description\":\"AADSTS700016: Application was not found in the directory\"}",
     "invalid_client", "AADSTS700016", NULL, 0},
    {"no consent", APR_SUCCESS, 400,
     "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS65001: not consented\"}",
     "invalid_grant", "AADSTS65001", NULL, 0},
    {"another OAuth error", APR_SUCCESS, 400,
     "{\"error\":\"invalid_scope\",\"error_description\":\"AADSTS1002012\"}",
     "oauth_provider_error", "invalid_scope", NULL, 0},
    {"an HTML 500", APR_SUCCESS, 500, "<html><body>500</body></html>", "oauth_provider_error",
     "HTTP 500", NULL, 0},
    {"no access_token", APR_SUCCESS, 200, "{\"token_type\":\"Bearer\"}", "oauth_provider_error",
     "access_token", NULL, 0},
    {"an access_token that is no string", APR_SUCCESS, 200, "{\"access_token\":7}",
     "oauth_provider_error", "access_token", NULL, 0},
    {"no answer", APR_TIMEUP, 0, "", "provider_not_responding", NULL, NULL, 0},
};

static cn_integration_t *ms_app(void)
{
    cn_integration_t *it = apr_pcalloc(pool, sizeof(*it));
    it->provider = "microsoft";
    it->settings = cn_json_own(pool, json_pack("{s:s,s:s}", "client_id", "msapp-1", "tenant",
                                               "common"));
    it->credential_id = "cred-1";
    it->credential_secret = "msapp-1-secret";
    return it;
}

START_TEST(test_client_credentials)
{
    const struct token_case *c = &cc_cases[_i];
    fake_t fake = {c->rv, c->status, c->body, 0, NULL, NULL, NULL};
    cn_http_t http = {fake_perform, &fake};
    cn_ctx_t ctx = make_ctx(&http);
    cn_tokens_t *t = NULL;
    apr_status_t rv = cn_oauth_client_credentials(&ctx, ms_app(), "8baf1a85-05b7-1286-dc5a-e8e3d10fc8de", &t);
    apr_table_t *form;
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_str_eq(fake.url, "https://login.microsoftonline.com/8baf1a85-05b7-1286-dc5a-e8e3d10fc8de/oauth2/v2.0/token");
    form = form_of(&fake);
    ck_assert_str_eq(apr_table_get(form, "grant_type"), "client_credentials");
    ck_assert_str_eq(apr_table_get(form, "client_id"), "msapp-1");
    ck_assert_str_eq(apr_table_get(form, "client_secret"), "msapp-1-secret");
    ck_assert_str_eq(apr_table_get(form, "scope"), "https://graph.microsoft.com/.default");
    if (!c->event) {
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert_str_eq(t->access_token, c->token);
        ck_assert_ptr_null(t->refresh_token);
        ck_assert_int_eq(t->expires_in, c->expires_in);
        return;
    }
    expect_failure(&ctx, rv, c->event, c->why);
    ck_assert_msg(!ctx.res.description || !strstr(ctx.res.description, "msapp-1-secret"),
                  "the secret is not in the description");
}
END_TEST

/* No tenant consented (or a keyword): refused without a call. */
START_TEST(test_client_credentials_no_tenant)
{
    static const char *const tenants[] = {NULL, "common", "Organizations", "consumers"};
    int i;
    for (i = 0; i < N(tenants); ++i) {
        fake_t fake = {APR_SUCCESS, 200, "{\"access_token\":\"x\"}", 0, NULL, NULL, NULL};
        cn_http_t http = {fake_perform, &fake};
        cn_ctx_t ctx = make_ctx(&http);
        cn_tokens_t *t = NULL;
        expect_failure(&ctx, cn_oauth_client_credentials(&ctx, ms_app(), tenants[i], &t),
                       "oauth_failed", "admin consent");
        ck_assert_int_eq(fake.calls, 0);
    }
}
END_TEST

/* ---- Graph /users/{email} ----------------------------------------------- */

static const struct user_case {
    const char *name;
    int status;
    const char *body;
    const char *event, *why;    /* NULL: success */
    const char *subject, *user_id, *email;
} user_cases[] = {
    {"the user", 200,
     "{\"id\":\"U-1\",\"userPrincipalName\":\"Ann@Contoso.example\",\"mail\":\"x@evil.example\"}",
     NULL, NULL, "8baf1a85-05b7-1286-dc5a-e8e3d10fc8de/U-1", "U-1", "ann@contoso.example"},
    {"no such user", 404,
     "{\"error\":{\"code\":\"Request_ResourceNotFound\",\"message\":\"Resource 'x' does not exist\"}}",
     "invalid_grant", "Request_ResourceNotFound", NULL, NULL, NULL},
    {"no permission to read users", 403,
     "{\"error\":{\"code\":\"Authorization_RequestDenied\",\"message\":\"Insufficient privileges\"}}",
     "oauth_failed", "Authorization_RequestDenied", NULL, NULL, NULL},
    {"a token Graph refuses", 401, "{\"error\":{\"code\":\"InvalidAuthenticationToken\"}}",
     "oauth_failed", "InvalidAuthenticationToken", NULL, NULL, NULL},
    {"an error body that is not Graph's", 404, "not json", "invalid_grant", "no error code", NULL,
     NULL, NULL},
    {"no id", 200, "{\"userPrincipalName\":\"a@contoso.example\"}", "oauth_provider_error", "id",
     NULL, NULL, NULL},
    {"a userPrincipalName that is no address", 200, "{\"id\":\"U\",\"userPrincipalName\":\"ann\"}",
     "oauth_provider_error", "userPrincipalName", NULL, NULL, NULL},
    {"a 500", 500, "{}", "oauth_provider_error", "HTTP 500", NULL, NULL, NULL},
};

START_TEST(test_graph_user)
{
    const struct user_case *c = &user_cases[_i];
    fake_t fake = {APR_SUCCESS, c->status, c->body, 0, NULL, NULL, NULL};
    cn_http_t http = {fake_perform, &fake};
    cn_ctx_t ctx = make_ctx(&http);
    cn_identity_t *id = NULL;
    apr_status_t rv = cn_graph_user(&ctx, "app-token", "8baf1a85-05b7-1286-dc5a-e8e3d10fc8de", "ann@contoso.example", &id);
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_str_eq(fake.url, "https://graph.microsoft.com/v1.0/users/ann%40contoso.example");
    ck_assert_str_eq(fake.bearer, "app-token");
    if (!c->event) {
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert_str_eq(id->subject, c->subject);
        ck_assert_str_eq(id->user_id, c->user_id);
        ck_assert_str_eq(id->legacy_subject, c->user_id);
        ck_assert_str_eq(id->email, c->email);
        return;
    }
    expect_failure(&ctx, rv, c->event, c->why);
}
END_TEST

/* ---- a service account's assertion ---------------------------------------- */

static const char *file_text(const char *path)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t len;
    char *text;
    ck_assert_int_eq(apr_file_open(&f, path, APR_FOPEN_READ, 0, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    len = (apr_size_t)fi.size;
    text = apr_pcalloc(pool, len + 1);
    ck_assert_int_eq(apr_file_read_full(f, text, len, &len), APR_SUCCESS);
    apr_file_close(f);
    return text;
}

static json_t *sa_key(const char *pem_path)
{
    return cn_json_own(pool, json_pack("{s:s,s:s,s:s,s:s}", "type", "service_account",
                                       "private_key_id", "kid-7", "private_key",
                                       file_text(pem_path), "client_email",
                                       "svc@proj.iam.gserviceaccount.com"));
}

static json_t *b64url_json(const char *s, apr_size_t n)
{
    apr_size_t len = 0;
    const unsigned char *raw = cn_b64url_decode(pool, apr_pstrndup(pool, s, n), &len);
    ck_assert_ptr_nonnull(raw);
    return cn_json_parse(pool, (const char *)raw, len, NULL);
}

static const struct token_case sa_cases[] = {
    {"a token", APR_SUCCESS, 200,
     "{\"access_token\":\"ya29.x\",\"expires_in\":3599,\"token_type\":\"Bearer\"}", NULL, NULL,
     "ya29.x", 3599},
    {"a key Google does not know", APR_SUCCESS, 400,
     "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}",
     "invalid_grant", "Invalid JWT Signature.", NULL, 0},
    {"an unknown user", APR_SUCCESS, 400,
     "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid email or User ID\"}",
     "invalid_grant", "Invalid email or User ID", NULL, 0},
    {"no delegation", APR_SUCCESS, 401,
     "{\"error\":\"unauthorized_client\",\"error_description\":\"Client is unauthorized\"}",
     "invalid_client", "unauthorized_client", NULL, 0},
    {"a bad scope", APR_SUCCESS, 400,
     "{\"error\":\"invalid_scope\",\"error_description\":\"Invalid OAuth scope\"}",
     "oauth_provider_error", "invalid_scope", NULL, 0},
    {"no answer", APR_EGENERAL, 0, "", "provider_not_responding", NULL, NULL, 0},
};

START_TEST(test_service_account)
{
    const struct token_case *c = &sa_cases[_i];
    fake_t fake = {c->rv, c->status, c->body, 0, NULL, NULL, NULL};
    cn_http_t http = {fake_perform, &fake};
    cn_ctx_t ctx = make_ctx(&http);
    cn_tokens_t *t = NULL;
    json_t *scope = cn_json_own(pool, json_pack("[s,s]", "https://mail.google.com/", "email"));
    apr_status_t rv = cn_oauth_service_account(&ctx, sa_key(RSA_PEM), "ann@example.com", scope, &t);
    apr_table_t *form;
    const char *jwt, *d1, *d2;
    json_t *head, *claims;
    EVP_PKEY *pk;
    FILE *f;
    EVP_MD_CTX *md;
    unsigned char *sig;
    apr_size_t siglen = 0;

    ck_assert_int_eq(fake.calls, 1);
    ck_assert_str_eq(fake.url, "https://oauth2.googleapis.com/token");
    form = form_of(&fake);
    ck_assert_str_eq(apr_table_get(form, "grant_type"),
                     "urn:ietf:params:oauth:grant-type:jwt-bearer");
    ck_assert_ptr_null(apr_table_get(form, "client_secret"));
    jwt = apr_table_get(form, "assertion");
    ck_assert_ptr_nonnull(jwt);
    d1 = strchr(jwt, '.');
    d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    ck_assert_msg(d1 && d2 && !strchr(d2 + 1, '.'), "a compact JWS");
    head = b64url_json(jwt, (apr_size_t)(d1 - jwt));
    claims = b64url_json(d1 + 1, (apr_size_t)(d2 - d1 - 1));
    ck_assert_str_eq(json_string_value(json_object_get(head, "alg")), "RS256");
    ck_assert_str_eq(json_string_value(json_object_get(head, "kid")), "kid-7");
    ck_assert_str_eq(json_string_value(json_object_get(claims, "iss")),
                     "svc@proj.iam.gserviceaccount.com");
    ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), "ann@example.com");
    ck_assert_str_eq(json_string_value(json_object_get(claims, "scope")),
                     "https://mail.google.com/ email");
    ck_assert_str_eq(json_string_value(json_object_get(claims, "aud")),
                     "https://oauth2.googleapis.com/token");
    ck_assert_int_eq(json_integer_value(json_object_get(claims, "iat")), NOW);
    ck_assert_int_eq(json_integer_value(json_object_get(claims, "exp")), NOW + 3600);
    /* the signature, checked with OpenSSL against the key's public half */
    ck_assert_ptr_nonnull(f = fopen(RSA_PEM, "r"));
    pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(pk);
    sig = (unsigned char *)cn_b64url_decode(pool, d2 + 1, &siglen);
    ck_assert_ptr_nonnull(sig);
    md = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk), 1);
    ck_assert_int_eq(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
                                      (size_t)(d2 - jwt)), 1);
    sig[0] ^= 1;
    ck_assert_int_ne(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
                                      (size_t)(d2 - jwt)), 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);

    if (!c->event) {
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert_str_eq(t->access_token, c->token);
        ck_assert_ptr_null(t->refresh_token);
        ck_assert_int_eq(t->expires_in, c->expires_in);
        return;
    }
    expect_failure(&ctx, rv, c->event, c->why);
}
END_TEST

/* Keys that cannot sign, and key JSON without its issuer: no call. */
START_TEST(test_service_account_bad_key)
{
    fake_t fake = {APR_SUCCESS, 200, "{\"access_token\":\"x\"}", 0, NULL, NULL, NULL};
    cn_http_t http = {fake_perform, &fake};
    cn_ctx_t ctx = make_ctx(&http);
    cn_tokens_t *t = NULL;
    json_t *scope = cn_json_own(pool, json_pack("[s]", "https://mail.google.com/"));
    json_t *key = sa_key(P256_PEM);
    expect_failure(&ctx, cn_oauth_service_account(&ctx, key, "a@example.com", scope, &t),
                   "credential_missing_param", "not an RSA key");
    key = sa_key(RSA_PEM);
    json_object_set_new(key, "private_key", json_string("-----BEGIN PRIVATE KEY-----\nX\n"));
    expect_failure(&ctx, cn_oauth_service_account(&ctx, key, "a@example.com", scope, &t),
                   "credential_missing_param", "private_key");
    key = sa_key(RSA_PEM);
    json_object_del(key, "client_email");
    expect_failure(&ctx, cn_oauth_service_account(&ctx, key, "a@example.com", scope, &t),
                   "credential_missing_param", "client_email");
    ck_assert_int_eq(fake.calls, 0);
}
END_TEST

static Suite *app_oauth_suite(void)
{
    Suite *s = suite_create("app_oauth");
    TCase *tc = cn_tcase("client credentials");
    tcase_add_loop_test(tc, test_client_credentials, 0, N(cc_cases));
    tcase_add_test(tc, test_client_credentials_no_tenant);
    suite_add_tcase(s, tc);
    tc = cn_tcase("graph users");
    tcase_add_loop_test(tc, test_graph_user, 0, N(user_cases));
    suite_add_tcase(s, tc);
    tc = cn_tcase("service accounts");
    tcase_add_loop_test(tc, test_service_account, 0, N(sa_cases));
    tcase_add_test(tc, test_service_account_bad_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(app_oauth_suite());
}
