/* Unit tests of include/cn_json.h: parsing, typed access, string arrays,
 * unknown keys, compact dumps and pool ownership. */
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_test.h"

static json_t *parse_ok(const char *text)
{
    const char *err = NULL;
    json_t *j = cn_json_parse(pool, text, strlen(text), &err);
    ck_assert_msg(j != NULL, "failed to parse %s: %s", text, err ? err : "(no error)");
    return j;
}

/* ---- parsing ----------------------------------------------------------- */

START_TEST(test_parse_valid_object)
{
    static const char text[] =
        "{\"name\": \"Google\", \"n\": 42, \"ok\": true, \"obj\": {\"a\": null},"
        " \"list\": [\"x\", \"y\"], \"uni\": \"\\u00e9\"}";
    const char *err = "untouched";
    json_t *j = cn_json_parse(pool, text, sizeof(text) - 1, &err);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(err, "untouched");
    ck_assert(json_is_object(j));
    ck_assert_uint_eq(json_object_size(j), 6);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "Google");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "n")), 42);
    ck_assert(json_is_true(json_object_get(j, "ok")));
    ck_assert(json_is_null(json_object_get(json_object_get(j, "obj"), "a")));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "list")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(j, "uni")), "\xc3\xa9");
}
END_TEST

START_TEST(test_parse_uses_len)
{
    /* Only LEN bytes are parsed: the rest of the buffer is not part of it. */
    static const char text[] = "{\"a\":1}garbage";
    json_t *j = cn_json_parse(pool, text, 7, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "a")), 1);
    ck_assert_ptr_null(cn_json_parse(pool, text, sizeof(text) - 1, NULL));
}
END_TEST

static const struct bad_case {
    const char *name;
    const char *text;
    apr_size_t len; /* 0: strlen */
    const char *err_has;
} bad_cases[] = {
    {"empty", "", 0, NULL},
    {"unterminated object", "{", 0, NULL},
    {"missing value", "{\"a\":}", 0, NULL},
    {"trailing comma", "{\"a\":1,}", 0, NULL},
    {"single quotes", "{'a':1}", 0, NULL},
    {"bare word", "hello", 0, NULL},
    {"two documents", "{} {}", 0, NULL},
    {"unterminated string", "{\"a\":\"x}", 0, NULL},
    {"invalid utf-8", "{\"a\":\"\xff\"}", 0, NULL},
    {"escaped NUL", "{\"a\":\"x\\u0000y\"}", 0, "NUL character"},
    {"escaped NUL alone", "[\"\\u0000\"]", 0, "NUL character"},
    /* the error names where, never what: jansson's own text would quote it */
    {"unquoted secret", "{\"refresh_token\": SECRETWORDabcdef}", 0, "invalid syntax"},
    {"secret after a value", "{\"a\":1} SECRETWORDabcdef", 0, "after the JSON value"},
    {"secret in a bad escape", "{\"a\":\"SECRETWORD\\qabcdef\"}", 0, "byte"},
    {"raw NUL in string", "{\"a\":\"x\0y\"}", 11, NULL},
    {"raw NUL after document", "{\"a\":1}\0", 8, NULL},
    {"duplicate keys", "{\"a\":1,\"a\":2}", 0, "duplicate"},
    {"duplicate keys, same value", "{\"a\":1,\"b\":2,\"a\":1}", 0, "duplicate"},
    {"nested duplicate keys", "{\"o\":{\"k\":\"x\",\"k\":\"y\"}}", 0, "duplicate"},
};

START_TEST(test_parse_malformed)
{
    const struct bad_case *c = &bad_cases[_i];
    apr_size_t len = c->len ? c->len : strlen(c->text);
    const char *err = NULL;
    ck_assert_msg(cn_json_parse(pool, c->text, len, &err) == NULL, "%s: parsed", c->name);
    ck_assert_msg(err != NULL && *err, "%s: no error text", c->name);
    ck_assert_msg(strstr(err, "line") != NULL, "%s: error text \"%s\" has no position", c->name,
                  err);
    if (c->err_has) {
        ck_assert_msg(strstr(err, c->err_has) != NULL, "%s: error \"%s\" does not mention %s",
                      c->name, err, c->err_has);
    }
    ck_assert_msg(strstr(err, "SECRET") == NULL && strstr(err, "abcdef") == NULL,
                  "%s: error \"%s\" quotes the input", c->name, err);
    /* ERR is optional */
    ck_assert_ptr_null(cn_json_parse(pool, c->text, len, NULL));
}
END_TEST

