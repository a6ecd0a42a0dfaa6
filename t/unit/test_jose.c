/* Unit tests of the JOSE part of include/cn_proto.h: the signing keys
 * (ConnectSigningKey), id_token signatures and their verification, the JWK
 * set and the discovery document. Everything the module produces is checked
 * with OpenSSL alone, never with cjose (which produced it): signatures with
 * EVP_DigestVerify and the public key of the fixture PEM, key ids with an
 * RFC 7638 thumbprint written here and proven on the RFC's own example; the
 * tokens cn_jose_verify must refuse are made here with OpenSSL too. */

#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cn_proto.h"
#include "cn_test.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Test-only keys, committed (t/conf/keys/), made once with openssl genpkey. */
#define RSA_PEM "../conf/keys/signing-rsa.pem"
#define P256_PEM "../conf/keys/signing-p256.pem"


/* ---- independent helpers: OpenSSL only --------------------------------- */

static const char *tmpfile_path(const char *name)
{
    return apr_psprintf(pool, "%s/%s", cn_test_tmpdir(), name);
}

static apr_array_header_t *paths_of(const char *first, ...)
{
    apr_array_header_t *a = apr_array_make(pool, 2, sizeof(const char *));
    const char *p;
    va_list ap;
    va_start(ap, first);
    for (p = first; p; p = va_arg(ap, const char *)) {
        APR_ARRAY_PUSH(a, const char *) = p;
    }
    va_end(ap);
    return a;
}

static cn_signing_keys_t *load(const char *first, const char *second)
{
    cn_signing_keys_t *keys = NULL;
    const char *err = NULL;
    apr_status_t rv = cn_jose_keys_load(pool, paths_of(first, second, NULL), &keys, &err);
    ck_assert_msg(rv == APR_SUCCESS, "loading %s, %s: %s", first, second ? second : "-",
                  err ? err : "?");
    ck_assert_ptr_nonnull(keys);
    return keys;
}

static apr_status_t pkey_free(void *p)
{
    EVP_PKEY_free(p);
    return APR_SUCCESS;
}

/* The key of a PEM file, read by OpenSSL. */
static EVP_PKEY *pem_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *pk;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_msg(pk != NULL, "%s is no private key", path);
    apr_pool_cleanup_register(pool, pk, pkey_free, apr_pool_cleanup_null);
    return pk;
}

/* base64url without padding, from OpenSSL's base64. */
static const char *b64url(const unsigned char *data, size_t len)
{
    char *out = apr_palloc(pool, 4 * ((len + 2) / 3) + 1), *c;
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=') {
        --n;
    }
    out[n] = '\0';
    for (c = out; *c; ++c) {
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    }
    return out;
}

static unsigned char *unb64url(const char *text, size_t *len)
{
    size_t n = strlen(text), padded = (n + 3) / 4 * 4, i, pad = padded - n;
    char *std = apr_pcalloc(pool, padded + 1);
    unsigned char *out = apr_palloc(pool, padded / 4 * 3 + 1);
    int m;
    for (i = 0; i < n; ++i) {
        ck_assert_msg(text[i] != '+' && text[i] != '/' && text[i] != '=',
                      "%s is not base64url without padding", text);
        std[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
    }
    for (; i < padded; ++i) {
        std[i] = '=';
    }
    m = EVP_DecodeBlock(out, (unsigned char *)std, (int)padded);
    ck_assert_msg(m >= 0, "%s does not decode", text);
    *len = (size_t)m - pad;
    return out;
}

/* The number NAME of PK, big-endian, left-padded to PAD bytes, base64url. */
static const char *bn_b64url(const EVP_PKEY *pk, const char *name, int pad)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int n;
    ck_assert_int_eq(EVP_PKEY_get_bn_param(pk, name, &bn), 1);
    n = BN_num_bytes(bn) > pad ? BN_num_bytes(bn) : pad;
    buf = apr_palloc(pool, (apr_size_t)n);
    ck_assert_int_eq(BN_bn2binpad(bn, buf, n), n);
    BN_free(bn);
    return b64url(buf, (size_t)n);
}

/* RFC 7638 §3.2: SHA-256 of the required members in lexicographic order,
 * no white space, as the RFC spells them out. */
static const char *thumbprint_of(const char *canonical)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    ck_assert_int_eq(EVP_Digest(canonical, strlen(canonical), md, &mdlen, EVP_sha256(), NULL), 1);
    return b64url(md, mdlen);
}

static const char *rsa_thumbprint(const char *n, const char *e)
{
    return thumbprint_of(apr_psprintf(pool, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e, n));
}

static const char *ec_thumbprint(const char *x, const char *y)
{
    return thumbprint_of(
        apr_psprintf(pool, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y));
}

