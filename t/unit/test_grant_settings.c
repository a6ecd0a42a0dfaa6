/* Unit tests of a grant's settings (include/cn_grant.h): the merge of a PATCH
 * (secret-bearing values sealed in place, bound to their key and grant; the
 * refresh token handed back for its column; nested secrets and non-string
 * secrets refused; the size cap), and ConnectReencrypt's re-sealing. */
#include <apr_strings.h>

#include "cn_model.h"
#include "cn_util.h"
#include "cn_test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define GRANT "7d0f3a2e-1111-4222-8333-444455556666"
#define OTHER_GRANT "0b1c2d3e-5555-4666-8777-888899990000"

static cn_keyring_t *ring_of(unsigned char seed)
{
    unsigned char key[CN_KEY_LEN];
    cn_keyring_t *ring = cn_keyring_make(pool);
    int i;
    for (i = 0; i < CN_KEY_LEN; ++i) {
        key[i] = (unsigned char)(seed + 13 * i);
    }
    ck_assert_int_eq(cn_keyring_add(ring, key, sizeof(key)), APR_SUCCESS);
    return ring;
}

static json_t *parse(const char *text)
{
    json_t *j = cn_json_parse(pool, text, strlen(text), NULL);
    ck_assert_msg(j != NULL, "test JSON does not parse: %s", text);
    return j;
}

static const char *dump(const json_t *j)
{
    return cn_json_dump(pool, j);
}

/* The value of secret KEY in SETTINGS, opened as grant GRANT_ID's; NULL when
 * it does not open. */
static const char *opened(const cn_keyring_t *ring, const json_t *settings, const char *grant_id,
                          const char *key)
{
    const char *plain = NULL;
    json_t *v = json_object_get(settings, key);
    ck_assert_msg(json_is_string(v), "settings.%s is not a string", key);
    if (cn_crypto_open(pool, ring, json_string_value(v), cn_grant_setting_aad(pool, grant_id, key),
                       &plain, NULL)
        != APR_SUCCESS) {
        return NULL;
    }
    return plain;
}

/* ---- the list of secret keys ----------------------------------------- */

static const struct secret_case {
    const char *key;
    int secret;
} secret_cases[] = {
    {"refresh_token", 1}, {"access_token", 1}, {"password", 1},      {"imap_password", 1},
    {"smtp_password", 1}, {"client_secret", 1}, {"Password", 1},     {"IMAP_PASSWORD", 1},
    {"imap_username", 0}, {"imap_host", 0},     {"label", 0},        {"password_hint", 0},
    {"token", 0},         {"", 0},
};

START_TEST(test_is_secret)
{
    const struct secret_case *c = &secret_cases[_i];
    ck_assert_msg(cn_grant_setting_is_secret(c->key) == c->secret, "%s: expected %d", c->key,
                  c->secret);
}
END_TEST

START_TEST(test_aad)
{
    ck_assert_str_eq(cn_grant_setting_aad(pool, GRANT, "imap_password"),
                     "grants.settings.imap_password." GRANT);
}
END_TEST

/* ---- merge: plain keys --------------------------------------------------- */

static const struct plain_case {
    const char *name, *stored, *patch, *merged;
} plain_cases[] = {
    {"new key", "{\"a\":1}", "{\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\"}"},
    {"replaced key", "{\"a\":1,\"b\":2}", "{\"a\":3}", "{\"a\":3,\"b\":2}"},
    {"nested objects replace", "{\"o\":{\"x\":1}}", "{\"o\":{\"y\":2}}", "{\"o\":{\"y\":2}}"},
    {"null kept as null", "{\"a\":1}", "{\"a\":null}", "{\"a\":null}"},
    {"empty patch", "{\"a\":1}", "{}", "{\"a\":1}"},
    {"nothing stored", NULL, "{\"imap_host\":\"imap.example.com\",\"imap_port\":993}",
     "{\"imap_host\":\"imap.example.com\",\"imap_port\":993}"},
    {"a stored array is not settings", "[1,2]", "{\"a\":1}", "{\"a\":1}"},
};