START_TEST(test_load_stored)
{
    json_t *j;
    ck_assert_ptr_null(cn_json_load_stored(pool, NULL));
    ck_assert_ptr_null(cn_json_load_stored(pool, ""));
    ck_assert_ptr_null(cn_json_load_stored(pool, "[1,"));
    j = cn_json_load_stored(pool, "[\"https://a.example/cb\",\"https://b.example/cb\"]");
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(json_array_size(j), 2);
    ck_assert_str_eq(json_string_value(json_array_get(j, 1)), "https://b.example/cb");
    j = cn_json_load_stored(pool, "{\"k\":\"v\"}");
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "k")), "v");
}
END_TEST

/* ---- typed access ------------------------------------------------------ */

static const char typed_doc[] =
    "{\"s\":\"text\",\"empty\":\"\",\"i\":-7,\"big\":9007199254740993,\"r\":1.5,"
    "\"t\":true,\"f\":false,\"n\":null,\"o\":{\"x\":1},\"a\":[1],\"is\":\"12\"}";

START_TEST(test_get_string)
{
    json_t *j = parse_ok(typed_doc);
    const char *s = "untouched";
    static const char *const wrong[] = {"i", "r", "t", "n", "o", "a"};
    size_t k;
    ck_assert_int_eq(cn_json_get_string(j, "s", &s), APR_SUCCESS);
    ck_assert_str_eq(s, "text");
    ck_assert_int_eq(cn_json_get_string(j, "empty", &s), APR_SUCCESS);
    ck_assert_str_eq(s, "");
    s = "untouched";
    ck_assert_int_eq(cn_json_get_string(j, "missing", &s), APR_SUCCESS);
    ck_assert_str_eq(s, "untouched");
    for (k = 0; k < sizeof(wrong) / sizeof(wrong[0]); ++k) {
        ck_assert_msg(cn_json_get_string(j, wrong[k], &s) == APR_EINVAL,
                      "key %s accepted as a string", wrong[k]);
    }
}
END_TEST

START_TEST(test_get_int)
{
    json_t *j = parse_ok(typed_doc);
    long long v = 12345;
    static const char *const wrong[] = {"s", "r", "t", "f", "n", "o", "a", "is"};
    size_t k;
    ck_assert_int_eq(cn_json_get_int(j, "i", &v), APR_SUCCESS);
    ck_assert_int_eq(v, -7);
    ck_assert_int_eq(cn_json_get_int(j, "big", &v), APR_SUCCESS);
    ck_assert(v == 9007199254740993LL);
    v = 12345;
    ck_assert_int_eq(cn_json_get_int(j, "missing", &v), APR_SUCCESS);
    ck_assert_int_eq(v, 12345);
    for (k = 0; k < sizeof(wrong) / sizeof(wrong[0]); ++k) {
        ck_assert_msg(cn_json_get_int(j, wrong[k], &v) == APR_EINVAL,
                      "key %s accepted as an integer", wrong[k]);
    }
}
END_TEST

START_TEST(test_get_object)
{
    json_t *j = parse_ok(typed_doc), *o = NULL, *sentinel = json_null();
    static const char *const wrong[] = {"s", "i", "r", "t", "n", "a"};
    size_t k;
    ck_assert_int_eq(cn_json_get_object(j, "o", &o), APR_SUCCESS);
    ck_assert_ptr_nonnull(o);
    ck_assert(json_is_object(o));
    ck_assert_ptr_eq(o, json_object_get(j, "o"));
    o = sentinel;
    ck_assert_int_eq(cn_json_get_object(j, "missing", &o), APR_SUCCESS);
    ck_assert_ptr_eq(o, sentinel);
    for (k = 0; k < sizeof(wrong) / sizeof(wrong[0]); ++k) {
        ck_assert_msg(cn_json_get_object(j, wrong[k], &o) == APR_EINVAL,
                      "key %s accepted as an object", wrong[k]);
    }
}
END_TEST

START_TEST(test_get_bool)
{
    json_t *j = parse_ok(typed_doc);
    int b = 7;
    static const char *const wrong[] = {"s", "i", "r", "n", "o", "a", "empty"};
    size_t k;
    ck_assert_int_eq(cn_json_get_bool(j, "t", &b), APR_SUCCESS);
    ck_assert_int_ne(b, 0);
    ck_assert_int_eq(cn_json_get_bool(j, "f", &b), APR_SUCCESS);
    ck_assert_int_eq(b, 0);
    b = 7;
    ck_assert_int_eq(cn_json_get_bool(j, "missing", &b), APR_SUCCESS);
    ck_assert_int_eq(b, 7);
    for (k = 0; k < sizeof(wrong) / sizeof(wrong[0]); ++k) {
        ck_assert_msg(cn_json_get_bool(j, wrong[k], &b) == APR_EINVAL,
                      "key %s accepted as a boolean", wrong[k]);
    }
}
END_TEST