/* The kid a fixture's key must have, from its PEM. */
static const char *pem_kid(const char *path)
{
    EVP_PKEY *pk = pem_key(path);
    if (EVP_PKEY_is_a(pk, "RSA")) {
        return rsa_thumbprint(bn_b64url(pk, OSSL_PKEY_PARAM_RSA_N, 0),
                              bn_b64url(pk, OSSL_PKEY_PARAM_RSA_E, 0));
    }
    return ec_thumbprint(bn_b64url(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32),
                         bn_b64url(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
}

typedef struct jws_parts_t {
    json_t *header, *payload;
    const char *signing_input; /* header "." payload, as signed */
    unsigned char *sig;
    size_t siglen;
} jws_parts_t;

static json_t *json_of_b64url(const char *part)
{
    size_t len;
    unsigned char *raw = unb64url(part, &len);
    json_t *j = cn_json_parse(pool, (const char *)raw, len, NULL);
    ck_assert_msg(j != NULL, "segment %s is not JSON", part);
    return j;
}

static jws_parts_t split_jws(const char *jwt)
{
    jws_parts_t p;
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    ck_assert_msg(d1 && d2 && !strchr(d2 + 1, '.'), "%s is not a compact JWS", jwt);
    p.header = json_of_b64url(apr_pstrndup(pool, jwt, (apr_size_t)(d1 - jwt)));
    p.payload = json_of_b64url(apr_pstrndup(pool, d1 + 1, (apr_size_t)(d2 - d1 - 1)));
    p.signing_input = apr_pstrndup(pool, jwt, (apr_size_t)(d2 - jwt));
    p.sig = unb64url(d2 + 1, &p.siglen);
    return p;
}

/* ES256's R || S (RFC 7518 §3.4) as the DER ECDSA-Sig-Value OpenSSL verifies. */
static unsigned char *es256_der(const unsigned char *raw, size_t len, size_t *derlen)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r, *s;
    unsigned char *der = NULL, *copy;
    int n;
    ck_assert_uint_eq(len, 64);
    r = BN_bin2bn(raw, 32, NULL);
    s = BN_bin2bn(raw + 32, 32, NULL);
    ck_assert_int_eq(ECDSA_SIG_set0(sig, r, s), 1);
    n = i2d_ECDSA_SIG(sig, &der);
    ck_assert_int_gt(n, 0);
    copy = apr_pmemdup(pool, der, (apr_size_t)n);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    *derlen = (size_t)n;
    return copy;
}

/* 1 when SIG over INPUT verifies with PK's public key (SHA-256). */
static int verifies(EVP_PKEY *pk, const char *input, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok;
    ck_assert_ptr_nonnull(md);
    ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk), 1);
    ok = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)input, strlen(input)) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static int jws_verifies(EVP_PKEY *pk, const jws_parts_t *p)
{
    if (EVP_PKEY_is_a(pk, "EC")) {
        size_t derlen = 0;
        unsigned char *der = es256_der(p->sig, p->siglen, &derlen);
        return verifies(pk, p->signing_input, der, derlen);
    }
    return verifies(pk, p->signing_input, p->sig, p->siglen);
}

static json_t *claims(int i)
{
    /* Non-ASCII and a slash: the payload is the claims, byte for byte. */
    return cn_json_own(pool, json_pack("{s:s,s:s,s:s,s:i,s:s}", "iss",
                                       "https://auth.example.com/connect", "sub", "grant-1",
                                       "aud", "app-one", "iat", 1700000000 + i, "nonce",
                                       "n\xc3\xa9/<>"));
}

/* ---- RFC 7638: the thumbprint written above, on the RFC's example ------- */

