/* Unit tests of include/cn_url.h: percent-encoding, the redirect URI check
 * (RFC 3986 absolute URIs, RFC 8252 native-app schemes) and the Microsoft
 * tenant check. */
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A string of N copies of C (in the test's pool). */
static const char *repeat(char c, apr_size_t n)
{
    char *s = apr_palloc(pool, n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- percent-encoding ------------------------------------------------ */

static const struct encode_case {
    const char *in, *out;
} encode_cases[] = {
    {"common", "common"},
    {"contoso.onmicrosoft.com", "contoso.onmicrosoft.com"},
    {"A-Z_a~z.09", "A-Z_a%7ez.09"},
    {"../../evil?x=", "..%2f..%2fevil%3fx%3d"},
    {"a/b", "a%2fb"},
    {"%2e%2e", "%252e%252e"},
    {"x#frag", "x%23frag"},
    {"a b&c=d", "a+b%26c%3dd"},
    {"line\r\nX-Injected: 1", "line%0d%0aX-Injected%3a+1"},
    {"caf\xc3\xa9", "caf%c3%a9"},
    {"", ""},
};

START_TEST(test_encode)
{
    const struct encode_case *c = &encode_cases[_i];
    ck_assert_str_eq(cn_url_encode(pool, c->in), c->out);
}
END_TEST

START_TEST(test_encode_null)
{
    ck_assert_ptr_null(cn_url_encode(pool, NULL));
}
END_TEST

/* ---- redirect URIs ----------------------------------------------------- */

static const char *const good_uris[] = {
    "https://app.example/cb",
    "https://app.example/oauth/done?x=1&y=2",
    "http://localhost:3000",
    "http://localhost:3000/callback",
    "http://127.0.0.1:8080/cb",
    "http://[::1]:8080/cb",
    "HTTPS://APP.EXAMPLE/CB",
    "https://app.example:443/a%20b",
    "https://user@app.example/cb",
    "com.example.app:/oauth",
    "com.example.app:/oauth2redirect/example-provider",
    "com.googleusercontent.apps.1234:/oauth2redirect",
    "myapp://callback",
    "msauth.com.example.app://auth",
};

START_TEST(test_redirect_uri_good)
{
    const char *why = "unset";
    ck_assert_msg(cn_url_redirect_uri_check(pool, good_uris[_i], &why) == APR_SUCCESS,
                  "%s refused: %s", good_uris[_i], why);
    ck_assert_msg(cn_url_redirect_uri_check(pool, good_uris[_i], NULL) == APR_SUCCESS,
                  "%s refused without WHY", good_uris[_i]);
}
END_TEST

static const struct bad_uri {
    const char *name, *uri, *why;
} bad_uris[] = {
    {"empty", "", "it is empty"},
    {"CR LF header split", "https://app.example/cb\r\nSet-Cookie: x=1",
     "it has white space, control or non-ASCII characters"},
    {"LF alone", "https://app.example/cb\nx", "it has white space, control or non-ASCII characters"},
    {"CR alone", "https://app.example/cb\r", "it has white space, control or non-ASCII characters"},
    {"tab", "https://app.example/c\tb", "it has white space, control or non-ASCII characters"},
    {"space in path", "https://app.example/c b", "it has white space, control or non-ASCII characters"},
    {"space in host", "https://app example/cb", "it has white space, control or non-ASCII characters"},
    {"leading space", " https://app.example/cb", "it has white space, control or non-ASCII characters"},
    {"trailing space", "https://app.example/cb ", "it has white space, control or non-ASCII characters"},
    {"DEL", "https://app.example/cb\x7f", "it has white space, control or non-ASCII characters"},
    {"escape", "https://app.example/\x1b[31m", "it has white space, control or non-ASCII characters"},
    {"raw UTF-8", "https://app.example/caf\xc3\xa9", "it has white space, control or non-ASCII characters"},
    {"fragment", "https://app.example/cb#top", "it has a fragment"},
    {"empty fragment", "https://app.example/cb#", "it has a fragment"},
    {"quote", "https://app.example/\"onload=", "it has characters a URI cannot have"},
    {"angle brackets", "https://app.example/<script>", "it has characters a URI cannot have"},
    {"backslash", "https://app.example\\@evil.example/", "it has characters a URI cannot have"},
    {"relative path", "/oauth/done", "it is not an absolute URI"},
    {"scheme-relative", "//app.example/cb", "it is not an absolute URI"},
    {"no scheme", "app.example/cb", "it is not an absolute URI"},
    {"bad scheme", "1http://app.example/cb", "it is not an absolute URI"},
    {"bad port", "https://app.example:x/cb", "it is not an absolute URI"},
    {"javascript", "javascript:alert(1)", "its scheme is not allowed"},
    {"JavaScript", "JavaScript://%0aalert(1)", "its scheme is not allowed"},
    {"data", "data:text/html,<b>x</b>", "it has characters a URI cannot have"},
    {"data base64", "data:text/html;base64,PGI+", "its scheme is not allowed"},
    {"file", "file:///etc/passwd", "its scheme is not allowed"},
    {"vbscript", "vbscript:msgbox(1)", "its scheme is not allowed"},
    {"https without host", "https:/cb", "it has no host"},
    {"https empty host", "https://", "it has no host"},
    {"https empty host and path", "https:///cb", "it has no host"},
    {"port 0", "https://app.example:0/cb", "its port is not 1 to 65535"},
    {"port 65536", "https://app.example:65536/cb", "its port is not 1 to 65535"},
    {"port 99999", "http://localhost:99999/", "its port is not 1 to 65535"},
    {"scheme alone", "com.example.app:", "it is a scheme alone"},
};

START_TEST(test_redirect_uri_bad)
{
    const struct bad_uri *c = &bad_uris[_i];
    const char *why = NULL;
    ck_assert_msg(cn_url_redirect_uri_check(pool, c->uri, &why) == APR_EINVAL, "%s accepted",
                  c->name);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(!strcmp(why, c->why), "%s: refused because '%s', expected '%s'", c->name, why,
                  c->why);
    ck_assert_int_eq(cn_url_redirect_uri_check(pool, c->uri, NULL), APR_EINVAL);
}
END_TEST

START_TEST(test_redirect_uri_length)
{
    const char *prefix = "https://app.example/";
    apr_size_t room = CN_REDIRECT_URI_MAX - strlen(prefix);
    const char *at_max = apr_pstrcat(pool, prefix, repeat('a', room), NULL);
    const char *over = apr_pstrcat(pool, prefix, repeat('a', room + 1), NULL);
    const char *kib3 = apr_pstrcat(pool, prefix, repeat('b', 3072), NULL);
    const char *why = NULL;
    ck_assert_uint_eq(strlen(at_max), CN_REDIRECT_URI_MAX);
    ck_assert_int_eq(cn_url_redirect_uri_check(pool, at_max, NULL), APR_SUCCESS);
    ck_assert_int_eq(cn_url_redirect_uri_check(pool, over, &why), APR_EINVAL);
    ck_assert_str_eq(why, "it is longer than 2048 bytes");
    ck_assert_int_eq(cn_url_redirect_uri_check(pool, kib3, NULL), APR_EINVAL);
}
END_TEST

START_TEST(test_redirect_uri_null)
{
    const char *why = NULL;
    ck_assert_int_eq(cn_url_redirect_uri_check(pool, NULL, &why), APR_EINVAL);
    ck_assert_str_eq(why, "it is empty");
}
END_TEST

/* Every single control byte, anywhere, is refused. */
START_TEST(test_redirect_uri_every_control_byte)
{
    int b;
    for (b = 1; b < 0x20; ++b) {
        const char *uri = apr_psprintf(pool, "https://app.example/a%cb", b);
        ck_assert_msg(cn_url_redirect_uri_check(pool, uri, NULL) == APR_EINVAL,
                      "control byte 0x%02x accepted", b);
    }
}
END_TEST

/* ---- tenants ----------------------------------------------------------- */

static const struct tenant_case {
    const char *tenant;
    int valid;
} tenant_cases[] = {
    {"common", 1},
    {"organizations", 1},
    {"consumers", 1},
    {"Common", 1},
    {"ORGANIZATIONS", 1},
    {"72f988bf-86f1-41af-91ab-2d7cd011db47", 1},
    {"72F988BF-86F1-41AF-91AB-2D7CD011DB47", 1},
    {"contoso.onmicrosoft.com", 1},
    {"login.example.com", 1},
    {"a.b", 1},
    {"my-tenant.example", 1},
    {"xn--bcher-kva.example", 1},
    {"", 0},
    {"../../evil?x=", 0},
    {"a/b", 0},
    {"%2e%2e", 0},
    {"..", 0},
    {".", 0},
    {"evil", 0},                      /* one label: neither a keyword nor a domain */
    {"commons", 0},
    {"common.", 0},                   /* empty last label */
    {".example.com", 0},              /* empty first label */
    {"a..b", 0},
    {"-a.example", 0},
    {"a-.example", 0},
    {"a_b.example", 0},
    {"a b.example", 0},
    {"a.example\r\n", 0},
    {"a.example?x", 0},
    {"a.example#x", 0},
    {"a.example:443", 0},
    {"user@a.example", 0},
    {"caf\xc3\xa9.example", 0},
    {"72f988bf-86f1-41af-91ab-2d7cd011db4", 0},   /* 35 characters, one label */
    {"72f988bf-86f1-41af-91ab-2d7cd011db47x", 0}, /* 37 characters, one label */
    {"72f988bg-86f1-41af-91ab-2d7cd011db47", 0},  /* not hex */
    {"72f988bf86f1-41af-91ab-2d7cd011db47-", 0},  /* dashes misplaced */
    {"{72f988bf-86f1-41af-91ab-2d7cd011db47}", 0},
};

START_TEST(test_tenant)
{
    const struct tenant_case *c = &tenant_cases[_i];
    ck_assert_msg(cn_url_tenant_valid(c->tenant) == c->valid, "'%s': expected %s", c->tenant,
                  c->valid ? "valid" : "refused");
}
END_TEST

START_TEST(test_tenant_lengths)
{
    /* 63-byte labels are the most a label may have; 253 bytes in all. */
    const char *l63 = repeat('a', 63), *l64 = repeat('a', 64);
    const char *max = apr_pstrcat(pool, l63, ".", l63, ".", l63, ".", repeat('b', 61), NULL);
    const char *over = apr_pstrcat(pool, max, "c", NULL);
    ck_assert_uint_eq(strlen(max), CN_TENANT_MAX);
    ck_assert_int_eq(cn_url_tenant_valid(apr_pstrcat(pool, l63, ".example", NULL)), 1);
    ck_assert_int_eq(cn_url_tenant_valid(apr_pstrcat(pool, l64, ".example", NULL)), 0);
    ck_assert_int_eq(cn_url_tenant_valid(max), 1);
    ck_assert_int_eq(cn_url_tenant_valid(over), 0);
    ck_assert_int_eq(cn_url_tenant_valid(NULL), 0);
}
END_TEST

/* ---- origins for a Content-Security-Policy ------------------------------ */

static const struct origin_case {
    const char *url, *origin; /* NULL: refused */
} origin_cases[] = {
    {"https://app.example/cb", "https://app.example"},
    {"HTTPS://App.Example:8443/cb?x=1", "https://app.example:8443"},
    {"http://127.0.0.1:3000", "http://127.0.0.1:3000"},
    {"https://logo.example/img/logo.png", "https://logo.example"},
    {"com.example.app:/oauth", "com.example.app:"},
    {"Com.Example+x-y:/cb", "com.example+x-y:"},
    {"http://[::1]:8080/cb", NULL},
    {"https://a b/", NULL},
    {"https://app.example/'unsafe-inline'", NULL},
    {"https://app.example/;script-src", NULL},
    {"https://app.example/a,b", NULL},
    {"https://app.example:/x", NULL},
    {"https://app.example:0/x", NULL},
    {"https:///path", NULL},
    {"/relative", NULL},
    {"", NULL},
    {"caf\xc3\xa9://x", NULL},
    {"1abc:/x", NULL},
};

START_TEST(test_origin)
{
    const struct origin_case *c = &origin_cases[_i];
    const char *got = cn_url_origin(pool, c->url);
    if (c->origin) {
        ck_assert_msg(got && !strcmp(got, c->origin), "%s: got %s, want %s", c->url,
                      got ? got : "NULL", c->origin);
    }
    else {
        ck_assert_msg(!got, "%s: got %s, want NULL", c->url, got);
    }
}
END_TEST

static Suite *url_suite(void)
{
    Suite *s = suite_create("url");
    TCase *tc = cn_tcase("encode");
    tcase_add_loop_test(tc, test_encode, 0, N(encode_cases));
    tcase_add_test(tc, test_encode_null);
    suite_add_tcase(s, tc);

    tc = cn_tcase("redirect_uri");
    tcase_add_loop_test(tc, test_redirect_uri_good, 0, N(good_uris));
    tcase_add_loop_test(tc, test_redirect_uri_bad, 0, N(bad_uris));
    tcase_add_test(tc, test_redirect_uri_length);
    tcase_add_test(tc, test_redirect_uri_null);
    tcase_add_test(tc, test_redirect_uri_every_control_byte);
    suite_add_tcase(s, tc);

    tc = cn_tcase("tenant");
    tcase_add_loop_test(tc, test_tenant, 0, N(tenant_cases));
    tcase_add_loop_test(tc, test_origin, 0, N(origin_cases));
    tcase_add_test(tc, test_tenant_lengths);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(url_suite());
}