/* ---- string arrays (maxn 3, maxlen 5) ----------------------------------- */

static const struct sa_case {
    const char *name;
    const char *doc;
    apr_status_t rv;
    int count; /* expected size when accepted */
} sa_cases[] = {
    {"empty array", "{\"v\":[]}", APR_SUCCESS, 0},
    {"one", "{\"v\":[\"a\"]}", APR_SUCCESS, 1},
    {"at the count limit", "{\"v\":[\"a\",\"bb\",\"ccc\"]}", APR_SUCCESS, 3},
    {"over the count limit", "{\"v\":[\"a\",\"b\",\"c\",\"d\"]}", APR_EINVAL, 0},
    {"at the length limit", "{\"v\":[\"abcde\"]}", APR_SUCCESS, 1},
    {"over the length limit", "{\"v\":[\"a\",\"abcdef\"]}", APR_EINVAL, 0},
    {"length counts bytes", "{\"v\":[\"\\u00e9\\u00e9\\u00e9\"]}", APR_EINVAL, 0},
    {"multibyte within the limit", "{\"v\":[\"\\u00e9\\u00e9\"]}", APR_SUCCESS, 1},
    {"empty string", "{\"v\":[\"a\",\"\"]}", APR_EINVAL, 0},
    {"number item", "{\"v\":[\"a\",1]}", APR_EINVAL, 0},
    {"null item", "{\"v\":[null]}", APR_EINVAL, 0},
    {"nested array", "{\"v\":[[\"a\"]]}", APR_EINVAL, 0},
    {"object item", "{\"v\":[{}]}", APR_EINVAL, 0},
    {"not an array: string", "{\"v\":\"a\"}", APR_EINVAL, 0},
    {"not an array: object", "{\"v\":{\"a\":\"b\"}}", APR_EINVAL, 0},
    {"not an array: null", "{\"v\":null}", APR_EINVAL, 0},
};

START_TEST(test_get_string_array)
{
    const struct sa_case *c = &sa_cases[_i];
    json_t *j = parse_ok(c->doc), *sentinel = json_null(), *out = sentinel;
    apr_status_t rv = cn_json_get_string_array(j, "v", 3, 5, &out);
    ck_assert_msg(rv == c->rv, "%s: rv %d, expected %d", c->name, rv, c->rv);
    if (c->rv == APR_SUCCESS) {
        ck_assert_ptr_eq(out, json_object_get(j, "v"));
        ck_assert_int_eq((int)json_array_size(out), c->count);
    }
}
END_TEST

START_TEST(test_get_string_array_missing)
{
    json_t *j = parse_ok("{\"other\":[1]}"), *sentinel = json_null(), *out = sentinel;
    ck_assert_int_eq(cn_json_get_string_array(j, "v", 3, 5, &out), APR_SUCCESS);
    ck_assert_ptr_eq(out, sentinel);
}
END_TEST

START_TEST(test_get_string_array_zero_max)
{
    json_t *j = parse_ok("{\"e\":[],\"v\":[\"a\"]}"), *out = NULL;
    ck_assert_int_eq(cn_json_get_string_array(j, "e", 0, 5, &out), APR_SUCCESS);
    ck_assert_int_eq(cn_json_get_string_array(j, "v", 0, 5, &out), APR_EINVAL);
}
END_TEST

/* ---- unknown keys ------------------------------------------------------ */

START_TEST(test_unknown_key)
{
    static const char *const allowed[] = {"name", "provider", "settings", NULL};
    static const char *const none[] = {NULL};
    const char *k;
    ck_assert_ptr_null(cn_json_unknown_key(parse_ok("{}"), allowed));
    ck_assert_ptr_null(cn_json_unknown_key(parse_ok("{}"), none));
    ck_assert_ptr_null(cn_json_unknown_key(parse_ok("{\"name\":1,\"settings\":{}}"), allowed));
    ck_assert_ptr_null(
        cn_json_unknown_key(parse_ok("{\"provider\":1,\"name\":2,\"settings\":3}"), allowed));
    k = cn_json_unknown_key(parse_ok("{\"name\":1,\"secret\":2}"), allowed);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "secret");
    /* not a prefix match, not case-insensitive */
    k = cn_json_unknown_key(parse_ok("{\"nam\":1}"), allowed);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "nam");
    k = cn_json_unknown_key(parse_ok("{\"Name\":1}"), allowed);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "Name");
    k = cn_json_unknown_key(parse_ok("{\"x\":1}"), none);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "x");
    /* the first unknown key in document order */
    k = cn_json_unknown_key(parse_ok("{\"name\":1,\"zz\":2,\"aa\":3}"), allowed);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k, "zz");
}
END_TEST

/* ---- dump -------------------------------------------------------------- */