START_TEST(test_rfc7638_vector)
{
    /* RFC 7638 §3.1 */
    static const char n[] =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
        "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
        "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    ck_assert_str_eq(rsa_thumbprint(n, "AQAB"), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}
END_TEST

/* ---- signing ----------------------------------------------------------- */

/* RS256 with the RSA key first; the P-256 key after it does not sign. */
START_TEST(test_sign_rs256)
{
    cn_signing_keys_t *keys = load(RSA_PEM, P256_PEM);
    EVP_PKEY *rsa = pem_key(RSA_PEM);
    const char *jwt = NULL;
    jws_parts_t p;
    json_t *c = claims(0);

    ck_assert_int_eq(cn_jose_sign(pool, keys, c, &jwt), APR_SUCCESS);
    p = split_jws(jwt);
    ck_assert_str_eq(json_string_value(json_object_get(p.header, "alg")), "RS256");
    ck_assert_str_eq(json_string_value(json_object_get(p.header, "typ")), "JWT");
    ck_assert_str_eq(json_string_value(json_object_get(p.header, "kid")), pem_kid(RSA_PEM));
    ck_assert_uint_eq(json_object_size(p.header), 3);
    ck_assert_msg(json_equal(p.payload, c), "the payload is the claims");
    ck_assert_uint_eq(p.siglen, 256);
    ck_assert_msg(jws_verifies(rsa, &p), "RS256 signature verifies with the PEM's public key");

    /* The check can fail: a changed signature, a changed payload. */
    p.sig[p.siglen / 2] ^= 0x01;
    ck_assert_msg(!jws_verifies(rsa, &p), "a flipped bit does not verify");
    p.sig[p.siglen / 2] ^= 0x01;
    p.signing_input = apr_pstrcat(pool, p.signing_input, "x", NULL);
    ck_assert_msg(!jws_verifies(rsa, &p), "a changed payload does not verify");
}
END_TEST

/* ES256 with the P-256 key first. R and S are fixed-width (32 bytes each,
 * zero-padded): one in 128 signatures has a short R or S, so many are made. */
START_TEST(test_sign_es256)
{
    cn_signing_keys_t *keys = load(P256_PEM, RSA_PEM);
    EVP_PKEY *ec = pem_key(P256_PEM);
    const char *kid = pem_kid(P256_PEM);
    int i, bad = 0;

    for (i = 0; i < 300; ++i) {
        const char *jwt = NULL;
        jws_parts_t p;
        json_t *c = claims(i);
        ck_assert_int_eq(cn_jose_sign(pool, keys, c, &jwt), APR_SUCCESS);
        p = split_jws(jwt);
        ck_assert_str_eq(json_string_value(json_object_get(p.header, "alg")), "ES256");
        ck_assert_str_eq(json_string_value(json_object_get(p.header, "typ")), "JWT");
        ck_assert_str_eq(json_string_value(json_object_get(p.header, "kid")), kid);
        ck_assert_msg(json_equal(p.payload, c), "the payload is the claims");
        ck_assert_uint_eq(p.siglen, 64);
        bad += !jws_verifies(ec, &p);
        if (i == 0) {
            p.sig[5] ^= 0x80;
            ck_assert_msg(!jws_verifies(ec, &p), "a flipped bit does not verify");
        }
    }
    ck_assert_msg(bad == 0, "%d of 300 ES256 signatures do not verify", bad);
}
END_TEST

START_TEST(test_sign_refused)
{
    cn_signing_keys_t *keys = load(RSA_PEM, NULL);
    const char *jwt = NULL;
    ck_assert_int_eq(cn_jose_sign(pool, NULL, claims(0), &jwt), APR_EINVAL);
    ck_assert_int_eq(cn_jose_sign(pool, keys, NULL, &jwt), APR_EINVAL);
    ck_assert_int_eq(cn_jose_sign(pool, keys, cn_json_own(pool, json_string("x")), &jwt),
                     APR_EINVAL);
    ck_assert_ptr_null(jwt);
}
END_TEST

/* ---- verifying --------------------------------------------------------- */

/* TEXT (a JSON text) as a JWS segment. */
static const char *seg(const char *text)
{
    return b64url((const unsigned char *)text, strlen(text));
}

/* A compact JWS of HEADER and PAYLOAD (JSON texts) signed with PK and
 * SHA-256 by OpenSSL alone: RSA PKCS #1 v1.5 (RS256) or ECDSA with R || S
 * of 32 bytes each (ES256, RFC 7518 §3.4). */
static const char *jws_by_hand(EVP_PKEY *pk, const char *header, const char *payload)
{
    const char *input = apr_pstrcat(pool, seg(header), ".", seg(payload), NULL);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *sig;
    size_t siglen = 0;
    ck_assert_ptr_nonnull(md);
    ck_assert_int_eq(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk), 1);
    ck_assert_int_eq(EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input,
                                    strlen(input)), 1);
    sig = apr_palloc(pool, siglen);
    ck_assert_int_eq(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input,
                                    strlen(input)), 1);
    EVP_MD_CTX_free(md);
    if (EVP_PKEY_is_a(pk, "EC")) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
        unsigned char *raw = apr_palloc(pool, 64);
        ck_assert_ptr_nonnull(es);
        ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
        ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
        ECDSA_SIG_free(es);
        sig = raw;
        siglen = 64;
    }
    return apr_pstrcat(pool, input, ".", b64url(sig, siglen), NULL);
}

