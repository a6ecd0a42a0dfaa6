/* Unit tests of include/cn_crypto.h: sealing (AES-256-GCM), keyrings and
 * rotation, SHA-256, base64url, random tokens, UUIDs, constant-time compare. */
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_test.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define B64URL_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* ---- helpers ---------------------------------------------------------- */

static void fill_key(unsigned char key[CN_KEY_LEN], unsigned char seed)
{
    int i;
    for (i = 0; i < CN_KEY_LEN; ++i) {
        key[i] = (unsigned char)(seed + 7 * i);
    }
}

static cn_keyring_t *ring_with(unsigned char seed)
{
    unsigned char key[CN_KEY_LEN];
    cn_keyring_t *ring = cn_keyring_make(pool);
    ck_assert_ptr_nonnull(ring);
    fill_key(key, seed);
    ck_assert_int_eq(cn_keyring_add(ring, key, sizeof(key)), APR_SUCCESS);
    return ring;
}

static const char *ring_kid(const cn_keyring_t *ring, int i)
{
    return APR_ARRAY_IDX(ring->keys, i, cn_key_t).kid;
}

/* The expected key id: the first 8 hex characters of SHA-256(key). */
static const char *expected_kid(const unsigned char *key)
{
    return apr_pstrndup(pool, cn_sha256_hex(pool, key, CN_KEY_LEN), CN_KID_LEN);
}

/* Split "cn1.<kid>.<blob>" into its parts; fails the test when malformed. */
static void split_sealed(const char *sealed, const char **kid, const char **blob)
{
    const char *k, *dot;
    ck_assert_msg(strncmp(sealed, "cn1.", 4) == 0, "sealed value %s lacks cn1.", sealed);
    k = sealed + 4;
    dot = strchr(k, '.');
    ck_assert_ptr_nonnull(dot);
    ck_assert_int_eq(dot - k, CN_KID_LEN);
    *kid = apr_pstrndup(pool, k, CN_KID_LEN);
    *blob = dot + 1;
}

/* ---- seal / open round trip (table-driven) ----------------------------- */

static const struct roundtrip_case {
    const char *name;
    const char *plain;
    apr_size_t len;
    const char *table, *column, *row;
} roundtrip_cases[] = {
#define S(lit) lit, sizeof(lit) - 1
    {"short ascii", S("hello"), "integrations", "client_secret", "int-1"},
    {"empty", S(""), "integrations", "client_secret", "int-2"},
    {"single byte", S("x"), "credentials", "credential_data", "c"},
    {"binary with NUL", S("a\0b\xff\x01"), "credentials", "credential_data", "cred-9"},
    {"utf-8", S("h\xc3\xa9llo \xe2\x9c\x93"), "integrations", "settings", "row"},
    {"block sized", S("0123456789abcdef"), "t", "c", "r"},
    {"json", S("{\"client_secret\":\"s3cr3t\",\"n\":[1,2,3]}"), "integrations",
     "client_secret", "7d0f3a2e-1111-4222-8333-444455556666"},
#undef S
};