START_TEST(test_merge_plain)
{
    const struct plain_case *c = &plain_cases[_i];
    cn_keyring_t *ring = ring_of(1);
    json_t *stored = c->stored ? parse(c->stored) : NULL, *merged = NULL;
    const char *before = stored ? dump(stored) : NULL, *refresh = "unset", *why = "unset";
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, stored, parse(c->patch),
                                             CN_GRANT_SETTINGS_MAX, &merged, &refresh, &why),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(merged);
    ck_assert_msg(json_equal(merged, parse(c->merged)), "%s: merged %s, expected %s", c->name,
                  dump(merged), c->merged);
    ck_assert_ptr_null(refresh);
    ck_assert_ptr_null(why);
    if (stored) {
        ck_assert_str_eq(dump(stored), before); /* the stored object is not changed */
    }
}
END_TEST

/* ---- merge: secrets sealed in place ------------------------------------- */

static const char *const sealed_keys[] = {"access_token", "password", "imap_password",
                                          "smtp_password", "client_secret", "Password"};

START_TEST(test_merge_seals_secret)
{
    const char *key = sealed_keys[_i], *refresh = NULL, *why = NULL, *plain = "s3cr3t-\xc3\xa9-value";
    cn_keyring_t *ring = ring_of(2), *other = ring_of(3);
    json_t *patch = json_pack("{s:s,s:s}", key, plain, "label", "work"), *merged = NULL;
    const char *sealed, *out = NULL, *kid = APR_ARRAY_IDX(ring->keys, 0, cn_key_t).kid;
    cn_json_own(pool, patch);
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, parse("{\"color\":\"blue\"}"), patch,
                                             CN_GRANT_SETTINGS_MAX, &merged, &refresh, &why),
                     APR_SUCCESS);
    ck_assert_ptr_null(refresh);
    sealed = json_string_value(json_object_get(merged, key));
    ck_assert_ptr_nonnull(sealed);
    ck_assert_msg(!strncmp(sealed, apr_pstrcat(pool, "cn1.", kid, ".", NULL), 13),
                  "%s: %s is not sealed under the ring's key", key, sealed);
    ck_assert_msg(!strstr(dump(merged), "s3cr3t"), "%s: the plaintext is in %s", key,
                  dump(merged));
    ck_assert_str_eq(opened(ring, merged, GRANT, key), plain);
    /* bound to its grant, its key and the key that sealed it */
    ck_assert_ptr_null(opened(ring, merged, OTHER_GRANT, key));
    ck_assert_int_ne(cn_crypto_open(pool, ring, sealed,
                                    cn_grant_setting_aad(pool, GRANT, "other_key"), &out, NULL),
                     APR_SUCCESS);
    ck_assert_ptr_null(opened(other, merged, GRANT, key));
    /* the other keys merge as they are */
    ck_assert_str_eq(json_string_value(json_object_get(merged, "label")), "work");
    ck_assert_str_eq(json_string_value(json_object_get(merged, "color")), "blue");
}
END_TEST

START_TEST(test_merge_refresh_token_handed_back)
{
    const char *refresh = NULL, *why = NULL;
    json_t *merged = NULL;
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring_of(4), GRANT, parse("{}"),
                                             parse("{\"refresh_token\":\"rt-1\",\"a\":1}"),
                                             CN_GRANT_SETTINGS_MAX, &merged, &refresh, &why),
                     APR_SUCCESS);
    ck_assert_str_eq(refresh, "rt-1");
    ck_assert_ptr_null(json_object_get(merged, "refresh_token"));
    ck_assert_str_eq(dump(merged), "{\"a\":1}");
}
END_TEST

START_TEST(test_merge_reseals_each_time)
{
    cn_keyring_t *ring = ring_of(5);
    const char *refresh, *why, *first, *second;
    json_t *one = NULL, *two = NULL;
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, NULL, parse("{\"password\":\"p1\"}"),
                                             CN_GRANT_SETTINGS_MAX, &one, &refresh, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, one,
                                             parse("{\"password\":\"p2\",\"x\":1}"),
                                             CN_GRANT_SETTINGS_MAX, &two, &refresh, &why),
                     APR_SUCCESS);
    first = json_string_value(json_object_get(one, "password"));
    second = json_string_value(json_object_get(two, "password"));
    ck_assert_str_ne(first, second);
    ck_assert_str_eq(opened(ring, two, GRANT, "password"), "p2");
    /* a stored secret a later PATCH does not name stays as it was */
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, two, parse("{\"y\":2}"),
                                             CN_GRANT_SETTINGS_MAX, &one, &refresh, &why),
                     APR_SUCCESS);
    ck_assert_str_eq(json_string_value(json_object_get(one, "password")), second);
}
END_TEST