static const char *header_of(const char *alg, const char *kid)
{
    return kid ? apr_psprintf(pool, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid)
               : apr_psprintf(pool, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
}

/* JWT with one character of segment PART (0, 1, 2) at OFFSET from its start
 * changed to another of the base64url alphabet. */
static const char *tampered(const char *jwt, int part, size_t offset)
{
    char *t = apr_pstrdup(pool, jwt), *c = t;
    for (; part > 0; --part) {
        c = strchr(c, '.') + 1;
    }
    c += offset;
    *c = *c == 'A' ? 'B' : 'A';
    return t;
}

static void accepted(const cn_signing_keys_t *keys, const char *jwt, const char *payload)
{
    json_t *got = NULL;
    const char *why = NULL;
    json_t *want = cn_json_parse(pool, payload, strlen(payload), NULL);
    ck_assert_msg(cn_jose_verify(pool, keys, jwt, &got, &why) == APR_SUCCESS, "refused: %s",
                  why ? why : "?");
    ck_assert_msg(json_equal(got, want), "claims %s, want %s", cn_json_dump(pool, got), payload);
}

/* JWT refused by KEYS, for a reason that says WHY. */
static void refused(const cn_signing_keys_t *keys, const char *jwt, const char *why)
{
    json_t *got = (json_t *)1;
    const char *reason = NULL;
    ck_assert_int_eq(cn_jose_verify(pool, keys, jwt, &got, &reason), APR_EINVAL);
    ck_assert_ptr_null(got);
    ck_assert_msg(reason && strstr(reason, why), "%s: reason \"%s\", want \"%s\"",
                  jwt ? jwt : "(null)", reason ? reason : "(none)", why);
    ck_assert_ptr_null(jwt && *jwt ? strstr(reason, jwt) : NULL);
}

#define PAYLOAD "{\"iss\":\"https://auth.example.com/connect\",\"sub\":\"grant-1\",\"aud\":\"app-one\"}"

/* What the module signs it verifies, with its keys in any order; a key set
 * without the signing key does not. */
START_TEST(test_verify_own)
{
    cn_signing_keys_t *rsa_first = load(RSA_PEM, P256_PEM), *ec_first = load(P256_PEM, RSA_PEM);
    cn_signing_keys_t *signers[2], *only_rsa = load(RSA_PEM, NULL);
    const char *jwt = NULL;
    json_t *got = NULL;
    int i;
    signers[0] = rsa_first;
    signers[1] = ec_first;
    for (i = 0; i < 2; ++i) {
        json_t *c = claims(i);
        ck_assert_int_eq(cn_jose_sign(pool, signers[i], c, &jwt), APR_SUCCESS);
        ck_assert_int_eq(cn_jose_verify(pool, rsa_first, jwt, &got, NULL), APR_SUCCESS);
        ck_assert_msg(json_equal(got, c), "the claims, back");
        ck_assert_int_eq(cn_jose_verify(pool, ec_first, jwt, &got, NULL), APR_SUCCESS);
        ck_assert_msg(json_equal(got, c), "the claims, back");
    }
    /* the last was ES256 */
    refused(only_rsa, jwt, "a kid of no ConnectSigningKey");
    refused(NULL, jwt, "no ConnectSigningKey");
}
END_TEST

/* Tokens made with OpenSSL: what verifies, and each way of not verifying. */
START_TEST(test_verify_by_hand)
{
    cn_signing_keys_t *keys = load(RSA_PEM, P256_PEM);
    EVP_PKEY *rsa = pem_key(RSA_PEM), *ec = pem_key(P256_PEM);
    EVP_PKEY *other = pem_key(tmpfile_path("other-p256.pem"));
    const char *rsa_kid = pem_kid(RSA_PEM), *ec_kid = pem_kid(P256_PEM);
    const char *good_rs = jws_by_hand(rsa, header_of("RS256", rsa_kid), PAYLOAD);
    const char *good_es = jws_by_hand(ec, header_of("ES256", ec_kid), PAYLOAD);
    const char *input, *jwt;
    unsigned char mac[32];
    size_t maclen = 0;
    char *big;

    accepted(keys, good_rs, PAYLOAD);
    accepted(keys, good_es, PAYLOAD);
    /* without a kid, each key of its alg */
    accepted(keys, jws_by_hand(rsa, header_of("RS256", NULL), PAYLOAD), PAYLOAD);
    accepted(keys, jws_by_hand(ec, header_of("ES256", NULL), PAYLOAD), PAYLOAD);

    /* one character of the signature, of the payload, of the header */
    refused(keys, tampered(good_rs, 2, 10), "a signature that does not verify");
    refused(keys, tampered(good_es, 2, 10), "a signature that does not verify");
    refused(keys, tampered(good_rs, 1, 5), "a signature that does not verify");
    refused(keys, tampered(good_es, 1, 5), "a signature that does not verify");
    /* a claim changed and the signature kept */
    jwt = apr_pstrcat(pool, seg(header_of("RS256", rsa_kid)), ".",
                      seg("{\"iss\":\"https://auth.example.com/connect\",\"sub\":\"grant-2\","
                          "\"aud\":\"app-one\"}"),
                      strrchr(good_rs, '.'), NULL);
    refused(keys, jwt, "a signature that does not verify");

    /* another key: in the kid of ours, or its own kid, or none */
    refused(keys, jws_by_hand(other, header_of("ES256", ec_kid), PAYLOAD),
            "a signature that does not verify");
    refused(keys, jws_by_hand(other, header_of("ES256", pem_kid(tmpfile_path("other-p256.pem"))),
                              PAYLOAD),
            "a kid of no ConnectSigningKey");
    refused(keys, jws_by_hand(other, header_of("ES256", NULL), PAYLOAD),
            "a signature that does not verify");

    /* the alg is the key's, not the token's */
    refused(keys, jws_by_hand(ec, header_of("ES256", rsa_kid), PAYLOAD),
            "an alg that is not its key's");
    refused(keys, jws_by_hand(rsa, header_of("RS256", ec_kid), PAYLOAD),
            "an alg that is not its key's");
    refused(keys, jws_by_hand(rsa, header_of("PS256", NULL), PAYLOAD), "an alg of no ConnectSigningKey");
    /* HS256 keyed with the public key (the RS256/HS256 confusion) */
    input = apr_pstrcat(pool, seg(header_of("HS256", rsa_kid)), ".", seg(PAYLOAD), NULL);
    ck_assert_ptr_nonnull(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
                                    bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_N, 0),
                                    strlen(bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_N, 0)),
                                    (const unsigned char *)input, strlen(input), mac,
                                    sizeof(mac), &maclen));
    refused(keys, apr_pstrcat(pool, input, ".", b64url(mac, maclen), NULL),
            "an alg that is not its key's");

    /* alg none: with our kid, without, with a signature or without */
    refused(keys, apr_pstrcat(pool, seg(header_of("none", rsa_kid)), ".", seg(PAYLOAD), ".", NULL),
            "alg none");
    refused(keys, apr_pstrcat(pool, seg("{\"alg\":\"none\"}"), ".", seg(PAYLOAD), ".", NULL),
            "alg none");
    refused(keys, apr_pstrcat(pool, seg(header_of("none", NULL)), ".", seg(PAYLOAD),
                              strrchr(good_rs, '.'), NULL), "alg none");
    /* no alg; a crit extension */
    refused(keys, jws_by_hand(rsa, apr_psprintf(pool, "{\"kid\":\"%s\"}", rsa_kid), PAYLOAD), "not a JWS");
    refused(keys, jws_by_hand(rsa, apr_psprintf(pool, "{\"alg\":\"RS256\",\"kid\":\"%s\","
                                                      "\"crit\":[\"exp\"],\"exp\":1}", rsa_kid),
                              PAYLOAD),
            "a crit header");

    /* signed, but not claims */
    refused(keys, jws_by_hand(rsa, header_of("RS256", rsa_kid), "[\"a\"]"),
            "not a JSON object");
    refused(keys, jws_by_hand(rsa, header_of("RS256", rsa_kid), "\"text\""), "not a JSON object");
    refused(keys, jws_by_hand(rsa, header_of("RS256", rsa_kid), "{\"a\":"), "not a JSON object");

    /* not a JWS at all */
    refused(keys, NULL, "not a JWS");
    refused(keys, "", "not a JWS");
    refused(keys, "hello", "not a JWS compact serialisation");
    refused(keys, "a.b", "not a JWS compact serialisation");
    refused(keys, "a.b.c.d", "not a JWS compact serialisation");
    refused(keys, apr_pstrcat(pool, good_rs, ".", strrchr(good_rs, '.') + 1, NULL), "not a JWS");
    big = apr_palloc(pool, CN_JWS_MAX + 2);
    memset(big, 'A', CN_JWS_MAX + 1);
    big[CN_JWS_MAX + 1] = '\0';
    big[10] = big[20] = '.';
    refused(keys, big, "not a JWS of at most 8 KiB");
}
END_TEST