START_TEST(test_seal_open_roundtrip)
{
    const struct roundtrip_case *c = &roundtrip_cases[_i];
    unsigned char key[CN_KEY_LEN];
    cn_keyring_t *ring = cn_keyring_make(pool);
    const char *aad, *sealed = NULL, *kid, *blob, *out = NULL;
    const unsigned char *raw;
    apr_size_t rawlen = 0, outlen = 12345;

    fill_key(key, 1);
    ck_assert_int_eq(cn_keyring_add(ring, key, sizeof(key)), APR_SUCCESS);
    aad = cn_crypto_aad(pool, c->table, c->column, c->row);
    ck_assert_int_eq(cn_crypto_seal(pool, ring, c->plain, c->len, aad, &sealed), APR_SUCCESS);
    ck_assert_ptr_nonnull(sealed);

    split_sealed(sealed, &kid, &blob);
    ck_assert_str_eq(kid, expected_kid(key));
    ck_assert_str_eq(kid, ring_kid(ring, 0));
    ck_assert_msg(blob[strspn(blob, B64URL_ALPHABET)] == '\0', "%s: blob %s not base64url",
                  c->name, blob);
    raw = cn_b64url_decode(pool, blob, &rawlen);
    ck_assert_ptr_nonnull(raw);
    ck_assert_uint_eq(rawlen, NONCE_LEN + c->len + TAG_LEN);
    if (c->len >= 4) { /* the plaintext does not appear in the clear */
        ck_assert_msg(memcmp(raw + NONCE_LEN, c->plain, c->len) != 0, "%s: not encrypted",
                      c->name);
    }

    ck_assert_int_eq(cn_crypto_open(pool, ring, sealed, aad, &out, &outlen), APR_SUCCESS);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(outlen, c->len);
    ck_assert_mem_eq(out, c->plain, c->len);
    ck_assert_int_eq(out[c->len], '\0');

    /* OUTLEN is optional */
    out = NULL;
    ck_assert_int_eq(cn_crypto_open(pool, ring, sealed, aad, &out, NULL), APR_SUCCESS);
    ck_assert_ptr_nonnull(out);
    ck_assert_mem_eq(out, c->plain, c->len);
}
END_TEST

START_TEST(test_aad_format)
{
    ck_assert_str_eq(cn_crypto_aad(pool, "integrations", "client_secret", "abc-1"),
                     "integrations.client_secret.abc-1");
    ck_assert_str_eq(cn_crypto_aad(pool, "a", "b", ""), "a.b.");
}
END_TEST

/* ---- tampering (table-driven) ----------------------------------------- */

enum where { NONCE_FIRST, NONCE_LAST, CT_FIRST, CT_LAST, TAG_FIRST, TAG_LAST };

static const struct tamper_case {
    const char *name;
    enum where where;
} tamper_cases[] = {
    {"nonce first byte", NONCE_FIRST}, {"nonce last byte", NONCE_LAST},
    {"ciphertext first byte", CT_FIRST}, {"ciphertext last byte", CT_LAST},
    {"tag first byte", TAG_FIRST},     {"tag last byte", TAG_LAST},
};

START_TEST(test_tamper_rejected)
{
    static const char plain[] = "correct horse battery staple";
    const struct tamper_case *c = &tamper_cases[_i];
    cn_keyring_t *ring = ring_with(3);
    const char *aad = cn_crypto_aad(pool, "integrations", "client_secret", "row-1");
    const char *sealed = NULL, *kid, *blob, *out = NULL, *rebuilt, *tampered;
    const unsigned char *raw;
    unsigned char *copy;
    apr_size_t rawlen = 0, clen = sizeof(plain) - 1, pos = 0;

    ck_assert_int_eq(cn_crypto_seal(pool, ring, plain, clen, aad, &sealed), APR_SUCCESS);
    split_sealed(sealed, &kid, &blob);
    raw = cn_b64url_decode(pool, blob, &rawlen);
    ck_assert_ptr_nonnull(raw);
    ck_assert_uint_eq(rawlen, NONCE_LEN + clen + TAG_LEN);

    /* Control: decoding and re-encoding unchanged bytes still opens. */
    rebuilt = apr_pstrcat(pool, "cn1.", kid, ".", cn_b64url_encode(pool, raw, rawlen), NULL);
    ck_assert_str_eq(rebuilt, sealed);
    ck_assert_int_eq(cn_crypto_open(pool, ring, rebuilt, aad, &out, NULL), APR_SUCCESS);
    ck_assert_str_eq(out, plain);

    switch (c->where) {
    case NONCE_FIRST: pos = 0; break;
    case NONCE_LAST: pos = NONCE_LEN - 1; break;
    case CT_FIRST: pos = NONCE_LEN; break;
    case CT_LAST: pos = NONCE_LEN + clen - 1; break;
    case TAG_FIRST: pos = NONCE_LEN + clen; break;
    case TAG_LAST: pos = rawlen - 1; break;
    }
    copy = apr_pmemdup(pool, raw, rawlen);
    copy[pos] ^= 0x01;
    tampered = apr_pstrcat(pool, "cn1.", kid, ".", cn_b64url_encode(pool, copy, rawlen), NULL);
    ck_assert_str_ne(tampered, sealed);
    out = "untouched";
    ck_assert_msg(cn_crypto_open(pool, ring, tampered, aad, &out, NULL) == APR_EINVAL,
                  "%s: tampered value not rejected with APR_EINVAL", c->name);
}
END_TEST