/* ---- merge: refused ------------------------------------------------------ */

static const struct refused_case {
    const char *name, *patch, *why;
} refused_cases[] = {
    {"number", "{\"imap_password\":123}", "settings.imap_password must be a non-empty string"},
    {"null", "{\"password\":null}", "settings.password must be a non-empty string"},
    {"empty", "{\"client_secret\":\"\"}", "settings.client_secret must be a non-empty string"},
    {"object", "{\"access_token\":{\"v\":\"x\"}}",
     "settings.access_token must be a non-empty string"},
    {"refresh token number", "{\"refresh_token\":5}",
     "settings.refresh_token must be a non-empty string"},
    {"nested", "{\"imap\":{\"host\":\"h\",\"password\":\"pw\"}}",
     "settings.imap.password: a secret is taken only as a top-level setting"},
    {"deeper", "{\"a\":{\"b\":{\"Client_Secret\":\"x\"}}}",
     "settings.a.b.Client_Secret: a secret is taken only as a top-level setting"},
    {"in an array", "{\"accounts\":[{\"user\":\"u\"},{\"smtp_password\":\"pw\"}]}",
     "settings.accounts[1].smtp_password: a secret is taken only as a top-level setting"},
};

START_TEST(test_merge_refused)
{
    const struct refused_case *c = &refused_cases[_i];
    json_t *stored = parse("{\"a\":1}"), *merged = NULL;
    const char *refresh = NULL, *why = NULL;
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring_of(6), GRANT, stored, parse(c->patch),
                                             CN_GRANT_SETTINGS_MAX, &merged, &refresh, &why),
                     APR_EINVAL);
    ck_assert_ptr_null(merged);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(!strcmp(why, c->why), "%s: '%s', expected '%s'", c->name, why, c->why);
    ck_assert_msg(!strstr(why, "pw"), "%s: the value is in the reason", c->name);
    ck_assert_str_eq(dump(stored), "{\"a\":1}");
}
END_TEST

/* ---- merge: the size cap -------------------------------------------------- */

START_TEST(test_merge_cap)
{
    cn_keyring_t *ring = ring_of(7);
    const char *refresh, *why = NULL;
    json_t *merged = NULL, *patch;
    char *big = apr_palloc(pool, 101);
    memset(big, 'x', 100);
    big[100] = '\0';
    /* {"k":"xxx…"}: 8 bytes around the value */
    patch = cn_json_own(pool, json_pack("{s:s}", "k", big));
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, NULL, patch, 108, &merged,
                                             &refresh, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, NULL, patch, 107, &merged,
                                             &refresh, &why),
                     APR_ENOSPC);
    ck_assert_str_eq(why, "settings would be 108 bytes; at most 107 are kept");
    /* the cap counts the stored form, sealed secrets included */
    why = NULL;
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, NULL,
                                             parse("{\"password\":\"short\"}"), 40, &merged,
                                             &refresh, &why),
                     APR_ENOSPC);
    ck_assert_ptr_nonnull(why);
    /* the stored settings count too */
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, patch, parse("{\"j\":1}"), 108,
                                             &merged, &refresh, &why),
                     APR_ENOSPC);
    /* replacing a key keeps the size down */
    ck_assert_int_eq(cn_grant_settings_merge(pool, ring, GRANT, patch, parse("{\"k\":\"y\"}"), 108,
                                             &merged, &refresh, &why),
                     APR_SUCCESS);
}
END_TEST

/* ---- ConnectReencrypt ------------------------------------------------------ */