/* ---- the JWK set and the algorithms ------------------------------------- */

static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

START_TEST(test_jwks)
{
    cn_signing_keys_t *keys = load(RSA_PEM, P256_PEM);
    EVP_PKEY *rsa = pem_key(RSA_PEM), *ec = pem_key(P256_PEM);
    json_t *set = cn_jose_jwks(pool, keys), *list, *k;
    const char *text;
    int i, j;

    ck_assert_ptr_nonnull(set);
    ck_assert_uint_eq(json_object_size(set), 1);
    list = json_object_get(set, "keys");
    ck_assert_uint_eq(json_array_size(list), 2);

    k = json_array_get(list, 0);
    ck_assert_str_eq(json_string_value(json_object_get(k, "kty")), "RSA");
    ck_assert_str_eq(json_string_value(json_object_get(k, "alg")), "RS256");
    ck_assert_str_eq(json_string_value(json_object_get(k, "use")), "sig");
    ck_assert_str_eq(json_string_value(json_object_get(k, "n")),
                     bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_N, 0));
    ck_assert_str_eq(json_string_value(json_object_get(k, "e")),
                     bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_E, 0));
    ck_assert_str_eq(json_string_value(json_object_get(k, "kid")), pem_kid(RSA_PEM));

    k = json_array_get(list, 1);
    ck_assert_str_eq(json_string_value(json_object_get(k, "kty")), "EC");
    ck_assert_str_eq(json_string_value(json_object_get(k, "crv")), "P-256");
    ck_assert_str_eq(json_string_value(json_object_get(k, "alg")), "ES256");
    ck_assert_str_eq(json_string_value(json_object_get(k, "use")), "sig");
    ck_assert_str_eq(json_string_value(json_object_get(k, "x")),
                     bn_b64url(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32));
    ck_assert_str_eq(json_string_value(json_object_get(k, "y")),
                     bn_b64url(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
    ck_assert_str_eq(json_string_value(json_object_get(k, "kid")), pem_kid(P256_PEM));

    /* Public parts only: no private member, and not the private numbers
     * anywhere in the text. */
    for (i = 0; i < 2; ++i) {
        for (j = 0; j < N(private_members); ++j) {
            ck_assert_msg(!json_object_get(json_array_get(list, i), private_members[j]),
                          "key %d has \"%s\"", i, private_members[j]);
        }
    }
    text = cn_json_dump(pool, set);
    ck_assert_ptr_null(strstr(text, bn_b64url(rsa, OSSL_PKEY_PARAM_RSA_D, 0)));
    ck_assert_ptr_null(strstr(text, bn_b64url(ec, OSSL_PKEY_PARAM_PRIV_KEY, 32)));

    /* Each answer is the caller's own copy: changing one changes no other. */
    json_object_del(json_array_get(list, 0), "kid");
    set = cn_jose_jwks(pool, keys);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(set, "keys"), 0), "kid")),
                     pem_kid(RSA_PEM));
}
END_TEST