START_TEST(test_wrong_aad_rejected)
{
    cn_keyring_t *ring = ring_with(4);
    const char *aad = cn_crypto_aad(pool, "integrations", "client_secret", "row-1");
    const char *sealed = NULL, *out = NULL;
    static const char *const other[] = {
        "integrations.client_secret.row-2", "credentials.client_secret.row-1",
        "integrations.credential_data.row-1", "integrations.client_secret.row-1 ", "",
    };
    size_t i;
    ck_assert_int_eq(cn_crypto_seal(pool, ring, "secret", 6, aad, &sealed), APR_SUCCESS);
    ck_assert_int_eq(cn_crypto_open(pool, ring, sealed, aad, &out, NULL), APR_SUCCESS);
    for (i = 0; i < sizeof(other) / sizeof(other[0]); ++i) {
        ck_assert_msg(cn_crypto_open(pool, ring, sealed, other[i], &out, NULL) == APR_EINVAL,
                      "opened with aad \"%s\"", other[i]);
    }
}
END_TEST

START_TEST(test_malformed_rejected)
{
    cn_keyring_t *ring = ring_with(5);
    const char *aad = "t.c.r", *sealed = NULL, *out = NULL, *kid, *blob;
    const char *bad[9];
    size_t i;
    ck_assert_int_eq(cn_crypto_seal(pool, ring, "secret", 6, aad, &sealed), APR_SUCCESS);
    split_sealed(sealed, &kid, &blob);
    bad[0] = "";
    bad[1] = "garbage";
    bad[2] = apr_pstrcat(pool, "cn2.", kid, ".", blob, NULL);           /* version */
    bad[3] = apr_pstrcat(pool, "cn1.", kid, blob, NULL);                /* no dot */
    bad[4] = apr_pstrcat(pool, "cn1.", kid, ".", NULL);                 /* no blob */
    bad[5] = apr_pstrcat(pool, "cn1.", kid, ".", "AAAA", NULL);         /* too short */
    bad[6] = apr_pstrcat(pool, "cn1.", kid, ".", "%%%%", NULL);         /* not base64 */
    bad[7] = apr_pstrcat(pool, "cn1.", kid, "0.", blob, NULL);          /* kid too long */
    bad[8] = apr_pstrndup(pool, sealed, strlen(sealed) - 4);            /* truncated */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        ck_assert_msg(cn_crypto_open(pool, ring, bad[i], aad, &out, NULL) == APR_EINVAL,
                      "malformed value \"%s\" not rejected with APR_EINVAL", bad[i]);
        ck_assert_int_eq(cn_crypto_needs_rekey(ring, bad[i]), 0);
    }
}
END_TEST

START_TEST(test_unknown_kid)
{
    cn_keyring_t *k1 = ring_with(6), *k2 = ring_with(7);
    const char *sealed = NULL, *out = NULL;
    ck_assert_str_ne(ring_kid(k1, 0), ring_kid(k2, 0));
    ck_assert_int_eq(cn_crypto_seal(pool, k1, "secret", 6, "a", &sealed), APR_SUCCESS);
    ck_assert_int_eq(cn_crypto_open(pool, k2, sealed, "a", &out, NULL), APR_ENOENT);
    /* a well-formed value under a key id that is not configured */
    {
        char *kid = apr_pstrdup(pool, ring_kid(k1, 0));
        kid[0] = kid[0] == '0' ? '1' : '0';
        ck_assert_int_eq(cn_crypto_open(pool, k1,
                                        apr_pstrcat(pool, "cn1.", kid, ".", "AAAAAAAAAAAAAAAA"
                                                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL),
                                        "a", &out, NULL),
                         APR_ENOENT);
    }
}
END_TEST

