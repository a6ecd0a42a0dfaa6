/* Unit tests of include/cn_cache.h: found only with the same signature,
 * copied out to the reader, replaced in place, starting over when full; and
 * cn_json_splice_array, which builds list answers from cached renderings. */
#include <string.h>
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_test.h"

static cn_text_t text_of(const char *s)
{
    cn_text_t t;
    t.text = s;
    t.len = strlen(s);
    return t;
}

static const char *get1(cn_text_cache_t *c, const char *key, const char *sig)
{
    cn_text_t out;
    const char *keys[1], *sigs[1];
    keys[0] = key;
    sigs[0] = sig;
    return cn_text_cache_get_many(c, pool, 1, keys, sigs, &out) == 1 ? out.text : NULL;
}

START_TEST(test_hit_needs_same_signature)
{
    cn_text_cache_t *c;
    char buf[32];
    cn_text_t v;
    const char *got;
    strcpy(buf, "{\"email\":\"a@example.com\"}");
    v = text_of(buf);
    ck_assert_int_eq(cn_text_cache_make(pool, 8, &c), APR_SUCCESS);
    ck_assert_ptr_null(get1(c, "id1", "sig"));
    cn_text_cache_put(c, "id1", "sig", &v);
    buf[0] = 'X'; /* the cache holds its own copy */
    got = get1(c, "id1", "sig");
    ck_assert_str_eq(got, "{\"email\":\"a@example.com\"}");
    ck_assert_ptr_ne(got, buf);
    ck_assert_ptr_null(get1(c, "id1", "other"));
    ck_assert_ptr_null(get1(c, "id2", "sig"));
}
END_TEST

START_TEST(test_replace_in_place)
{
    cn_text_cache_t *c;
    cn_text_t old = text_of("\"old\""), new = text_of("\"new\"");
    ck_assert_int_eq(cn_text_cache_make(pool, 8, &c), APR_SUCCESS);
    cn_text_cache_put(c, "k", "s1", &old);
    cn_text_cache_put(c, "k", "s2", &new);
    ck_assert_ptr_null(get1(c, "k", "s1"));
    ck_assert_str_eq(get1(c, "k", "s2"), "\"new\"");
}
END_TEST

START_TEST(test_many_under_one_lock)
{
    cn_text_cache_t *c;
    const char *keys[3] = {"a", "b", "c"}, *sigs[3] = {"1", "2", "x"};
    cn_text_t a = text_of("1"), b = text_of("22"), out[3];
    ck_assert_int_eq(cn_text_cache_make(pool, 8, &c), APR_SUCCESS);
    cn_text_cache_put(c, "a", "1", &a);
    cn_text_cache_put(c, "b", "2", &b);
    ck_assert_int_eq(cn_text_cache_get_many(c, pool, 3, keys, sigs, out), 2);
    ck_assert_str_eq(out[0].text, "1");
    ck_assert_uint_eq(out[0].len, 1);
    ck_assert_str_eq(out[1].text, "22");
    ck_assert_uint_eq(out[1].len, 2);
    ck_assert_ptr_null(out[2].text);
    ck_assert_uint_eq(out[2].len, 0);
}
END_TEST

START_TEST(test_starts_over_when_full)
{
    cn_text_cache_t *c;
    cn_text_t v;
    int i;
    ck_assert_int_eq(cn_text_cache_make(pool, 3, &c), APR_SUCCESS);
    for (i = 0; i < 4; ++i) {
        v = text_of(apr_itoa(pool, i));
        cn_text_cache_put(c, apr_itoa(pool, i), "s", &v);
    }
    /* the fourth put found the cache full: the first three were dropped */
    ck_assert_ptr_null(get1(c, "0", "s"));
    ck_assert_ptr_null(get1(c, "2", "s"));
    ck_assert_str_eq(get1(c, "3", "s"), "3");
}
END_TEST

START_TEST(test_repeated_replacements_bounded)
{
    cn_text_cache_t *c;
    cn_text_t v;
    int i;
    ck_assert_int_eq(cn_text_cache_make(pool, 2, &c), APR_SUCCESS);
    /* the same key changing forever must not grow without bound: after
     * 2 * max puts the cache starts over, and the newest value is still found */
    for (i = 0; i < 100; ++i) {
        v = text_of(apr_itoa(pool, i));
        cn_text_cache_put(c, "k", apr_itoa(pool, i), &v);
    }
    ck_assert_str_eq(get1(c, "k", "99"), "99");
    ck_assert_ptr_null(get1(c, "k", "98"));
}
END_TEST

static const char *splice(json_t *skeleton, int n, const cn_text_t *items, apr_size_t *len)
{
    const char *out = cn_json_splice_array(pool, skeleton, items, n, len);
    json_decref(skeleton);
    return out;
}

START_TEST(test_splice_array)
{
    cn_text_t items[3] = {text_of("{\"id\":\"a\",\"n\":[1,2]}"), text_of("\"b,]\""),
                          text_of("null")};
    apr_size_t len = 0;
    const char *out;
    json_t *back;
    out = splice(json_pack("{s:[],s:i,s:i}", "data", "limit", 50, "offset", 0), 3, items, &len);
    ck_assert_str_eq(out, "{\"data\":[{\"id\":\"a\",\"n\":[1,2]},\"b,]\",null],\"limit\":50,"
                          "\"offset\":0}");
    ck_assert_uint_eq(len, strlen(out));
    /* and it is a JSON document with the items in order */
    back = cn_json_parse(pool, out, len, NULL);
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq((int)json_array_size(json_object_get(back, "data")), 3);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(back, "data"), 1)), "b,]");
    out = splice(json_pack("{s:[],s:i}", "data", "limit", 10), 0, items, &len);
    ck_assert_str_eq(out, "{\"data\":[],\"limit\":10}");
    ck_assert_uint_eq(len, strlen(out));
    out = splice(json_pack("{s:[]}", "data"), 1, items + 2, &len);
    ck_assert_str_eq(out, "{\"data\":[null]}");
}
END_TEST

START_TEST(test_splice_needs_an_empty_first_array)
{
    cn_text_t one = text_of("1");
    apr_size_t len = 7;
    ck_assert_ptr_null(splice(json_pack("{s:i,s:[]}", "limit", 1, "data"), 1, &one, &len));
    ck_assert_ptr_null(splice(json_pack("{s:[i]}", "data", 2), 1, &one, &len));
    ck_assert_ptr_null(splice(json_pack("[]"), 1, &one, &len));
    ck_assert_uint_eq(len, 7); /* untouched on failure */
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = cn_tcase("text cache");
    tcase_add_test(tc, test_hit_needs_same_signature);
    tcase_add_test(tc, test_replace_in_place);
    tcase_add_test(tc, test_many_under_one_lock);
    tcase_add_test(tc, test_starts_over_when_full);
    tcase_add_test(tc, test_repeated_replacements_bounded);
    tcase_add_test(tc, test_splice_array);
    tcase_add_test(tc, test_splice_needs_an_empty_first_array);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(cache_suite());
}