static const struct algs_case {
    const char *first, *second; /* a fixture name or a file of the scratch directory */
    const char *algs;           /* JSON */
} algs_cases[] = {
    {RSA_PEM, NULL, "[\"RS256\"]"},
    {P256_PEM, NULL, "[\"ES256\"]"},
    {RSA_PEM, P256_PEM, "[\"RS256\",\"ES256\"]"},
    {P256_PEM, RSA_PEM, "[\"ES256\",\"RS256\"]"},
    {P256_PEM, "other-p256.pem", "[\"ES256\"]"},
};

START_TEST(test_algs)
{
    const struct algs_case *c = &algs_cases[_i];
    const char *second = c->second && c->second[0] != '.' ? tmpfile_path(c->second) : c->second;
    cn_signing_keys_t *keys = load(c->first, second);
    json_t *want = cn_json_parse(pool, c->algs, strlen(c->algs), NULL);
    json_t *got = cn_jose_algs(pool, keys);
    ck_assert_msg(json_equal(got, want), "algs %s, want %s", cn_json_dump(pool, got), c->algs);
    /* The JWKS lists every key, in order. */
    ck_assert_uint_eq(json_array_size(json_object_get(cn_jose_jwks(pool, keys), "keys")),
                      second ? 2 : 1);
}
END_TEST

START_TEST(test_no_keys)
{
    cn_signing_keys_t *keys = (cn_signing_keys_t *)1;
    const char *err = NULL, *jwt = NULL;
    ck_assert_int_eq(cn_jose_keys_load(pool, apr_array_make(pool, 1, sizeof(const char *)),
                                       &keys, &err),
                     APR_SUCCESS);
    ck_assert_ptr_null(keys);
    keys = (cn_signing_keys_t *)1;
    ck_assert_int_eq(cn_jose_keys_load(pool, NULL, &keys, &err), APR_SUCCESS);
    ck_assert_ptr_null(keys);
    ck_assert_str_eq(cn_json_dump(pool, cn_jose_jwks(pool, NULL)), "{\"keys\":[]}");
    ck_assert_str_eq(cn_json_dump(pool, cn_jose_algs(pool, NULL)), "[]");
    ck_assert_int_eq(cn_jose_sign(pool, NULL, claims(0), &jwt), APR_EINVAL);
}
END_TEST

/* ---- keys that are refused --------------------------------------------- */

static const struct refused_case {
    const char *name;
    const char *file;   /* in the scratch directory ("": the directory itself); the second path when GOOD_FIRST */
    int good_first;     /* the RSA fixture comes first */
    const char *why;    /* in the message, after "<path>" */
} refused_cases[] = {
    {"missing file", "no-such-key.pem", 0, NULL /* "cannot read <path>" */},
    {"a directory", "", 0, " is not a regular file of at most 64 KiB"},
    {"empty file", "empty.pem", 0, " is not a PEM private key"},
    {"garbage", "garbage.pem", 0, " is not a PEM private key"},
    {"a public key", "public.pem", 0, " is not a PEM private key"},
    {"an encrypted key", "encrypted.pem", 0, " is not a PEM private key"},
    {"a certificate-like block", "cert-block.pem", 0, " is not a PEM private key"},
    {"RSA 1024", "rsa1024.pem", 0, ": an RSA key of 1024 bits is too weak (at least 2048)"},
    {"P-384", "p384.pem", 0, ": an EC key on secp384r1; only P-256 (ES256) is supported"},
    {"Ed25519", "ed25519.pem", 0, ": a ED25519 key; only RSA (at least 2048 bits) and EC P-256"},
    {"a bad second key", "rsa1024.pem", 1, ": an RSA key of 1024 bits is too weak"},
    {"the same key twice", "same", 1, ": the same key as " RSA_PEM},
};

START_TEST(test_refused)
{
    const struct refused_case *c = &refused_cases[_i];
    const char *path = !strcmp(c->file, "same") ? RSA_PEM
                       : *c->file               ? tmpfile_path(c->file)
                                                : cn_test_tmpdir();
    cn_signing_keys_t *keys = (cn_signing_keys_t *)1;
    const char *err = NULL, *want;
    apr_array_header_t *paths = c->good_first ? paths_of(RSA_PEM, path, NULL)
                                              : paths_of(path, NULL);
    ck_assert_int_eq(cn_jose_keys_load(pool, paths, &keys, &err), APR_EINVAL);
    ck_assert_ptr_null(keys);
    ck_assert_ptr_nonnull(err);
    want = c->why ? apr_pstrcat(pool, path, c->why, NULL) : apr_pstrcat(pool, "cannot read ",
                                                                          path, NULL);
    ck_assert_msg(strstr(err, want) != NULL, "%s: message \"%s\" lacks \"%s\"", c->name, err,
                  want);
    /* It names the file, never what is in it. */
    ck_assert_ptr_null(strstr(err, "-----"));
    ck_assert_ptr_null(strstr(err, "GARBAGE"));
    ck_assert_uint_lt(strlen(err), strlen(path) + 100);
}
END_TEST

/* ---- discovery --------------------------------------------------------- */

#define BASE "https://auth.example.com/connect"