/* ---- rotation ---------------------------------------------------------- */

START_TEST(test_rotation)
{
    unsigned char k1[CN_KEY_LEN], k2[CN_KEY_LEN];
    cn_keyring_t *old = cn_keyring_make(pool), *rotated = cn_keyring_make(pool);
    const char *aad = "integrations.client_secret.r1", *s_old = NULL, *s_new = NULL, *out;

    fill_key(k1, 10);
    fill_key(k2, 20);
    ck_assert_int_eq(cn_keyring_add(old, k1, CN_KEY_LEN), APR_SUCCESS);
    ck_assert_int_eq(cn_keyring_add(rotated, k2, CN_KEY_LEN), APR_SUCCESS);
    ck_assert_int_eq(cn_keyring_add(rotated, k1, CN_KEY_LEN), APR_SUCCESS);
    ck_assert_int_eq(rotated->keys->nelts, 2);
    ck_assert_str_eq(ring_kid(rotated, 0), expected_kid(k2));
    ck_assert_str_eq(ring_kid(rotated, 1), expected_kid(k1));

    ck_assert_int_eq(cn_crypto_seal(pool, old, "old secret", 10, aad, &s_old), APR_SUCCESS);
    ck_assert_int_eq(cn_crypto_needs_rekey(old, s_old), 0);
    ck_assert_int_ne(cn_crypto_needs_rekey(rotated, s_old), 0);

    out = NULL;
    ck_assert_int_eq(cn_crypto_open(pool, rotated, s_old, aad, &out, NULL), APR_SUCCESS);
    ck_assert_str_eq(out, "old secret");

    /* The rotated ring seals with its first key ... */
    ck_assert_int_eq(cn_crypto_seal(pool, rotated, "new secret", 10, aad, &s_new), APR_SUCCESS);
    ck_assert_str_eq(apr_pstrndup(pool, s_new + 4, CN_KID_LEN), expected_kid(k2));
    ck_assert_int_eq(cn_crypto_needs_rekey(rotated, s_new), 0);
    ck_assert_int_ne(cn_crypto_needs_rekey(old, s_new), 0);
    out = NULL;
    ck_assert_int_eq(cn_crypto_open(pool, rotated, s_new, aad, &out, NULL), APR_SUCCESS);
    ck_assert_str_eq(out, "new secret");
    /* ... which the old ring does not know. */
    ck_assert_int_eq(cn_crypto_open(pool, old, s_new, aad, &out, NULL), APR_ENOENT);
}
END_TEST

START_TEST(test_random_nonce)
{
    cn_keyring_t *ring = ring_with(30);
    const char *a = NULL, *b = NULL, *kid, *ba, *bb, *out;
    const unsigned char *ra, *rb;
    apr_size_t la = 0, lb = 0;
    ck_assert_int_eq(cn_crypto_seal(pool, ring, "same", 4, "x.y.z", &a), APR_SUCCESS);
    ck_assert_int_eq(cn_crypto_seal(pool, ring, "same", 4, "x.y.z", &b), APR_SUCCESS);
    ck_assert_str_ne(a, b);
    split_sealed(a, &kid, &ba);
    split_sealed(b, &kid, &bb);
    ra = cn_b64url_decode(pool, ba, &la);
    rb = cn_b64url_decode(pool, bb, &lb);
    ck_assert_ptr_nonnull(ra);
    ck_assert_ptr_nonnull(rb);
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(ra, rb, NONCE_LEN) != 0, "two seals used the same nonce");
    out = NULL;
    ck_assert_int_eq(cn_crypto_open(pool, ring, a, "x.y.z", &out, NULL), APR_SUCCESS);
    ck_assert_str_eq(out, "same");
    out = NULL;
    ck_assert_int_eq(cn_crypto_open(pool, ring, b, "x.y.z", &out, NULL), APR_SUCCESS);
    ck_assert_str_eq(out, "same");
}
END_TEST

