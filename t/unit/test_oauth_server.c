/* Unit tests of the OAuth 2.0 server's protocol pieces (include/cn_proto.h):
 * PKCE with RFC 7636's vectors and the hex form of seed 004 and the Nylas
 * SDKs, the limits of verifiers and challenges, the decoding of /token
 * bodies, scope strings, and the RFC 6749 names of failures. */
#include <apr_strings.h>

#include "cn_proto.h"
#include "cn_test.h"

#define RFC_VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define RFC_CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define NYLAS_HEX "e96bf6686a3c3510e9e927db7069cb1cba9b99b022f49483a6ce3270809e68a2"
#define NYLAS_CHALLENGE \
    "ZTk2YmY2Njg2YTNjMzUxMGU5ZTkyN2RiNzA2OWNiMWNiYTliOTliMDIyZjQ5NDgzYTZjZTMyNzA4MDllNjhhMg"
#define UUID_VERIFIER "3f1c2a9e-7b4d-4e8a-9c61-0d2e5f7a8b90" /* 36 characters */

/* ---- the challenge of a verifier ----------------------------------------- */

static const struct derive_case {
    const char *name, *verifier, *s256, *s256_hex;
} derive_cases[] = {
    {"RFC 7636 Appendix B", RFC_VERIFIER, RFC_CHALLENGE, NULL},
    {"seed 004: \"nylas\"", "nylas", NULL, NYLAS_CHALLENGE},
    {"empty", "", "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU",
     /* base64 of the hex SHA-256 of "" */
     "ZTNiMGM0NDI5OGZjMWMxNDlhZmJmNGM4OTk2ZmI5MjQyN2FlNDFlNDY0OWI5MzRjYTQ5NTk5MWI3ODUyYjg1NQ"},
};

START_TEST(test_derive)
{
    const struct derive_case *c = &derive_cases[_i];
    if (c->s256) {
        ck_assert_str_eq(cn_pkce_s256(pool, c->verifier), c->s256);
    }
    if (c->s256_hex) {
        ck_assert_str_eq(cn_pkce_s256_hex(pool, c->verifier), c->s256_hex);
        ck_assert_int_eq(strlen(c->s256_hex), 86);
    }
}
END_TEST

/* The seed's own arithmetic: SHA-256("nylas") in hex, then base64 of the hex. */
START_TEST(test_nylas_steps)
{
    ck_assert_str_eq(cn_sha256_hex(pool, "nylas", 5), NYLAS_HEX);
    ck_assert_str_eq(cn_pkce_s256_hex(pool, "nylas"), NYLAS_CHALLENGE);
}
END_TEST

/* ---- methods --------------------------------------------------------------- */

static const struct method_case {
    const char *in, *out;
} method_cases[] = {
    {NULL, "plain"},   {"plain", "plain"}, {"PLAIN", "plain"}, {"Plain", "plain"},
    {"S256", "S256"},  {"s256", "S256"},   {"S256 ", NULL},    {"sha256", NULL},
    {"", NULL},        {"S512", NULL},     {"plain\n", NULL},
};

START_TEST(test_method)
{
    const struct method_case *c = &method_cases[_i];
    const char *m = cn_pkce_method(c->in);
    if (c->out) {
        ck_assert_ptr_nonnull(m);
        ck_assert_str_eq(m, c->out);
    }
    else {
        ck_assert_ptr_null(m);
    }
}
END_TEST

/* ---- what an authorization request may send as its challenge --------------- */

