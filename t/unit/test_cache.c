/* Unit tests of include/cn_cache.h: found only with the same signature,
 * references counted, replaced in place, starting over when full. */
#include <apr_strings.h>

#include "cn_cache.h"
#include "cn_test.h"

START_TEST(test_hit_needs_same_signature)
{
    cn_json_cache_t *c;
    json_t *v = json_pack("{s:s}", "email", "a@example.com"), *got;
    ck_assert_int_eq(cn_json_cache_make(pool, 8, &c), APR_SUCCESS);
    ck_assert_ptr_null(cn_json_cache_get(c, "id1", "sig"));
    cn_json_cache_put(c, "id1", "sig", v);
    got = cn_json_cache_get(c, "id1", "sig");
    ck_assert_ptr_eq(got, v);
    ck_assert_int_eq((int)v->refcount, 3); /* ours, the cache's, the one just got */
    json_decref(got);
    ck_assert_ptr_null(cn_json_cache_get(c, "id1", "other"));
    ck_assert_ptr_null(cn_json_cache_get(c, "id2", "sig"));
    json_decref(v);
}
END_TEST

START_TEST(test_replace_in_place)
{
    cn_json_cache_t *c;
    json_t *old = json_string("old"), *new = json_string("new"), *got;
    ck_assert_int_eq(cn_json_cache_make(pool, 8, &c), APR_SUCCESS);
    cn_json_cache_put(c, "k", "s1", old);
    cn_json_cache_put(c, "k", "s2", new);
    ck_assert_int_eq((int)old->refcount, 1); /* the cache let go of it */
    ck_assert_ptr_null(cn_json_cache_get(c, "k", "s1"));
    got = cn_json_cache_get(c, "k", "s2");
    ck_assert_str_eq(json_string_value(got), "new");
    json_decref(got);
    json_decref(old);
    json_decref(new);
}
END_TEST

START_TEST(test_many_under_one_lock)
{
    cn_json_cache_t *c;
    const char *keys[3] = {"a", "b", "c"}, *sigs[3] = {"1", "2", "x"};
    json_t *a = json_integer(1), *b = json_integer(2), *out[3];
    ck_assert_int_eq(cn_json_cache_make(pool, 8, &c), APR_SUCCESS);
    cn_json_cache_put(c, "a", "1", a);
    cn_json_cache_put(c, "b", "2", b);
    cn_json_cache_get_many(c, 3, keys, sigs, out);
    ck_assert_ptr_eq(out[0], a);
    ck_assert_ptr_eq(out[1], b);
    ck_assert_ptr_null(out[2]);
    json_decref(out[0]);
    json_decref(out[1]);
    json_decref(a);
    json_decref(b);
}
END_TEST

START_TEST(test_starts_over_when_full)
{
    cn_json_cache_t *c;
    json_t *v[4], *got;
    int i;
    ck_assert_int_eq(cn_json_cache_make(pool, 3, &c), APR_SUCCESS);
    for (i = 0; i < 4; ++i) {
        v[i] = json_integer(i);
        cn_json_cache_put(c, apr_itoa(pool, i), "s", v[i]);
    }
    /* the fourth put found the cache full: the first three were dropped */
    ck_assert_ptr_null(cn_json_cache_get(c, "0", "s"));
    ck_assert_int_eq((int)v[0]->refcount, 1);
    got = cn_json_cache_get(c, "3", "s");
    ck_assert_ptr_eq(got, v[3]);
    json_decref(got);
    for (i = 0; i < 4; ++i) {
        json_decref(v[i]);
    }
}
END_TEST

START_TEST(test_repeated_replacements_bounded)
{
    cn_json_cache_t *c;
    json_t *v = json_true(), *got;
    int i;
    ck_assert_int_eq(cn_json_cache_make(pool, 2, &c), APR_SUCCESS);
    /* the same key changing forever must not grow without bound: after
     * 2 * max puts the cache starts over, and the newest value is still found */
    for (i = 0; i < 100; ++i) {
        cn_json_cache_put(c, "k", apr_itoa(pool, i), v);
    }
    got = cn_json_cache_get(c, "k", "99");
    ck_assert_ptr_eq(got, v);
    json_decref(got);
}
END_TEST

START_TEST(test_pool_cleanup_releases)
{
    apr_pool_t *p;
    cn_json_cache_t *c;
    json_t *v = json_string("x");
    ck_assert_int_eq(apr_pool_create(&p, pool), APR_SUCCESS);
    ck_assert_int_eq(cn_json_cache_make(p, 8, &c), APR_SUCCESS);
    cn_json_cache_put(c, "k", "s", v);
    ck_assert_int_eq((int)v->refcount, 2);
    apr_pool_destroy(p);
    ck_assert_int_eq((int)v->refcount, 1);
    json_decref(v);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = cn_tcase("json cache");
    tcase_add_test(tc, test_hit_needs_same_signature);
    tcase_add_test(tc, test_replace_in_place);
    tcase_add_test(tc, test_many_under_one_lock);
    tcase_add_test(tc, test_starts_over_when_full);
    tcase_add_test(tc, test_repeated_replacements_bounded);
    tcase_add_test(tc, test_pool_cleanup_releases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(cache_suite());
}