static const struct field_case {
    const char *name, *json;
} discovery_fields[] = {
    {"issuer", "\"" BASE "\""},
    {"authorization_endpoint", "\"" BASE "/auth\""},
    {"token_endpoint", "\"" BASE "/token\""},
    {"revocation_endpoint", "\"" BASE "/revoke\""},
    {"jwks_uri", "\"" BASE "/.well-known/jwks.json\""},
    {"response_types_supported", "[\"code\"]"},
    {"response_modes_supported", "[\"query\"]"},
    {"grant_types_supported", "[\"authorization_code\",\"refresh_token\"]"},
    {"code_challenge_methods_supported", "[\"S256\",\"plain\"]"},
    {"token_endpoint_auth_methods_supported",
     "[\"client_secret_basic\",\"client_secret_post\",\"none\"]"},
    {"revocation_endpoint_auth_methods_supported",
     "[\"client_secret_basic\",\"client_secret_post\",\"none\"]"},
    {"id_token_signing_alg_values_supported", "[\"RS256\",\"ES256\"]"},
    {"subject_types_supported", "[\"public\"]"},
    {"scopes_supported", "[\"openid\",\"email\",\"offline_access\"]"},
    {"claims_supported", "[\"iss\",\"sub\",\"aud\",\"exp\",\"iat\",\"auth_time\",\"nonce\","
                         "\"email\",\"email_verified\",\"provider\"]"},
    {"request_uri_parameter_supported", "false"},
};

START_TEST(test_discovery)
{
    cn_signing_keys_t *keys = load(RSA_PEM, P256_PEM);
    json_t *doc = cn_oidc_discovery(pool, BASE, keys);
    int i;
    ck_assert_ptr_nonnull(doc);
    for (i = 0; i < N(discovery_fields); ++i) {
        const struct field_case *f = &discovery_fields[i];
        json_t *want = cn_json_own(pool, json_loads(f->json, JSON_DECODE_ANY, NULL));
        ck_assert_ptr_nonnull(want);
        ck_assert_msg(json_equal(json_object_get(doc, f->name), want), "%s is %s, want %s",
                      f->name, cn_json_dump(pool, json_object_get(doc, f->name)), f->json);
    }
    ck_assert_uint_eq(json_object_size(doc), N(discovery_fields));
}
END_TEST

START_TEST(test_discovery_variants)
{
    json_t *doc = cn_oidc_discovery(pool, BASE "/", NULL);
    ck_assert_ptr_nonnull(doc);
    /* The issuer as configured; the endpoints without "//". */
    ck_assert_str_eq(json_string_value(json_object_get(doc, "issuer")), BASE "/");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "token_endpoint")), BASE "/token");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "jwks_uri")),
                     BASE "/.well-known/jwks.json");
    /* Without keys, the list OpenID Connect requires is there, empty. */
    ck_assert_str_eq(cn_json_dump(pool, json_object_get(doc, "id_token_signing_alg_values_supported")),
                     "[]");
    doc = cn_oidc_discovery(pool, BASE, load(P256_PEM, RSA_PEM));
    ck_assert_str_eq(cn_json_dump(pool, json_object_get(doc, "id_token_signing_alg_values_supported")),
                     "[\"ES256\",\"RS256\"]");
    ck_assert_ptr_null(cn_oidc_discovery(pool, NULL, NULL));
}
END_TEST

/* ---- a service account's assertion: a PEM given as text ---------------- */

static const char *file_text(const char *path)
{
    char *text = NULL;
    apr_size_t len = 0;
    apr_file_t *f;
    apr_finfo_t fi;
    ck_assert_int_eq(apr_file_open(&f, path, APR_FOPEN_READ, 0, pool), APR_SUCCESS);
    ck_assert_int_eq(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    len = (apr_size_t)fi.size;
    text = apr_pcalloc(pool, len + 1);
    if (len) {
        ck_assert_int_eq(apr_file_read_full(f, text, len, &len), APR_SUCCESS);
    }
    apr_file_close(f);
    return text;
}

START_TEST(test_sign_pem)
{
    EVP_PKEY *rsa = pem_key(RSA_PEM);
    const char *jwt = NULL, *why = "unset";
    json_t *c = claims(1);
    jws_parts_t p;
    ck_assert_int_eq(cn_jose_sign_rs256_pem(pool, file_text(RSA_PEM), "sa-key-1", c, &jwt, &why),
                     APR_SUCCESS);
    ck_assert_ptr_null(why);
    p = split_jws(jwt);
    ck_assert_str_eq(json_string_value(json_object_get(p.header, "alg")), "RS256");
    ck_assert_str_eq(json_string_value(json_object_get(p.header, "kid")), "sa-key-1");
    ck_assert_str_eq(json_string_value(json_object_get(p.header, "typ")), "JWT");
    ck_assert_msg(json_equal(p.payload, c), "the payload is the claims");
    ck_assert_msg(jws_verifies(rsa, &p), "the signature verifies with the PEM's public key");
    p.sig[3] ^= 0x10;
    ck_assert_msg(!jws_verifies(rsa, &p), "a flipped bit does not verify");
}
END_TEST

/* Keys a service account cannot sign with, and why. */
static const struct {
    const char *file; /* below the fixtures' directory, or "" for the text itself */
    const char *text, *kid, *why;
} pem_refused_cases[] = {
    {"", "", "k", "missing"},
    {"", "-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----\n", "k", "not an unencrypted PEM"},
    {"garbage.pem", NULL, "k", "not an unencrypted PEM"},
    {"encrypted.pem", NULL, "k", "not an unencrypted PEM"},
    {"public.pem", NULL, "k", "not an unencrypted PEM"},
    {"other-p256.pem", NULL, "k", "not an RSA key"},
    {"ed25519.pem", NULL, "k", "not an RSA key"},
    {"rsa1024.pem", NULL, "k", "too weak"},
    {"", NULL, NULL, "no key id"}, /* RSA_PEM without a kid */
};

START_TEST(test_sign_pem_refused)
{
    const char *pem = pem_refused_cases[_i].text, *jwt = "unset", *why = NULL;
    if (!pem) {
        pem = file_text(*pem_refused_cases[_i].file ? tmpfile_path(pem_refused_cases[_i].file)
                                                    : RSA_PEM);
    }
    ck_assert_int_eq(cn_jose_sign_rs256_pem(pool, pem, pem_refused_cases[_i].kid, claims(2), &jwt,
                                            &why),
                     APR_EINVAL);
    ck_assert_ptr_null(jwt);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, pem_refused_cases[_i].why), "case %d: %s", _i, why);
    ck_assert_msg(!strstr(why, "MII"), "no key material in the reason");
}
END_TEST