static const struct challenge_case {
    const char *name, *challenge, *method;
    int ok;
} challenge_cases[] = {
    {"S256, RFC form", RFC_CHALLENGE, "S256", 1},
    {"S256, hex form", NYLAS_CHALLENGE, "S256", 1},
    {"S256, 42 characters", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c", "S256", 0},
    {"S256, 44 characters", RFC_CHALLENGE "M", "S256", 0},
    {"S256, padded", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=", "S256", 0},
    {"S256, 43 with '+'", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM", "S256", 0},
    {"S256, hex form with '-'",
     "ZTk2YmY2Njg2YTNjMzUxMGU5ZTkyN2RiNzA2OWNiMWNiYTliOTliMDIyZjQ5NDgzYTZjZTMyNzA4MDllNjhh-g",
     "S256", 0},
    {"S256, the hex digest itself", NYLAS_HEX, "S256", 0},
    {"plain, 43", RFC_VERIFIER, "plain", 1},
    {"plain, 128", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "plain", 1},
    {"plain, 129", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "plain", 0},
    {"plain, 42", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX", "plain", 0},
    {"plain, a space", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEj k", "plain", 0},
    {"plain, '+'", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEj+k", "plain", 0},
    {"plain, the 36-character UUID", UUID_VERIFIER, "plain", 0},
    {"no challenge", NULL, "S256", 0},
    {"an empty one", "", "plain", 0},
    {"unknown method", RFC_CHALLENGE, NULL, 0},
};

START_TEST(test_challenge)
{
    const struct challenge_case *c = &challenge_cases[_i];
    const char *why = NULL;
    apr_status_t rv = cn_pkce_challenge_check(c->challenge, c->method, &why);
    ck_assert_msg((rv == APR_SUCCESS) == c->ok, "%s: %s", c->name, why ? why : "accepted");
    if (!c->ok) {
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

/* ---- what a token request proves with its verifier --------------------------- */

static const struct verify_case {
    const char *name, *challenge, *method, *verifier;
    int ok;
} verify_cases[] = {
    {"RFC 7636 Appendix B", RFC_CHALLENGE, "S256", RFC_VERIFIER, 1},
    {"S256, another verifier", RFC_CHALLENGE, "S256", RFC_VERIFIER "x", 0},
    {"S256, the challenge as verifier", RFC_CHALLENGE, "S256", RFC_CHALLENGE, 0},
    {"S256, a verifier of 42", RFC_CHALLENGE, "S256", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX", 0},
    {"plain", RFC_VERIFIER, "plain", RFC_VERIFIER, 1},
    {"plain, one character off", RFC_VERIFIER, "plain", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj", 0},
    {"plain, a prefix", RFC_VERIFIER "abc", "plain", RFC_VERIFIER, 0},
    {"plain, challenge of an S256 request", RFC_CHALLENGE, "plain", RFC_VERIFIER, 0},
    {"hex form, a UUID verifier (36)", NULL, "S256", UUID_VERIFIER, 1},
    {"hex form, 32 characters", NULL, "S256", "0123456789abcdef0123456789abcdef", 1},
    {"hex form, 31 characters", NULL, "S256", "0123456789abcdef0123456789abcde", 0},
    {"hex form, 128 characters", NULL, "S256",
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 1},
    {"hex form, 129 characters", NULL, "S256",
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", 0},
    {"hex form, \"nylas\" (5 characters: too short)", NYLAS_CHALLENGE, "S256", "nylas", 0},
    {"hex form, a space in it", NULL, "S256", "3f1c2a9e-7b4d-4e8a-9c61 0d2e5f7a8b90", 0},
    {"hex form, '/' in it", NULL, "S256", "3f1c2a9e/7b4d-4e8a-9c61-0d2e5f7a8b90", 0},
    {"hex form, all unreserved marks", NULL, "S256", "~._-~._-~._-~._-~._-~._-~._-~._-", 1},
    {"RFC form, 128 characters", NULL, "S256",
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 1},
    {"RFC form, non-ASCII", NULL, "S256", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX\xc3\xa9", 0},
    {"no verifier", RFC_CHALLENGE, "S256", NULL, 0},
    {"empty verifier", RFC_CHALLENGE, "S256", "", 0},
    {"no challenge", NULL, NULL, RFC_VERIFIER, 0},
};

START_TEST(test_verify)
{
    const struct verify_case *c = &verify_cases[_i];
    const char *why = NULL, *challenge = c->challenge;
    apr_status_t rv;
    /* A NULL challenge with a method: the one this verifier makes, in the
     * form the case names (hex when its name says so). */
    if (!challenge && c->method && c->verifier) {
        challenge = strstr(c->name, "hex form") ? cn_pkce_s256_hex(pool, c->verifier)
                                                : cn_pkce_s256(pool, c->verifier);
    }
    rv = cn_pkce_verify(pool, challenge, c->method, c->verifier, &why);
    ck_assert_msg((rv == APR_SUCCESS) == c->ok, "%s: %s", c->name, why ? why : "accepted");
    if (!c->ok) {
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(!c->verifier || !*c->verifier || !strstr(why, c->verifier),
                      "the reason quotes the verifier");
    }
}
END_TEST

/* ---- /token bodies ----------------------------------------------------------- */

static const struct params_case {
    const char *name, *type, *body;
    int ok;
    const char *expect; /* "name=value|name=value" in any order, for accepted ones */
} params_cases[] = {
    {"form", "application/x-www-form-urlencoded",
     "grant_type=authorization_code&code=cnac_x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb", 1,
     "grant_type=authorization_code|code=cnac_x|redirect_uri=https://app.example/cb"},
    {"form with charset", "application/x-www-form-urlencoded; charset=UTF-8", "a=1", 1, "a=1"},
    {"form, type in capitals", "Application/X-WWW-Form-URLEncoded", "a=1", 1, "a=1"},
    {"plus is a space", "application/x-www-form-urlencoded", "scope=a+b%20c", 1, "scope=a b c"},
    {"empty pairs and an empty value", "application/x-www-form-urlencoded", "&a=&&b=2&", 1,
     "a=|b=2"},
    {"a name without '='", "application/x-www-form-urlencoded", "flag", 1, "flag="},
    {"'=' inside a value", "application/x-www-form-urlencoded", "a=b=c", 1, "a=b=c"},
    {"UTF-8 escapes", "application/x-www-form-urlencoded", "n=%C3%A9", 1, "n=\xc3\xa9"},
    {"lowercase hex escapes", "application/x-www-form-urlencoded", "n=%2f", 1, "n=/"},
    {"a name twice", "application/x-www-form-urlencoded", "code=a&code=b", 0, NULL},
    {"a name twice, once escaped", "application/x-www-form-urlencoded", "code=a&c%6fde=b", 0, NULL},
    {"a truncated escape", "application/x-www-form-urlencoded", "a=%4", 0, NULL},
    {"an escape at the end", "application/x-www-form-urlencoded", "a=%", 0, NULL},
    {"a bad escape", "application/x-www-form-urlencoded", "a=%zz", 0, NULL},
    {"an escaped NUL", "application/x-www-form-urlencoded", "a=%00", 0, NULL},
    {"an empty name", "application/x-www-form-urlencoded", "=x", 0, NULL},
    {"JSON", "application/json", "{\"grant_type\":\"refresh_token\",\"refresh_token\":\"cnrt_1\"}", 1,
     "grant_type=refresh_token|refresh_token=cnrt_1"},
    {"JSON with charset", "application/json;charset=utf-8", "{\"a\":\"1\"}", 1, "a=1"},
    {"JSON, a number", "application/json", "{\"expires_in\":3600}", 0, NULL},
    {"JSON, null", "application/json", "{\"code\":null}", 0, NULL},
    {"JSON, an object", "application/json", "{\"code\":{}}", 0, NULL},
    {"JSON, an array", "application/json", "[\"code\"]", 0, NULL},
    {"JSON, a key twice", "application/json", "{\"a\":\"1\",\"a\":\"2\"}", 0, NULL},
    {"JSON, \\u0000 in a value", "application/json", "{\"a\":\"x\\u0000y\"}", 0, NULL},
    {"JSON, \\u0000 in a key", "application/json", "{\"a\\u0000b\":\"x\"}", 0, NULL},
    {"JSON, broken", "application/json", "{\"a\":", 0, NULL},
    {"JSON, empty key", "application/json", "{\"\":\"x\"}", 0, NULL},
    {"another type", "text/plain", "a=1", 0, NULL},
    {"multipart", "multipart/form-data; boundary=x", "a=1", 0, NULL},
    {"no type", NULL, "a=1", 0, NULL},
    {"no body, no type", NULL, "", 1, ""},
};

START_TEST(test_params)
{
    const struct params_case *c = &params_cases[_i];
    apr_table_t *t = NULL;
    const char *why = NULL;
    apr_status_t rv = cn_oauth_params_parse(pool, c->type, c->body, strlen(c->body), &t, &why);
    ck_assert_msg((rv == APR_SUCCESS) == c->ok, "%s: %s", c->name, why ? why : "accepted");
    if (c->ok) {
        char *copy = apr_pstrdup(pool, c->expect), *tok, *last = NULL;
        int n = 0;
        ck_assert_ptr_nonnull(t);
        for (tok = apr_strtok(copy, "|", &last); tok; tok = apr_strtok(NULL, "|", &last)) {
            char *eq = strchr(tok, '=');
            *eq = '\0';
            ck_assert_msg(apr_table_get(t, tok) != NULL, "%s: no %s", c->name, tok);
            ck_assert_str_eq(apr_table_get(t, tok), eq + 1);
            ++n;
        }
        ck_assert_int_eq(apr_table_elts(t)->nelts, n);
    }
    else {
        ck_assert_ptr_null(t);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

/* A body with a raw NUL byte, and one with too many parameters. */
START_TEST(test_params_limits)
{
    static const char nul[] = "a=1\0&b=2";
    apr_table_t *t = NULL;
    const char *why = NULL, *body = "";
    int i;
    ck_assert_int_ne(cn_oauth_params_parse(pool, "application/x-www-form-urlencoded", nul,
                                           sizeof(nul) - 1, &t, &why),
                     APR_SUCCESS);
    for (i = 0; i < CN_OAUTH_PARAMS_MAX; ++i) {
        body = apr_psprintf(pool, "%s%sp%d=v", body, i ? "&" : "", i);
    }
    ck_assert_int_eq(cn_oauth_params_parse(pool, "application/x-www-form-urlencoded", body,
                                           strlen(body), &t, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_table_elts(t)->nelts, CN_OAUTH_PARAMS_MAX);
    body = apr_pstrcat(pool, body, "&one=more", NULL);
    ck_assert_int_ne(cn_oauth_params_parse(pool, "application/x-www-form-urlencoded", body,
                                           strlen(body), &t, &why),
                     APR_SUCCESS);
    ck_assert_str_eq(why, "too many parameters");
}
END_TEST

/* ---- scope strings ------------------------------------------------------------------ */

static const struct scope_case {
    const char *in;
    int ok;
    const char *out; /* joined again */
} scope_cases[] = {
    {"openid email", 1, "openid email"},
    {"  openid   email ", 1, "openid email"},
    {"openid openid email", 1, "openid email"},
    {"https://www.googleapis.com/auth/gmail.readonly profile", 1,
     "https://www.googleapis.com/auth/gmail.readonly profile"},
    {"", 1, ""},
    {"a\"b", 0, NULL},
    {"a\\b", 0, NULL},
    {"a\tb", 0, NULL},
    {"caf\xc3\xa9", 0, NULL},
};

START_TEST(test_scope)
{
    const struct scope_case *c = &scope_cases[_i];
    json_t *arr = cn_oauth_scope_parse(pool, c->in);
    if (!c->ok) {
        ck_assert_ptr_null(arr);
        return;
    }
    ck_assert_ptr_nonnull(arr);
    ck_assert_str_eq(cn_oauth_scope_string(pool, arr), c->out);
}
END_TEST

START_TEST(test_scope_limits)
{
    const char *s = "";
    char *long_token = apr_palloc(pool, 514);
    int i;
    for (i = 0; i < 100; ++i) {
        s = apr_psprintf(pool, "%s s%d", s, i);
    }
    ck_assert_ptr_nonnull(cn_oauth_scope_parse(pool, s));
    ck_assert_ptr_null(cn_oauth_scope_parse(pool, apr_pstrcat(pool, s, " s100", NULL)));
    memset(long_token, 'x', 513);
    long_token[513] = '\0';
    ck_assert_ptr_null(cn_oauth_scope_parse(pool, long_token));
    long_token[512] = '\0';
    ck_assert_ptr_nonnull(cn_oauth_scope_parse(pool, long_token));
}
END_TEST

/* ---- RFC 6749 names of failures ------------------------------------------------------- */

static const struct error_case {
    cn_event_id_t ev;
    const char *token; /* the /token error */
    int status;
    const char *authorize; /* the redirect's error */
} error_cases[] = {
    {CN_EV_INVALID_REQUEST, "invalid_request", 400, "invalid_request"},
    {CN_EV_INVALID_CLIENT, "invalid_client", 401, "server_error"}, /* upstream: ours */
    {CN_EV_INVALID_GRANT, "invalid_grant", 400, "server_error"},
    {CN_EV_UNAUTHORIZED_CLIENT, "unauthorized_client", 400, "unauthorized_client"},
    {CN_EV_UNSUPPORTED_GRANT_TYPE, "unsupported_grant_type", 400, "server_error"},
    {CN_EV_INVALID_SCOPE, "invalid_scope", 400, "invalid_scope"},
    {CN_EV_NO_LOGIN_SCOPES, "server_error", 500, "invalid_scope"},
    {CN_EV_UNSUPPORTED_RESPONSE_TYPE, "server_error", 500, "unsupported_response_type"},
    {CN_EV_OAUTH_FAILED, "server_error", 500, "access_denied"},
    {CN_EV_SCOPES_CONFLICT, "server_error", 500, "access_denied"},
    {CN_EV_REAUTH_EMAIL_INVALID, "server_error", 500, "access_denied"},
    {CN_EV_PROVIDER_NOT_RESPONDING, "server_error", 500, "temporarily_unavailable"},
    {CN_EV_SERVICE_UNAVAILABLE, "temporarily_unavailable", 503, "temporarily_unavailable"},
    {CN_EV_PROVIDER_CODE_REQUEST_FAILED, "server_error", 500, "server_error"},
    {CN_EV_INTERNAL_ERROR, "server_error", 500, "server_error"},
    {CN_EV_PAYLOAD_TOO_LARGE, "invalid_request", 413, "server_error"},
    {CN_EV_INVALID_REQUEST_PAYLOAD, "invalid_request", 400, "server_error"},
};

START_TEST(test_errors)
{
    const struct error_case *c = &error_cases[_i];
    int status = 0;
    ck_assert_str_eq(cn_oauth_token_error(cn_event(c->ev), &status), c->token);
    ck_assert_int_eq(status, c->status);
    ck_assert_str_eq(cn_oauth_authorize_error(cn_event(c->ev)), c->authorize);
}
END_TEST

START_TEST(test_error_description)
{
    cn_result_t r = {0};
    const char *d;
    char *long_desc = apr_palloc(pool, 1001);
    cn_fail(pool, &r, CN_EV_INVALID_GRANT, "bad \"quote\" and \\ and\nnewline \xc3\xa9");
    d = cn_oauth_error_description(pool, &r);
    ck_assert_str_eq(d, "invalid_grant (45004): bad ?quote? and ? and?newline ??");
    cn_fail(pool, &r, CN_EV_INVALID_CLIENT, NULL);
    ck_assert_str_eq(cn_oauth_error_description(pool, &r),
                     "invalid_client (45003): The OAuth client was not found");
    memset(long_desc, 'x', 1000);
    long_desc[1000] = '\0';
    cn_fail(pool, &r, CN_EV_INVALID_GRANT, "%s", long_desc);
    ck_assert_int_eq(strlen(cn_oauth_error_description(pool, &r)), 300);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *oauth_server_suite(void)
{
    Suite *s = suite_create("oauth_server");
    TCase *tc = cn_tcase("pkce");
    tcase_add_loop_test(tc, test_derive, 0, N(derive_cases));
    tcase_add_test(tc, test_nylas_steps);
    tcase_add_loop_test(tc, test_method, 0, N(method_cases));
    tcase_add_loop_test(tc, test_challenge, 0, N(challenge_cases));
    tcase_add_loop_test(tc, test_verify, 0, N(verify_cases));
    suite_add_tcase(s, tc);
    tc = cn_tcase("params");
    tcase_add_loop_test(tc, test_params, 0, N(params_cases));
    tcase_add_test(tc, test_params_limits);
    suite_add_tcase(s, tc);
    tc = cn_tcase("scope");
    tcase_add_loop_test(tc, test_scope, 0, N(scope_cases));
    tcase_add_test(tc, test_scope_limits);
    suite_add_tcase(s, tc);
    tc = cn_tcase("errors");
    tcase_add_loop_test(tc, test_errors, 0, N(error_cases));
    tcase_add_test(tc, test_error_description);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(oauth_server_suite());
}