START_TEST(test_empty_plaintext)
{
    cn_keyring_t *ring = ring_with(31);
    const char *sealed = NULL, *out = NULL, *kid, *blob;
    apr_size_t outlen = 99, rawlen = 0;
    ck_assert_int_eq(cn_crypto_seal(pool, ring, "", 0, "t.c.r", &sealed), APR_SUCCESS);
    split_sealed(sealed, &kid, &blob);
    ck_assert_ptr_nonnull(cn_b64url_decode(pool, blob, &rawlen));
    ck_assert_uint_eq(rawlen, NONCE_LEN + TAG_LEN);
    ck_assert_int_eq(cn_crypto_open(pool, ring, sealed, "t.c.r", &out, &outlen), APR_SUCCESS);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(outlen, 0);
    ck_assert_str_eq(out, "");
    /* still authenticated */
    ck_assert_int_eq(cn_crypto_open(pool, ring, sealed, "t.c.s", &out, &outlen), APR_EINVAL);
}
END_TEST

/* ---- keys -------------------------------------------------------------- */

static const apr_size_t bad_key_lengths[] = {0, 1, 16, 24, 31, 33, 48, 64};

START_TEST(test_key_wrong_length)
{
    unsigned char key[64];
    cn_keyring_t *ring = cn_keyring_make(pool);
    const char *sealed = NULL;
    memset(key, 0x5a, sizeof(key));
    ck_assert_int_eq(cn_keyring_add(ring, key, bad_key_lengths[_i]), APR_EINVAL);
    ck_assert_int_eq(ring->keys->nelts, 0);
    /* a ring without keys cannot seal */
    ck_assert_int_ne(cn_crypto_seal(pool, ring, "x", 1, "a", &sealed), APR_SUCCESS);
    ck_assert_int_eq(cn_keyring_add(ring, key, CN_KEY_LEN), APR_SUCCESS);
    ck_assert_int_eq(ring->keys->nelts, 1);
}
END_TEST

/* bytes 0, 1, ..., 31 */
#define KEY_SEQ_STD "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
/* 32 bytes of 0xfb: standard "+/v7...", url "-_v7..." */
#define KEY_FB_URL "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s"