static const struct dump_case {
    const char *in;
    const char *out;
} dump_cases[] = {
    {"{ \"a\" : 1 ,\n \"b\" : [ 1 , 2 , { } ] }", "{\"a\":1,\"b\":[1,2,{}]}"},
    {"{\"z\":1,\"a\":2,\"m\":3}", "{\"z\":1,\"a\":2,\"m\":3}"}, /* order kept */
    {"[ ]", "[]"},
    {"{\"s\":\"a\\\"b\\\\c\\n\"}", "{\"s\":\"a\\\"b\\\\c\\n\"}"},
    {"{\"t\":true,\"f\":false,\"n\":null}", "{\"t\":true,\"f\":false,\"n\":null}"},
    {"{\"u\":\"\\u00e9\"}", "{\"u\":\"\xc3\xa9\"}"},
    {"{\"x\":-12}", "{\"x\":-12}"},
};

START_TEST(test_dump_compact)
{
    const struct dump_case *c = &dump_cases[_i];
    const char *s = cn_json_dump(pool, parse_ok(c->in));
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, c->out);
}
END_TEST

START_TEST(test_dump_scalar)
{
    json_t *j = cn_json_own(pool, json_integer(5));
    ck_assert_str_eq(cn_json_dump(pool, j), "5");
    j = cn_json_own(pool, json_string("x"));
    ck_assert_str_eq(cn_json_dump(pool, j), "\"x\"");
}
END_TEST

/* ---- ownership --------------------------------------------------------- */

START_TEST(test_own_drops_reference)
{
    apr_pool_t *sub;
    json_t *j = json_object(), *ret;
    ck_assert_ptr_nonnull(j);
    json_incref(j); /* our own reference, to observe the count after the pool */
    ck_assert_uint_eq(j->refcount, 2);
    ck_assert_int_eq(apr_pool_create(&sub, pool), APR_SUCCESS);
    ret = cn_json_own(sub, j);
    ck_assert_ptr_eq(ret, j);
    ck_assert_uint_eq(j->refcount, 2); /* owning does not take another one */
    apr_pool_destroy(sub);
    ck_assert_uint_eq(j->refcount, 1);
    json_decref(j);
}
END_TEST

START_TEST(test_own_clear)
{
    apr_pool_t *sub;
    json_t *j = json_array();
    ck_assert_ptr_nonnull(j);
    json_incref(j);
    ck_assert_int_eq(apr_pool_create(&sub, pool), APR_SUCCESS);
    cn_json_own(sub, j);
    apr_pool_clear(sub);
    ck_assert_uint_eq(j->refcount, 1);
    apr_pool_destroy(sub);
    ck_assert_uint_eq(j->refcount, 1); /* cleared once, not twice */
    json_decref(j);
}
END_TEST

START_TEST(test_own_null)
{
    ck_assert_ptr_null(cn_json_own(pool, NULL));
}
END_TEST

START_TEST(test_parse_owned_by_pool)
{
    apr_pool_t *sub;
    json_t *j;
    ck_assert_int_eq(apr_pool_create(&sub, pool), APR_SUCCESS);
    j = cn_json_parse(sub, "{\"a\":[1,2]}", 11, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_uint_eq(j->refcount, 1);
    json_incref(j);
    apr_pool_destroy(sub);
    ck_assert_uint_eq(j->refcount, 1);
    json_decref(j);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc;

    tc = cn_tcase("parse");
    tcase_add_test(tc, test_parse_valid_object);
    tcase_add_test(tc, test_parse_uses_len);
    tcase_add_loop_test(tc, test_parse_malformed, 0, N(bad_cases));
    tcase_add_test(tc, test_load_stored);
    suite_add_tcase(s, tc);

    tc = cn_tcase("access");
    tcase_add_test(tc, test_get_string);
    tcase_add_test(tc, test_get_int);
    tcase_add_test(tc, test_get_object);
    tcase_add_test(tc, test_get_bool);
    tcase_add_loop_test(tc, test_get_string_array, 0, N(sa_cases));
    tcase_add_test(tc, test_get_string_array_missing);
    tcase_add_test(tc, test_get_string_array_zero_max);
    tcase_add_test(tc, test_unknown_key);
    suite_add_tcase(s, tc);

    tc = cn_tcase("dump");
    tcase_add_loop_test(tc, test_dump_compact, 0, N(dump_cases));
    tcase_add_test(tc, test_dump_scalar);
    suite_add_tcase(s, tc);

    tc = cn_tcase("ownership");
    tcase_add_test(tc, test_own_drops_reference);
    tcase_add_test(tc, test_own_clear);
    tcase_add_test(tc, test_own_null);
    tcase_add_test(tc, test_parse_owned_by_pool);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(json_suite());
}
