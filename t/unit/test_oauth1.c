/* Unit tests of the OAuth 1.0a signature code (src/core/proto/oauth1.c):
 * RFC 5849's own examples (§1.2 signatures that verify, the §3.4.1.1 base
 * string byte for byte), percent-encoding (§3.6), the header parser, the
 * PHP client's duplicated form parameters, the field checks and the nonce. */
#include <apr_strings.h>

#include "cn_proto.h"
#include "cn_test.h"
#include "cn_fakes.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static apr_array_header_t *params(void)
{
    return apr_array_make(pool, 8, sizeof(cn_oauth1_param_t));
}

/* ---- RFC 5849 §1.2: three requests whose signatures verify ---------------- */

static const struct rfc_case {
    const char *method, *base_uri, *authorization, *query, *form;
    const char *consumer_secret, *token_secret, *signature;
} rfc_cases[] = {
    /* §1.2 temporary credentials */
    {"POST", "https://photos.example.net/initiate",
     "OAuth realm=\"Photos\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", "
     "oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"137131200\", "
     "oauth_nonce=\"wIjqoS\", oauth_callback=\"http%3A%2F%2Fprinter.example.com%2Fready\", "
     "oauth_signature=\"74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D\"",
     NULL, NULL, "kd94hf93k423kf44", NULL, "74KNZJeDHnMBp0EMJ9ZHt/XKycU="},
    /* §1.2 token credentials */
    {"POST", "https://photos.example.net/token",
     "OAuth realm=\"Photos\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", "
     "oauth_token=\"hh5s93j4hdidpola\", oauth_signature_method=\"HMAC-SHA1\", "
     "oauth_timestamp=\"137131201\", oauth_nonce=\"walatlh\", "
     "oauth_verifier=\"hfdp7dh39dks9884\", oauth_signature=\"gKgrFCywp7rO0OXSjdot%2FIHF7IU%3D\"",
     NULL, NULL, "kd94hf93k423kf44", "hdhd0244k9j7ao03", "gKgrFCywp7rO0OXSjdot/IHF7IU="},
    /* §1.2 the protected resource, signed as http (the RFC's errata) */
    {"GET", "http://photos.example.net/photos",
     "OAuth realm=\"Photos\",oauth_consumer_key=\"dpf43f3p2l4k3l03\","
     "oauth_token=\"nnch734d00sl2jdk\",oauth_signature_method=\"HMAC-SHA1\","
     "oauth_timestamp=\"137131202\",oauth_nonce=\"chapoH\","
     "oauth_signature=\"MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D\"",
     "file=vacation.jpg&size=original", NULL, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00",
     "MdpQcU8iPSUjWoN/UDMsK2sui9I="},
    /* the same request in query form: every parameter in the query string */
    {"GET", "http://photos.example.net/photos", NULL,
     "file=vacation.jpg&size=original&oauth_consumer_key=dpf43f3p2l4k3l03"
     "&oauth_token=nnch734d00sl2jdk&oauth_signature_method=HMAC-SHA1"
     "&oauth_timestamp=137131202&oauth_nonce=chapoH"
     "&oauth_signature=MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D",
     NULL, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00", "MdpQcU8iPSUjWoN/UDMsK2sui9I="},
};

START_TEST(test_rfc_signature)
{
    const struct rfc_case *c = &rfc_cases[_i];
    cn_oauth1_request_t req = {c->method, c->authorization, c->query, c->form,
                               c->form ? strlen(c->form) : 0};
    cn_oauth1_signed_t *s = NULL;
    const char *why = NULL, *base;
    ck_assert_int_eq(cn_oauth1_collect(pool, &req, &s, &why), APR_SUCCESS);
    ck_assert_str_eq(s->signature, c->signature);
    base = cn_oauth1_base_string(pool, c->method, c->base_uri, s->params);
    ck_assert_str_eq(cn_oauth1_sign(pool, base, c->consumer_secret, c->token_secret),
                     c->signature);
    ck_assert(cn_oauth1_signature_valid(pool, s, c->method, c->base_uri, c->consumer_secret,
                                        c->token_secret));
    /* another secret, method or URI does not verify */
    ck_assert(!cn_oauth1_signature_valid(pool, s, c->method, c->base_uri, "kd94hf93k423kf45",
                                         c->token_secret));
    ck_assert(!cn_oauth1_signature_valid(pool, s, c->method, c->base_uri, c->consumer_secret,
                                         "other"));
    ck_assert(!cn_oauth1_signature_valid(pool, s, "PUT", c->base_uri, c->consumer_secret,
                                         c->token_secret));
    ck_assert(!cn_oauth1_signature_valid(pool, s, c->method,
                                         apr_pstrcat(pool, c->base_uri, "x", NULL),
                                         c->consumer_secret, c->token_secret));
}
END_TEST

/* ---- RFC 5849 §3.4.1.1: the base string, byte for byte -------------------- */

#define EXAMPLE_AUTH                                                                          \
    "OAuth realm=\"Example\", oauth_consumer_key=\"9djdj82h48djs9d2\", "                      \
    "oauth_token=\"kkk9d7dh3k39sjv7\", oauth_signature_method=\"HMAC-SHA1\", "                \
    "oauth_timestamp=\"137131201\", oauth_nonce=\"7d8f3e4a\", "                               \
    "oauth_signature=\"bYT5CMsGcbgUdFHObYMEfcx6bsw%3D\""
#define EXAMPLE_BASE                                                                          \
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D" \
    "%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D"     \
    "7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_"     \
    "token%3Dkkk9d7dh3k39sjv7"

START_TEST(test_rfc_base_string)
{
    cn_oauth1_request_t req = {"POST", EXAMPLE_AUTH, "b5=%3D%253D&a3=a&c%40=&a2=r%20b",
                               "c2&a3=2+q", 9};
    cn_oauth1_signed_t *s = NULL;
    const char *why = NULL;
    ck_assert_int_eq(cn_oauth1_collect(pool, &req, &s, &why), APR_SUCCESS);
    ck_assert_str_eq(s->consumer_key, "9djdj82h48djs9d2");
    ck_assert_str_eq(s->token, "kkk9d7dh3k39sjv7");
    ck_assert_int_eq(s->from_header, 1);
    ck_assert_ptr_null(s->dedup_params);
    ck_assert_str_eq(cn_oauth1_base_string(pool, "post",
                                           cn_oauth1_base_uri(pool, "HTTP", "EXAMPLE.COM", 80,
                                                              "/request"),
                                           s->params),
                     EXAMPLE_BASE);
}
END_TEST

/* ---- §3.4.1.2 base URIs ---------------------------------------------------- */

static const struct uri_case {
    const char *scheme, *host;
    int port;
    const char *path, *out;
} uri_cases[] = {
    {"HTTP", "EXAMPLE.COM", 80, "/r%20v/X", "http://example.com/r%20v/X"},
    {"https", "www.example.net", 8080, "/", "https://www.example.net:8080/"},
    {"https", "Example.Net", 443, "/2.0/connect_tokens", "https://example.net/2.0/connect_tokens"},
    {"http", "example.net", 443, "/a", "http://example.net:443/a"},
    {"https", "example.net", 80, "/a", "https://example.net:80/a"},
    {"http", "127.0.0.1", 8529, "", "http://127.0.0.1:8529/"},
    {"http", "::1", 8529, "/x", "http://[::1]:8529/x"},
};

START_TEST(test_base_uri)
{
    const struct uri_case *c = &uri_cases[_i];
    ck_assert_str_eq(cn_oauth1_base_uri(pool, c->scheme, c->host, c->port, c->path), c->out);
}
END_TEST

/* ---- §3.6 percent-encoding ------------------------------------------------- */

static const struct encode_case {
    const char *in, *out;
} encode_cases[] = {
    {"abcABC123", "abcABC123"},
    {"-._~", "-._~"},
    {"%", "%25"},
    {"+", "%2B"},
    {"&=*", "%26%3D%2A"},
    {" ", "%20"},
    {"\n", "%0A"},
    {"\x80", "%80"},
    {"caf\xc3\xa9", "caf%C3%A9"},
    {"", ""},
};

START_TEST(test_encode)
{
    ck_assert_str_eq(cn_oauth1_encode(pool, encode_cases[_i].in), encode_cases[_i].out);
}
END_TEST

/* ---- the header parser ------------------------------------------------------ */

static const struct header_case {
    const char *header;
    int ok, n;            /* parsed, and its parameter count (realm left out) */
    const char *name, *value; /* one of them */
} header_cases[] = {
    {"OAuth oauth_consumer_key=\"k\", oauth_nonce=\"n\"", 1, 2, "oauth_nonce", "n"},
    {"OAuth oauth_consumer_key=\"k\",oauth_nonce=\"n\"", 1, 2, "oauth_consumer_key", "k"},
    {"oauth   realm=\"r\" ,  oauth_token=\"\"", 1, 1, "oauth_token", ""},
    {"OAuth realm=\"\"", 1, 0, NULL, NULL},
    {"OAuth", 1, 0, NULL, NULL},
    {"OAuth oauth_signature=\"a%2Fb%3D\"", 1, 1, "oauth_signature", "a/b="},
    {"OAuth oauth_signature=\"a+b\"", 1, 1, "oauth_signature", "a+b"},
    {"OAuth x%20y=\"1\"", 1, 1, "x y", "1"},
    {"Basic Zm9vOmJhcg==", 0, 0, NULL, NULL},
    {"OAuthx a=\"1\"", 0, 0, NULL, NULL},
    {"OAuth a=1", 0, 0, NULL, NULL},
    {"OAuth a=\"1", 0, 0, NULL, NULL},
    {"OAuth a=\"1\" b=\"2\"", 0, 0, NULL, NULL},
    {"OAuth a=\"1\",", 0, 0, NULL, NULL},
    {"OAuth a=\"1\", a=\"2\"", 0, 0, NULL, NULL},
    {"OAuth =\"1\"", 0, 0, NULL, NULL},
    {"OAuth a=\"%zz\"", 0, 0, NULL, NULL},
    {"OAuth a=\"%00\"", 0, 0, NULL, NULL},
    {"OAuth ,a=\"1\"", 0, 0, NULL, NULL},
};

START_TEST(test_header)
{
    const struct header_case *c = &header_cases[_i];
    apr_array_header_t *out = NULL;
    const char *why = NULL;
    apr_status_t rv = cn_oauth1_header_parse(pool, c->header, &out, &why);
    if (!c->ok) {
        ck_assert_int_ne(rv, APR_SUCCESS);
        ck_assert_ptr_null(out);
        ck_assert_ptr_nonnull(why);
        return;
    }
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_int_eq(out->nelts, c->n);
    if (c->name) {
        int i, found = 0;
        for (i = 0; i < out->nelts; ++i) {
            cn_oauth1_param_t *p = &APR_ARRAY_IDX(out, i, cn_oauth1_param_t);
            if (!strcmp(p->name, c->name)) {
                ck_assert_str_eq(p->value, c->value);
                found = 1;
            }
        }
        ck_assert(found);
    }
}
END_TEST

START_TEST(test_header_too_long)
{
    apr_array_header_t *out = NULL;
    const char *why = NULL;
    char *h = apr_palloc(pool, CN_OAUTH1_HEADER_MAX + 20);
    memset(h, 'a', CN_OAUTH1_HEADER_MAX + 19);
    h[CN_OAUTH1_HEADER_MAX + 19] = '\0';
    memcpy(h, "OAuth a=\"", 9);
    h[CN_OAUTH1_HEADER_MAX + 18] = '"';
    ck_assert_int_ne(cn_oauth1_header_parse(pool, h, &out, &why), APR_SUCCESS);
}
END_TEST

/* ---- which parameters are collected ----------------------------------------- */

static const struct collect_case {
    const char *auth, *query, *form;
    int ok;
} collect_cases[] = {
    /* a complete set in each place */
    {"OAuth oauth_consumer_key=\"k\",oauth_signature=\"s\",oauth_signature_method=\"HMAC-SHA1\","
     "oauth_timestamp=\"1\",oauth_nonce=\"n\"", NULL, NULL, 1},
    {NULL, "oauth_consumer_key=k&oauth_signature=s&oauth_signature_method=HMAC-SHA1"
           "&oauth_timestamp=1&oauth_nonce=n", NULL, 1},
    {NULL, NULL, "oauth_consumer_key=k&oauth_signature=s&oauth_signature_method=HMAC-SHA1"
                 "&oauth_timestamp=1&oauth_nonce=n", 1},
    /* not signed */
    {NULL, "a=1", NULL, 0},
    {"Basic Zm9vOmJhcg==", NULL, NULL, 0},
    {NULL, "oauth_consumer_key=k&oauth_signature=s&oauth_signature_method=HMAC-SHA1"
           "&oauth_timestamp=1", NULL, 0},
    /* a protocol parameter twice */
    {NULL, "oauth_consumer_key=k&oauth_consumer_key=j&oauth_signature=s"
           "&oauth_signature_method=HMAC-SHA1&oauth_timestamp=1&oauth_nonce=n", NULL, 0},
    {"OAuth oauth_consumer_key=\"k\",oauth_signature=\"s\",oauth_signature_method=\"HMAC-SHA1\","
     "oauth_timestamp=\"1\",oauth_nonce=\"n\"", "oauth_nonce=m", NULL, 0},
    /* the PHP client's: the same protocol parameter in the query and the form */
    {NULL, "oauth_consumer_key=k&oauth_signature=s&oauth_signature_method=HMAC-SHA1"
           "&oauth_timestamp=1&oauth_nonce=n", "oauth_nonce=n", 1},
    {NULL, "oauth_consumer_key=k&oauth_signature=s&oauth_signature_method=HMAC-SHA1"
           "&oauth_timestamp=1&oauth_nonce=n", "oauth_nonce=m", 0},
    /* bad encoding */
    {NULL, "a=%G1", NULL, 0},
    {NULL, NULL, "a=%00", 0},
};

START_TEST(test_collect)
{
    const struct collect_case *c = &collect_cases[_i];
    cn_oauth1_request_t req = {"GET", c->auth, c->query, c->form, c->form ? strlen(c->form) : 0};
    cn_oauth1_signed_t *s = NULL;
    const char *why = NULL;
    apr_status_t rv = cn_oauth1_collect(pool, &req, &s, &why);
    if (c->ok) {
        ck_assert_int_eq(rv, APR_SUCCESS);
        ck_assert_str_eq(s->consumer_key, "k");
        ck_assert_str_eq(s->nonce, "n");
    }
    else {
        ck_assert_int_ne(rv, APR_SUCCESS);
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

/* The official PHP client signs a POST in query mode with its form parameters
 * in the query string as well: either base string verifies; a duplicate that
 * is not identical is counted as the RFC says. */
START_TEST(test_php_duplicates)
{
    const char *uri = "https://api.example/2.0/connect_tokens";
    apr_array_header_t *p = params();
    cn_oauth1_param_t *q;
    const char *oauth = "oauth_consumer_key=k&oauth_nonce=n&oauth_signature_method=HMAC-SHA1"
                        "&oauth_timestamp=1&oauth_version=1.0";
    const char *form = "callback_url=https%3A%2F%2Fapp.example%2Fcb&email=a%40b.example";
    const char *query = apr_pstrcat(pool, form, "&", oauth, NULL);
    const char *sig_once, *sig_twice, *query_once, *query_twice;
    cn_oauth1_signed_t *s = NULL;
    const char *why = NULL;
    cn_oauth1_request_t req = {"POST", NULL, NULL, form, strlen(form)};

    /* the signature over each duplicate once */
    ck_assert_int_eq(cn_oauth1_form_parse(pool, query, strlen(query), p, &why), APR_SUCCESS);
    sig_once = cn_oauth1_sign(pool, cn_oauth1_base_string(pool, "POST", uri, p), "secret", NULL);
    /* and over both copies */
    ck_assert_int_eq(cn_oauth1_form_parse(pool, form, strlen(form), p, &why), APR_SUCCESS);
    sig_twice = cn_oauth1_sign(pool, cn_oauth1_base_string(pool, "POST", uri, p), "secret", NULL);
    ck_assert_str_ne(sig_once, sig_twice);

    query_once = apr_pstrcat(pool, query, "&oauth_signature=", cn_oauth1_encode(pool, sig_once),
                             NULL);
    query_twice = apr_pstrcat(pool, query, "&oauth_signature=",
                              cn_oauth1_encode(pool, sig_twice), NULL);
    req.query = query_once;
    ck_assert_int_eq(cn_oauth1_collect(pool, &req, &s, &why), APR_SUCCESS);
    ck_assert_ptr_nonnull(s->dedup_params);
    ck_assert(cn_oauth1_signature_valid(pool, s, "POST", uri, "secret", NULL));
    ck_assert(!cn_oauth1_signature_valid(pool, s, "POST", uri, "other", NULL));
    req.query = query_twice;
    ck_assert_int_eq(cn_oauth1_collect(pool, &req, &s, &why), APR_SUCCESS);
    ck_assert(cn_oauth1_signature_valid(pool, s, "POST", uri, "secret", NULL));

    /* a form value that differs from the query's is two parameters: only the
     * strict base string counts, and the once-signature does not verify */
    req.form = "callback_url=https%3A%2F%2Fapp.example%2Fcb&email=c%40d.example";
    req.form_len = strlen(req.form);
    req.query = query_once;
    ck_assert_int_eq(cn_oauth1_collect(pool, &req, &s, &why), APR_SUCCESS);
    q = &APR_ARRAY_IDX(s->params, 0, cn_oauth1_param_t);
    ck_assert_str_eq(q->name, "callback_url");
    ck_assert(!cn_oauth1_signature_valid(pool, s, "POST", uri, "secret", NULL));
}
END_TEST

/* ---- the field checks -------------------------------------------------------- */

static const struct field_case {
    const char *method, *timestamp, *nonce, *version;
    int ok;
} field_cases[] = {
    {"HMAC-SHA1", "1000000", "n", NULL, 1},
    {"HMAC-SHA1", "1000000", "n", "1.0", 1},
    {"HMAC-SHA1", "1000300", "n", NULL, 1},
    {"HMAC-SHA1", "999700", "n", NULL, 1},
    {"HMAC-SHA1", "1000301", "n", NULL, 0},
    {"HMAC-SHA1", "999699", "n", NULL, 0},
    {"HMAC-SHA1", "", "n", NULL, 0},
    {"HMAC-SHA1", "-1000000", "n", NULL, 0},
    {"HMAC-SHA1", "1000000.5", "n", NULL, 0},
    {"HMAC-SHA1", "99999999999999999999", "n", NULL, 0},
    {"HMAC-SHA1", "1000000", "", NULL, 0},
    {"HMAC-SHA1", "1000000", "n", "2.0", 0},
    {"hmac-sha1", "1000000", "n", NULL, 0},
    {"PLAINTEXT", "1000000", "n", NULL, 0},
    {"RSA-SHA1", "1000000", "n", NULL, 0},
    {"HMAC-SHA256", "1000000", "n", NULL, 0},
};

START_TEST(test_fields)
{
    const struct field_case *c = &field_cases[_i];
    cn_oauth1_signed_t s = {0};
    const char *why = NULL;
    s.signature_method = c->method;
    s.timestamp = c->timestamp;
    s.nonce = c->nonce;
    s.version = c->version;
    ck_assert_int_eq(cn_oauth1_check_fields(&s, 1000000, &why) == APR_SUCCESS, c->ok);
    ck_assert(c->ok || why);
}
END_TEST

/* ---- the nonce ----------------------------------------------------------------- */

START_TEST(test_nonce)
{
    cn_fake_cache_t cache;
    cn_ctx_t ctx = {0};
    cn_oauth1_signed_t s = {0};
    cn_fake_cache_init(&cache);
    ctx.pool = pool;
    s.consumer_key = "k";
    s.timestamp = "1000000";
    s.nonce = "n";
    /* no cache: refused (fail closed) */
    ck_assert_int_ne(cn_oauth1_nonce_spend(&ctx, &s), APR_SUCCESS);
    ck_assert_str_eq(ctx.res.event->type, "service_unavailable");
    ctx.cache = &cache.seam;
    ck_assert_int_eq(cn_oauth1_nonce_spend(&ctx, &s), APR_SUCCESS);
    ck_assert_int_eq(cache.last_ttl, 2 * CN_OAUTH1_WINDOW + 1);
    /* the same again: a replay */
    ck_assert_int_ne(cn_oauth1_nonce_spend(&ctx, &s), APR_SUCCESS);
    ck_assert_str_eq(ctx.res.event->type, "invalid_request_error");
    /* another timestamp, token or consumer: new */
    s.timestamp = "1000001";
    ck_assert_int_eq(cn_oauth1_nonce_spend(&ctx, &s), APR_SUCCESS);
    s.token = "t";
    ck_assert_int_eq(cn_oauth1_nonce_spend(&ctx, &s), APR_SUCCESS);
    s.consumer_key = "j";
    ck_assert_int_eq(cn_oauth1_nonce_spend(&ctx, &s), APR_SUCCESS);
    /* a cache that fails: refused */
    cache.incr_fails = APR_EGENERAL;
    s.nonce = "m";
    ck_assert_int_ne(cn_oauth1_nonce_spend(&ctx, &s), APR_SUCCESS);
    ck_assert_str_eq(ctx.res.event->type, "service_unavailable");
}
END_TEST

static Suite *oauth1_suite(void)
{
    Suite *s = suite_create("oauth1");
    TCase *tc = cn_tcase("rfc5849");
    tcase_add_loop_test(tc, test_rfc_signature, 0, N(rfc_cases));
    tcase_add_test(tc, test_rfc_base_string);
    tcase_add_loop_test(tc, test_base_uri, 0, N(uri_cases));
    tcase_add_loop_test(tc, test_encode, 0, N(encode_cases));
    suite_add_tcase(s, tc);

    tc = cn_tcase("parse");
    tcase_add_loop_test(tc, test_header, 0, N(header_cases));
    tcase_add_test(tc, test_header_too_long);
    tcase_add_loop_test(tc, test_collect, 0, N(collect_cases));
    tcase_add_test(tc, test_php_duplicates);
    suite_add_tcase(s, tc);

    tc = cn_tcase("checks");
    tcase_add_loop_test(tc, test_fields, 0, N(field_cases));
    tcase_add_test(tc, test_nonce);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(oauth1_suite());
}