static const struct b64key_case {
    const char *name;
    const char *text;
    int ok;
    int fill; /* -1: bytes 0..31, otherwise every byte == fill */
} b64key_cases[] = {
    {"standard, padded", KEY_SEQ_STD, 1, -1},
    {"standard, unpadded", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", 1, -1},
    {"surrounding white space", " \t\n" KEY_SEQ_STD "\r\n \t", 1, -1},
    {"trailing newline", KEY_SEQ_STD "\n", 1, -1},
    {"base64url", KEY_FB_URL, 1, 0xfb},
    {"base64url with white space", "\n  " KEY_FB_URL "  \n", 1, 0xfb},
    {"31 bytes", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", 0, 0},
    {"33 bytes", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", 0, 0},
    {"16 bytes", "AAECAwQFBgcICQoLDA0ODw==", 0, 0},
    {"empty", "", 0, 0},
    {"only white space", " \t\r\n ", 0, 0},
    {"not base64", "this is not a base64 key at all!!!!!!!!!!!!", 0, 0},
};

START_TEST(test_key_base64)
{
    const struct b64key_case *c = &b64key_cases[_i];
    cn_keyring_t *ring = cn_keyring_make(pool);
    unsigned char expect[CN_KEY_LEN];
    int i;
    apr_status_t rv = cn_keyring_add_base64(ring, pool, c->text);
    if (!c->ok) {
        ck_assert_msg(rv == APR_EINVAL, "%s: accepted (rv %d)", c->name, rv);
        ck_assert_int_eq(ring->keys->nelts, 0);
        return;
    }
    ck_assert_msg(rv == APR_SUCCESS, "%s: refused (rv %d)", c->name, rv);
    ck_assert_int_eq(ring->keys->nelts, 1);
    for (i = 0; i < CN_KEY_LEN; ++i) {
        expect[i] = (unsigned char)(c->fill < 0 ? i : c->fill);
    }
    ck_assert_mem_eq(APR_ARRAY_IDX(ring->keys, 0, cn_key_t).key, expect, CN_KEY_LEN);
    ck_assert_str_eq(ring_kid(ring, 0), expected_kid(expect));
}
END_TEST

START_TEST(test_kid_is_stable)
{
    unsigned char key[CN_KEY_LEN];
    cn_keyring_t *a = cn_keyring_make(pool), *b = cn_keyring_make(pool);
    fill_key(key, 42);
    ck_assert_int_eq(cn_keyring_add(a, key, CN_KEY_LEN), APR_SUCCESS);
    ck_assert_int_eq(cn_keyring_add(b, key, CN_KEY_LEN), APR_SUCCESS);
    ck_assert_uint_eq(strlen(ring_kid(a, 0)), CN_KID_LEN);
    ck_assert_str_eq(ring_kid(a, 0), ring_kid(b, 0));
    ck_assert_str_eq(ring_kid(a, 0), expected_kid(key));
}
END_TEST

/* ---- SHA-256 (FIPS 180-2) ----------------------------------------------- */

static const struct sha_case {
    const char *msg;
    const char *hex;
} sha_cases[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void hex_of(const unsigned char *d, apr_size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t i;
    for (i = 0; i < n; ++i) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 0xf];
    }
    out[2 * n] = '\0';
}

START_TEST(test_sha256_vectors)
{
    const struct sha_case *c = &sha_cases[_i];
    unsigned char raw[32];
    char hex[65];
    ck_assert_str_eq(cn_sha256_hex(pool, c->msg, strlen(c->msg)), c->hex);
    memset(raw, 0, sizeof(raw));
    cn_sha256(c->msg, strlen(c->msg), raw);
    hex_of(raw, sizeof(raw), hex);
    ck_assert_str_eq(hex, c->hex);
}
END_TEST

START_TEST(test_sha256_million_a)
{
    apr_size_t n = 1000000;
    char *msg = apr_palloc(pool, n);
    memset(msg, 'a', n);
    ck_assert_str_eq(cn_sha256_hex(pool, msg, n),
                     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

/* ---- base64url (RFC 4648 §10, url alphabet, no padding) ----------------- */

static const struct b64_case {
    const char *plain;
    apr_size_t len;
    const char *enc;
} b64_cases[] = {
    {"", 0, ""},
    {"f", 1, "Zg"},
    {"fo", 2, "Zm8"},
    {"foo", 3, "Zm9v"},
    {"foob", 4, "Zm9vYg"},
    {"fooba", 5, "Zm9vYmE"},
    {"foobar", 6, "Zm9vYmFy"},
    {"\xfb\xff", 2, "-_8"},
    {"\xfb\xef\xbe", 3, "----"},
    {"\xff\xff\xff", 3, "____"},
    {"\0\0\0", 3, "AAAA"},
};

START_TEST(test_b64url_encode)
{
    const struct b64_case *c = &b64_cases[_i];
    const char *enc = cn_b64url_encode(pool, c->plain, c->len);
    ck_assert_ptr_nonnull(enc);
    ck_assert_str_eq(enc, c->enc);
}
END_TEST

START_TEST(test_b64url_decode)
{
    const struct b64_case *c = &b64_cases[_i];
    apr_size_t len = 9999;
    const unsigned char *dec = cn_b64url_decode(pool, c->enc, &len);
    ck_assert_ptr_nonnull(dec);
    ck_assert_uint_eq(len, c->len);
    ck_assert_mem_eq(dec, c->plain, c->len);
    /* LEN is optional */
    ck_assert_ptr_nonnull(cn_b64url_decode(pool, c->enc, NULL));
}
END_TEST

static const char *const b64_invalid[] = {
    "a+b/",     /* standard alphabet, not url */
    "Zm9v+A",   /* '+' */
    "Zm9v/A",   /* '/' */
    "%%",
    "Zm9v!",
    "Zm 9v",    /* inner space */
    "Z",        /* impossible length */
    "Zm9vY",    /* impossible length */
};

START_TEST(test_b64url_decode_invalid)
{
    apr_size_t len = 0;
    const char *text = b64_invalid[_i];
    ck_assert_msg(cn_b64url_decode(pool, text, &len) == NULL,
                  "\"%s\" decoded (to %lu bytes) instead of NULL", text, (unsigned long)len);
}
END_TEST

START_TEST(test_b64url_decode_null)
{
    ck_assert_ptr_null(cn_b64url_decode(pool, NULL, NULL));
}
END_TEST

START_TEST(test_b64url_binary_roundtrip)
{
    unsigned char buf[256];
    int i;
    apr_size_t n;
    for (i = 0; i < 256; ++i) {
        buf[i] = (unsigned char)(255 - i);
    }
    for (n = 0; n <= sizeof(buf); n += 17) {
        apr_size_t len = 0;
        const char *enc = cn_b64url_encode(pool, buf, n);
        const unsigned char *dec;
        ck_assert_ptr_nonnull(enc);
        ck_assert_uint_eq(strlen(enc), (4 * n + 2) / 3);
        ck_assert_msg(enc[strspn(enc, B64URL_ALPHABET)] == '\0', "bad char in %s", enc);
        dec = cn_b64url_decode(pool, enc, &len);
        ck_assert_ptr_nonnull(dec);
        ck_assert_uint_eq(len, n);
        ck_assert_mem_eq(dec, buf, n);
    }
}
END_TEST

/* ---- random ------------------------------------------------------------ */

START_TEST(test_random_bytes)
{
    unsigned char a[32], b[32];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    ck_assert_int_eq(cn_random_bytes(a, sizeof(a)), APR_SUCCESS);
    ck_assert_int_eq(cn_random_bytes(b, sizeof(b)), APR_SUCCESS);
    ck_assert_msg(memcmp(a, b, sizeof(a)) != 0, "two random draws are equal");
}
END_TEST

START_TEST(test_random_token)
{
    const char *a = NULL, *b = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(cn_random_token(pool, 32, &a), APR_SUCCESS);
    ck_assert_int_eq(cn_random_token(pool, 32, &b), APR_SUCCESS);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(strlen(a), 43);
    ck_assert_uint_eq(strlen(b), 43);
    ck_assert_msg(a[strspn(a, B64URL_ALPHABET)] == '\0', "token %s not base64url", a);
    ck_assert_str_ne(a, b);
    ck_assert_ptr_nonnull(cn_b64url_decode(pool, a, &len));
    ck_assert_uint_eq(len, 32);
    ck_assert_int_eq(cn_random_token(pool, 48, &a), APR_SUCCESS);
    ck_assert_uint_eq(strlen(a), 64);
}
END_TEST

/* ---- UUID -------------------------------------------------------------- */

static void assert_uuid_v4(const char *u)
{
    int i;
    ck_assert_ptr_nonnull(u);
    ck_assert_msg(strlen(u) == 36, "uuid %s: length %lu", u, (unsigned long)strlen(u));
    for (i = 0; i < 36; ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            ck_assert_msg(u[i] == '-', "uuid %s: no '-' at %d", u, i);
        }
        else {
            ck_assert_msg(strchr("0123456789abcdef", u[i]) && u[i],
                          "uuid %s: '%c' at %d is not lowercase hex", u, u[i], i);
        }
    }
    ck_assert_msg(u[14] == '4', "uuid %s: version is not 4", u);
    ck_assert_msg(strchr("89ab", u[19]) && u[19], "uuid %s: variant is not RFC 4122", u);
}

START_TEST(test_uuid)
{
    const char *prev = NULL;
    int i;
    for (i = 0; i < 64; ++i) {
        const char *u = NULL;
        ck_assert_int_eq(cn_uuid(pool, &u), APR_SUCCESS);
        assert_uuid_v4(u);
        if (prev) {
            ck_assert_str_ne(u, prev);
        }
        prev = u;
    }
}
END_TEST

/* ---- constant-time equality --------------------------------------------- */

static const struct ct_case {
    const char *a;
    apr_size_t alen;
    const char *b;
    apr_size_t blen;
    int equal;
} ct_cases[] = {
    {"abc", 3, "abc", 3, 1},
    {"", 0, "", 0, 1},
    {"abc", 3, "abd", 3, 0},
    {"abc", 3, "xbc", 3, 0},
    {"abc", 3, "abcd", 4, 0},
    {"abcd", 4, "abc", 3, 0},
    {"abc", 2, "abd", 2, 1},      /* only LEN bytes count */
    {"a\0b", 3, "a\0c", 3, 0},    /* not a string compare */
    {"a\0b", 3, "a\0b", 3, 1},
    {"", 0, "a", 1, 0},
};

START_TEST(test_ct_equal)
{
    const struct ct_case *c = &ct_cases[_i];
    ck_assert_msg((cn_ct_equal(c->a, c->alen, c->b, c->blen) != 0) == c->equal,
                  "case %d: expected %s", _i, c->equal ? "equal" : "different");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc;

    tc = cn_tcase("seal");
    tcase_add_loop_test(tc, test_seal_open_roundtrip, 0, N(roundtrip_cases));
    tcase_add_test(tc, test_aad_format);
    tcase_add_loop_test(tc, test_tamper_rejected, 0, N(tamper_cases));
    tcase_add_test(tc, test_wrong_aad_rejected);
    tcase_add_test(tc, test_malformed_rejected);
    tcase_add_test(tc, test_unknown_kid);
    tcase_add_test(tc, test_rotation);
    tcase_add_test(tc, test_random_nonce);
    tcase_add_test(tc, test_empty_plaintext);
    suite_add_tcase(s, tc);

    tc = cn_tcase("keys");
    tcase_add_loop_test(tc, test_key_wrong_length, 0, N(bad_key_lengths));
    tcase_add_loop_test(tc, test_key_base64, 0, N(b64key_cases));
    tcase_add_test(tc, test_kid_is_stable);
    suite_add_tcase(s, tc);

    tc = cn_tcase("sha256");
    tcase_add_loop_test(tc, test_sha256_vectors, 0, N(sha_cases));
    tcase_add_test(tc, test_sha256_million_a);
    suite_add_tcase(s, tc);

    tc = cn_tcase("base64url");
    tcase_add_loop_test(tc, test_b64url_encode, 0, N(b64_cases));
    tcase_add_loop_test(tc, test_b64url_decode, 0, N(b64_cases));
    tcase_add_loop_test(tc, test_b64url_decode_invalid, 0, N(b64_invalid));
    tcase_add_test(tc, test_b64url_decode_null);
    tcase_add_test(tc, test_b64url_binary_roundtrip);
    suite_add_tcase(s, tc);

    tc = cn_tcase("random");
    tcase_add_test(tc, test_random_bytes);
    tcase_add_test(tc, test_random_token);
    tcase_add_test(tc, test_uuid);
    tcase_add_loop_test(tc, test_ct_equal, 0, N(ct_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(crypto_suite());
}