static Suite *jose_suite(void)
{
    Suite *s = suite_create("jose");
    TCase *tc;

    tc = cn_tcase("thumbprint");
    tcase_add_test(tc, test_rfc7638_vector);
    suite_add_tcase(s, tc);

    tc = cn_tcase("sign");
    tcase_add_test(tc, test_sign_rs256);
    tcase_add_test(tc, test_sign_es256);
    tcase_add_test(tc, test_sign_refused);
    tcase_add_test(tc, test_sign_pem);
    tcase_add_loop_test(tc, test_sign_pem_refused, 0, N(pem_refused_cases));
    suite_add_tcase(s, tc);

    tc = cn_tcase("verify");
    tcase_add_test(tc, test_verify_own);
    tcase_add_test(tc, test_verify_by_hand);
    suite_add_tcase(s, tc);

    tc = cn_tcase("jwks");
    tcase_add_test(tc, test_jwks);
    tcase_add_loop_test(tc, test_algs, 0, N(algs_cases));
    tcase_add_test(tc, test_no_keys);
    suite_add_tcase(s, tc);

    tc = cn_tcase("refused");
    tcase_add_loop_test(tc, test_refused, 0, N(refused_cases));
    suite_add_tcase(s, tc);

    tc = cn_tcase("discovery");
    tcase_add_test(tc, test_discovery);
    tcase_add_test(tc, test_discovery_variants);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- fixtures made at start: keys that must be refused, and others ----- */

static int write_file(const char *name, const char *text)
{
    char path[4200];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", cn_test_tmpdir(), name);
    if (!(f = fopen(path, "w"))) {
        return 0;
    }
    fputs(text, f);
    return fclose(f) == 0;
}

/* KEY written as PEM: its private key (encrypted under a passphrase when
 * ENCRYPT), or its public key only when PUBLIC. Frees KEY. */
static int write_key(const char *name, EVP_PKEY *key, int public, int encrypt)
{
    char path[4200];
    FILE *f;
    int ok;
    if (!key) {
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", cn_test_tmpdir(), name);
    if (!(f = fopen(path, "w"))) {
        EVP_PKEY_free(key);
        return 0;
    }
    ok = public ? PEM_write_PUBKEY(f, key)
         : encrypt ? PEM_write_PKCS8PrivateKey(f, key, EVP_aes_256_cbc(), "pass-phrase", 11, NULL,
                                               NULL)
                   : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    EVP_PKEY_free(key);
    return (fclose(f) == 0) && ok == 1;
}

static int make_fixtures(void)
{
    return write_file("empty.pem", "")
        && write_file("garbage.pem", "GARBAGE: this is not a key at all\n")
        && write_file("cert-block.pem", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n"
                                        "-----END CERTIFICATE-----\n")
        && write_key("rsa1024.pem", EVP_RSA_gen(1024), 0, 0)
        && write_key("p384.pem", EVP_EC_gen("secp384r1"), 0, 0)
        && write_key("ed25519.pem", EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), 0, 0)
        && write_key("encrypted.pem", EVP_EC_gen("prime256v1"), 0, 1)
        && write_key("public.pem", EVP_EC_gen("prime256v1"), 1, 0)
        && write_key("other-p256.pem", EVP_EC_gen("prime256v1"), 0, 0);
}

int main(void)
{
    int rc;
    if (!cn_test_tmpdir_make("jose")) {
        return 2;
    }
    if (!make_fixtures()) {
        fprintf(stderr, "cannot write the key fixtures in %s\n", cn_test_tmpdir());
        cn_test_tmpdir_remove();
        return 2;
    }
    rc = cn_test_main(jose_suite());
    cn_test_tmpdir_remove();
    return rc;
}