START_TEST(test_reseal)
{
    cn_keyring_t *old = ring_of(8), *both = ring_of(9);
    const char *refresh, *why = NULL, *plain_stored;
    json_t *settings = NULL, *copy;
    int changed = -1;
    ck_assert_int_eq(cn_keyring_add(both, APR_ARRAY_IDX(old->keys, 0, cn_key_t).key, CN_KEY_LEN),
                     APR_SUCCESS);
    ck_assert_int_eq(cn_grant_settings_merge(pool, old, GRANT, NULL,
                                             parse("{\"imap_password\":\"pw-1\",\"client_secret\":"
                                                   "\"cs-1\",\"imap_host\":\"h\"}"),
                                             CN_GRANT_SETTINGS_MAX, &settings, &refresh, &why),
                     APR_SUCCESS);
    /* one kept in the clear before secrets in settings were sealed */
    json_object_set_new(settings, "smtp_password", json_string("legacy-pw"));
    copy = cn_json_own(pool, json_deep_copy(settings));

    /* under the old key alone nothing needs re-sealing, but the clear one is sealed */
    ck_assert_int_eq(cn_grant_settings_reseal(pool, old, GRANT, copy, &changed, &why), APR_SUCCESS);
    ck_assert_int_eq(changed, 1);
    ck_assert_str_eq(opened(old, copy, GRANT, "smtp_password"), "legacy-pw");

    /* [new, old]: the three secrets move to the new key, the rest stays */
    ck_assert_int_eq(cn_grant_settings_reseal(pool, both, GRANT, settings, &changed, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(changed, 3);
    ck_assert_ptr_null(opened(old, settings, GRANT, "imap_password"));
    ck_assert_str_eq(opened(both, settings, GRANT, "imap_password"), "pw-1");
    ck_assert_str_eq(opened(both, settings, GRANT, "client_secret"), "cs-1");
    ck_assert_str_eq(opened(both, settings, GRANT, "smtp_password"), "legacy-pw");
    ck_assert_str_eq(json_string_value(json_object_get(settings, "imap_host")), "h");
    plain_stored = dump(settings);
    ck_assert_msg(!strstr(plain_stored, "pw-1") && !strstr(plain_stored, "legacy-pw"),
                  "plaintext after re-sealing: %s", plain_stored);

    /* again: nothing to do */
    ck_assert_int_eq(cn_grant_settings_reseal(pool, both, GRANT, settings, &changed, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(changed, 0);
    ck_assert_str_eq(dump(settings), plain_stored);
}
END_TEST

START_TEST(test_reseal_moved_value_refused)
{
    cn_keyring_t *old = ring_of(10), *both = ring_of(11);
    const char *refresh, *why = NULL, *before;
    json_t *settings = NULL;
    int changed = -1;
    ck_assert_int_eq(cn_keyring_add(both, APR_ARRAY_IDX(old->keys, 0, cn_key_t).key, CN_KEY_LEN),
                     APR_SUCCESS);
    ck_assert_int_eq(cn_grant_settings_merge(pool, old, OTHER_GRANT, NULL,
                                             parse("{\"password\":\"pw\"}"), CN_GRANT_SETTINGS_MAX,
                                             &settings, &refresh, &why),
                     APR_SUCCESS);
    before = dump(settings);
    /* sealed for another grant, found in this one: it does not open */
    ck_assert_int_eq(cn_grant_settings_reseal(pool, both, GRANT, settings, &changed, &why),
                     APR_EINVAL);
    ck_assert_str_eq(why, "settings.password");
    ck_assert_str_eq(dump(settings), before);
}
END_TEST

static Suite *grant_settings_suite(void)
{
    Suite *s = suite_create("grant_settings");
    TCase *tc = cn_tcase("secret keys");
    tcase_add_loop_test(tc, test_is_secret, 0, N(secret_cases));
    tcase_add_test(tc, test_aad);
    suite_add_tcase(s, tc);

    tc = cn_tcase("merge");
    tcase_add_loop_test(tc, test_merge_plain, 0, N(plain_cases));
    tcase_add_loop_test(tc, test_merge_seals_secret, 0, N(sealed_keys));
    tcase_add_test(tc, test_merge_refresh_token_handed_back);
    tcase_add_test(tc, test_merge_reseals_each_time);
    tcase_add_loop_test(tc, test_merge_refused, 0, N(refused_cases));
    tcase_add_test(tc, test_merge_cap);
    suite_add_tcase(s, tc);

    tc = cn_tcase("reseal");
    tcase_add_test(tc, test_reseal);
    tcase_add_test(tc, test_reseal_moved_value_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(grant_settings_suite());
}
