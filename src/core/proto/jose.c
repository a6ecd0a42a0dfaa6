/* The keys that sign id_tokens (ConnectSigningKey): PEM private keys read
 * with OpenSSL, turned into cjose JWKs; JWS compact serialisations and the
 * JWK set are cjose's, the key ids RFC 7638 thumbprints. */
#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_file_info.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <cjose/cjose.h>

#include "cn_util.h"
#include "cn_proto.h"

#define PEM_MAX (64 * 1024) /* bytes of a key file */
#define RSA_MIN_BITS 2048
#define P256_BYTES 32

typedef struct signing_key_t {
    cjose_jwk_t *jwk;   /* the private key, for cjose_jws_sign */
    const char *alg;    /* RS256 or ES256 */
    const char *kid;    /* RFC 7638 thumbprint */
    const char *path;
    json_t *public_jwk; /* what the JWKS shows: never handed out, only copies */
} signing_key_t;

struct cn_signing_keys_t {
    apr_array_header_t *keys; /* of signing_key_t, the first signs */
};

/* ---- pool-owned third-party objects ---- */

static apr_status_t jwk_cleanup(void *data)
{
    cjose_jwk_release(data);
    return APR_SUCCESS;
}

static apr_status_t jws_cleanup(void *data)
{
    cjose_jws_release(data);
    return APR_SUCCESS;
}

static apr_status_t header_cleanup(void *data)
{
    cjose_header_release(data);
    return APR_SUCCESS;
}

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

typedef struct secret_bytes_t {
    void *p;
    apr_size_t n;
} secret_bytes_t;

static apr_status_t secret_wipe(void *data)
{
    secret_bytes_t *s = data;
    OPENSSL_cleanse(s->p, s->n);
    return APR_SUCCESS;
}

/* P[N] holds key material: wiped when POOL goes. */
static void wipe_with(apr_pool_t *pool, void *p, apr_size_t n)
{
    secret_bytes_t *s = apr_palloc(pool, sizeof(*s));
    s->p = p;
    s->n = n;
    apr_pool_cleanup_register(pool, s, secret_wipe, apr_pool_cleanup_null);
}

/* ---- reading a key ---- */

/* Never prompt on a terminal for an encrypted key: refuse it. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* The private key of the PEM file PATH, owned by TMP. */
static apr_status_t pem_read(apr_pool_t *tmp, const char *path, EVP_PKEY **out,
                             const char **err)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;
    BIO *bio;
    EVP_PKEY *pk;

    if (apr_file_open(&f, path, APR_FOPEN_READ, 0, tmp) != APR_SUCCESS) {
        *err = apr_psprintf(tmp, "cannot read %s", path);
        return APR_EINVAL;
    }
    if (apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f) != APR_SUCCESS
        || fi.filetype != APR_REG || fi.size > PEM_MAX) {
        apr_file_close(f);
        *err = apr_psprintf(tmp, "%s is not a regular file of at most 64 KiB", path);
        return APR_EINVAL;
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(tmp, n + 1);
    wipe_with(tmp, buf, n + 1);
    if (n && apr_file_read_full(f, buf, n, &n) != APR_SUCCESS) {
        apr_file_close(f);
        *err = apr_psprintf(tmp, "cannot read %s", path);
        return APR_EINVAL;
    }
    apr_file_close(f);
    if (!(bio = BIO_new_mem_buf(buf, (int)n))) {
        *err = apr_psprintf(tmp, "%s: out of memory", path);
        return APR_ENOMEM;
    }
    pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    /* OpenSSL's reasons would only repeat that the text is no key. */
    ERR_clear_error();
    if (!pk) {
        *err = apr_psprintf(tmp, "%s is not a PEM private key (nor an unencrypted one)", path);
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(tmp, pk, pkey_cleanup, apr_pool_cleanup_null);
    *out = pk;
    return APR_SUCCESS;
}

/* The number NAME of PK as big-endian bytes, left-padded with zeros to PAD
 * bytes when it is shorter, in TMP (wiped with it). NULL when PK has none. */
static unsigned char *bn_param(apr_pool_t *tmp, const EVP_PKEY *pk, const char *name,
                               apr_size_t pad, apr_size_t *len)
{
    BIGNUM *bn = NULL;
    apr_size_t n;
    unsigned char *buf;
    if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1 || !bn) {
        ERR_clear_error();
        return NULL;
    }
    n = (apr_size_t)BN_num_bytes(bn);
    if (n < pad) {
        n = pad;
    }
    buf = apr_pcalloc(tmp, n ? n : 1);
    wipe_with(tmp, buf, n ? n : 1);
    if (BN_bn2binpad(bn, buf, (int)n) < 0) {
        BN_clear_free(bn);
        return NULL;
    }
    BN_clear_free(bn);
    *len = n;
    return buf;
}

static apr_status_t rsa_jwk(apr_pool_t *tmp, const char *path, const EVP_PKEY *pk,
                            cjose_jwk_t **out, const char **err)
{
    cjose_jwk_rsa_keyspec spec;
    int bits = EVP_PKEY_get_bits(pk);
    if (bits < RSA_MIN_BITS) {
        *err = apr_psprintf(tmp, "%s: an RSA key of %d bits is too weak (at least %d)", path,
                            bits, RSA_MIN_BITS);
        return APR_EINVAL;
    }
    memset(&spec, 0, sizeof(spec));
    spec.n = bn_param(tmp, pk, OSSL_PKEY_PARAM_RSA_N, 0, &spec.nlen);
    spec.e = bn_param(tmp, pk, OSSL_PKEY_PARAM_RSA_E, 0, &spec.elen);
    spec.d = bn_param(tmp, pk, OSSL_PKEY_PARAM_RSA_D, 0, &spec.dlen);
    /* The CRT parameters make signing fast; a key may lack them. */
    spec.p = bn_param(tmp, pk, OSSL_PKEY_PARAM_RSA_FACTOR1, 0, &spec.plen);
    spec.q = bn_param(tmp, pk, OSSL_PKEY_PARAM_RSA_FACTOR2, 0, &spec.qlen);
    spec.dp = bn_param(tmp, pk, OSSL_PKEY_PARAM_RSA_EXPONENT1, 0, &spec.dplen);
    spec.dq = bn_param(tmp, pk, OSSL_PKEY_PARAM_RSA_EXPONENT2, 0, &spec.dqlen);
    spec.qi = bn_param(tmp, pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0, &spec.qilen);
    if (!spec.n || !spec.e || !spec.d) {
        *err = apr_psprintf(tmp, "%s: the RSA key lacks its modulus or exponents", path);
        return APR_EINVAL;
    }
    if (!spec.p || !spec.q || !spec.dp || !spec.dq || !spec.qi) {
        spec.p = spec.q = spec.dp = spec.dq = spec.qi = NULL;
        spec.plen = spec.qlen = spec.dplen = spec.dqlen = spec.qilen = 0;
    }
    if (!(*out = cjose_jwk_create_RSA_spec(&spec, NULL))) {
        *err = apr_psprintf(tmp, "%s: the RSA key cannot be used to sign", path);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t ec_jwk(apr_pool_t *tmp, const char *path, const EVP_PKEY *pk,
                           cjose_jwk_t **out, const char **err)
{
    cjose_jwk_ec_keyspec spec;
    char curve[64] = "";
    size_t clen = 0;
    if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
                                       &clen) != 1) {
        ERR_clear_error();
        apr_cpystrn(curve, "explicit parameters", sizeof(curve));
    }
    if (strcmp(curve, SN_X9_62_prime256v1)) {
        *err = apr_psprintf(tmp, "%s: an EC key on %s; only P-256 (ES256) is supported", path,
                            curve);
        return APR_EINVAL;
    }
    memset(&spec, 0, sizeof(spec));
    spec.crv = CJOSE_JWK_EC_P_256;
    spec.d = bn_param(tmp, pk, OSSL_PKEY_PARAM_PRIV_KEY, P256_BYTES, &spec.dlen);
    if (!spec.d || spec.dlen != P256_BYTES) {
        *err = apr_psprintf(tmp, "%s: the EC key lacks its private part", path);
        return APR_EINVAL;
    }
    /* cjose derives the public point from d. */
    if (!(*out = cjose_jwk_create_EC_spec(&spec, NULL))) {
        *err = apr_psprintf(tmp, "%s: the EC key cannot be used to sign", path);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The public JWK of JWK as cjose writes it, parsed, in POOL. */
static json_t *public_json(apr_pool_t *pool, const cjose_jwk_t *jwk)
{
    char *text = cjose_jwk_to_json(jwk, false, NULL);
    json_t *j;
    if (!text) {
        return NULL;
    }
    j = cn_json_parse(pool, text, strlen(text), NULL);
    cjose_get_dealloc()(text);
    return json_is_object(j) ? j : NULL;
}

/* RFC 7638 §3: SHA-256 over the JWK's required members only (RSA: e, kty, n;
 * EC: crv, kty, x, y), in lexicographic order, without white space;
 * base64url. jansson writes that form with JSON_COMPACT | JSON_SORT_KEYS:
 * the names are ASCII and the values base64url, so nothing is escaped. */
static const char *thumbprint(apr_pool_t *pool, const json_t *jwk)
{
    static const char *const rsa[] = {"e", "kty", "n", NULL};
    static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *const *m;
    json_t *required;
    char *text;
    apr_size_t n;
    unsigned char digest[32];
    if (!kty || (strcmp(kty, "RSA") && strcmp(kty, "EC"))) {
        return NULL;
    }
    required = cn_json_own(pool, json_object());
    for (m = strcmp(kty, "RSA") ? ec : rsa; *m; ++m) {
        json_t *v = json_object_get(jwk, *m);
        if (!json_is_string(v) || json_object_set(required, *m, v)) {
            return NULL;
        }
    }
    if (!(n = json_dumpb(required, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS))) {
        return NULL;
    }
    text = apr_palloc(pool, n);
    if (json_dumpb(required, text, n, JSON_COMPACT | JSON_SORT_KEYS) != n) {
        return NULL;
    }
    cn_sha256(text, n, digest);
    return cn_b64url_encode(pool, digest, sizeof(digest));
}

/* The compact JWS of PAYLOAD[LEN] signed with K, in POOL. */
static apr_status_t sign_with(apr_pool_t *pool, const signing_key_t *k, const char *payload,
                              apr_size_t len, const char **jwt)
{
    cjose_header_t *hdr = cjose_header_new(NULL);
    cjose_jws_t *jws;
    const char *ser = NULL;
    if (!hdr) {
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(pool, hdr, header_cleanup, apr_pool_cleanup_null);
    if (!cjose_header_set(hdr, CJOSE_HDR_ALG, k->alg, NULL)
        || !cjose_header_set(hdr, CJOSE_HDR_KID, k->kid, NULL)
        || !cjose_header_set(hdr, "typ", "JWT", NULL)) {
        return APR_ENOMEM;
    }
    if (!(jws = cjose_jws_sign(k->jwk, hdr, (const uint8_t *)payload, len, NULL))) {
        return APR_EGENERAL;
    }
    apr_pool_cleanup_register(pool, jws, jws_cleanup, apr_pool_cleanup_null);
    if (!cjose_jws_export(jws, &ser, NULL) || !ser) {
        return APR_EGENERAL;
    }
    *jwt = apr_pstrdup(pool, ser);
    return APR_SUCCESS;
}

/* A key that cannot verify its own signature (private and public parts
 * that do not belong together) is refused at start-up, not at the first
 * id_token. */
static int signs_and_verifies(apr_pool_t *tmp, const signing_key_t *k)
{
    static const char probe[] = "{\"probe\":\"ConnectSigningKey\"}";
    const char *jwt = NULL;
    cjose_jws_t *jws;
    int ok;
    if (sign_with(tmp, k, probe, sizeof(probe) - 1, &jwt) != APR_SUCCESS) {
        return 0;
    }
    if (!(jws = cjose_jws_import(jwt, strlen(jwt), NULL))) {
        return 0;
    }
    apr_pool_cleanup_register(tmp, jws, jws_cleanup, apr_pool_cleanup_null);
    ok = cjose_jws_verify(jws, k->jwk, NULL);
    ERR_clear_error();
    return ok;
}

static apr_status_t key_load(apr_pool_t *pool, apr_pool_t *tmp, const char *path,
                             signing_key_t *k, const char **err)
{
    EVP_PKEY *pk = NULL;
    apr_status_t rv;
    json_t *pub;

    memset(k, 0, sizeof(*k));
    k->path = apr_pstrdup(pool, path);
    if ((rv = pem_read(tmp, path, &pk, err)) != APR_SUCCESS) {
        return rv;
    }
    if (EVP_PKEY_is_a(pk, "RSA")) {
        k->alg = "RS256";
        rv = rsa_jwk(tmp, path, pk, &k->jwk, err);
    }
    else if (EVP_PKEY_is_a(pk, "EC")) {
        k->alg = "ES256";
        rv = ec_jwk(tmp, path, pk, &k->jwk, err);
    }
    else {
        const char *type = EVP_PKEY_get0_type_name(pk);
        *err = apr_psprintf(tmp, "%s: a %s key; only RSA (at least %d bits) and EC P-256 "
                                 "keys sign id_tokens", path, type ? type : "unknown",
                            RSA_MIN_BITS);
        rv = APR_EINVAL;
    }
    ERR_clear_error();
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(pool, k->jwk, jwk_cleanup, apr_pool_cleanup_null);

    if (!(pub = public_json(tmp, k->jwk)) || !(k->kid = thumbprint(pool, pub))
        || !cjose_jwk_set_kid(k->jwk, k->kid, strlen(k->kid), NULL)
        || !(pub = public_json(pool, k->jwk))
        || json_object_set_new(pub, "alg", json_string(k->alg))
        || json_object_set_new(pub, "use", json_string("sig"))) {
        *err = apr_psprintf(tmp, "%s: the public key cannot be written as a JWK", path);
        return APR_EGENERAL;
    }
    k->public_jwk = pub;
    if (!signs_and_verifies(tmp, k)) {
        *err = apr_psprintf(tmp, "%s: the key does not verify its own signature", path);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t cn_jose_keys_load(apr_pool_t *pool, const apr_array_header_t *paths,
                               cn_signing_keys_t **out, const char **err)
{
    apr_pool_t *tmp;
    cn_signing_keys_t *keys;
    apr_status_t rv = APR_SUCCESS;
    int i, j;

    *out = NULL;
    if (!paths || !paths->nelts) {
        return APR_SUCCESS;
    }
    /* The PEM text and the key material on its way into cjose live in TMP
     * and are wiped with it. */
    if (apr_pool_create(&tmp, pool) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    keys = apr_pcalloc(pool, sizeof(*keys));
    keys->keys = apr_array_make(pool, paths->nelts, sizeof(signing_key_t));
    for (i = 0; i < paths->nelts && rv == APR_SUCCESS; ++i) {
        const char *path = APR_ARRAY_IDX(paths, i, const char *);
        signing_key_t *k = apr_array_push(keys->keys);
        const char *why = NULL;
        if ((rv = key_load(pool, tmp, path, k, &why)) != APR_SUCCESS) {
            *err = apr_pstrdup(pool, why ? why : path);
            break;
        }
        /* The same key twice would publish one kid twice. */
        for (j = 0; j < i; ++j) {
            const signing_key_t *o = &APR_ARRAY_IDX(keys->keys, j, signing_key_t);
            if (!strcmp(o->kid, k->kid)) {
                *err = apr_psprintf(pool, "%s: the same key as %s", path, o->path);
                rv = APR_EINVAL;
                break;
            }
        }
    }
    apr_pool_destroy(tmp);
    if (rv == APR_SUCCESS) {
        *out = keys;
    }
    return rv;
}

apr_status_t cn_jose_sign(apr_pool_t *pool, const cn_signing_keys_t *keys, json_t *claims,
                          const char **jwt)
{
    const char *payload;
    apr_size_t len = 0;
    if (!keys || !keys->keys->nelts || !json_is_object(claims)) {
        return APR_EINVAL;
    }
    if (!(payload = cn_json_dump_len(pool, claims, &len))) {
        return APR_EGENERAL;
    }
    return sign_with(pool, &APR_ARRAY_IDX(keys->keys, 0, signing_key_t), payload, len, jwt);
}

/* Why JWT is refused, in *WHY when the caller asks. */
static apr_status_t refuse(const char **why, const char *reason)
{
    if (why) {
        *why = reason;
    }
    return APR_EINVAL;
}

apr_status_t cn_jose_verify(apr_pool_t *pool, const cn_signing_keys_t *keys, const char *jwt,
                            json_t **claims, const char **why)
{
    cjose_jws_t *jws;
    cjose_header_t *hdr;
    const char *alg, *kid;
    char *crit;
    uint8_t *payload = NULL;
    size_t len = 0;
    json_t *j;
    int i, tried = 0, ok = 0;

    *claims = NULL;
    if (why) {
        *why = NULL;
    }
    if (!keys || !keys->keys->nelts) {
        return refuse(why, "no ConnectSigningKey to verify it with");
    }
    if (!jwt || !*jwt || strlen(jwt) > CN_JWS_MAX) {
        return refuse(why, "not a JWS of at most 8 KiB");
    }
    jws = cjose_jws_import(jwt, strlen(jwt), NULL);
    ERR_clear_error();
    if (!jws) {
        return refuse(why, "not a JWS compact serialisation");
    }
    apr_pool_cleanup_register(pool, jws, jws_cleanup, apr_pool_cleanup_null);
    hdr = cjose_jws_get_protected(jws);
    alg = hdr ? cjose_header_get(hdr, CJOSE_HDR_ALG, NULL) : NULL;
    kid = hdr ? cjose_header_get(hdr, CJOSE_HDR_KID, NULL) : NULL;
    if (!alg) {
        return refuse(why, "no alg in its header");
    }
    if (!strcmp(alg, CJOSE_HDR_ALG_NONE)) {
        return refuse(why, "alg none (unsigned)");
    }
    /* RFC 7515 §4.1.11: the module understands no extension. */
    if ((crit = cjose_header_get_raw(hdr, "crit", NULL))) {
        cjose_get_dealloc()(crit);
        return refuse(why, "a crit header");
    }
    /* The key its kid names, or (without one) each key of its alg; the
     * alg is always the key's own, never what the token says it is. */
    for (i = 0; i < keys->keys->nelts && !ok; ++i) {
        const signing_key_t *k = &APR_ARRAY_IDX(keys->keys, i, signing_key_t);
        if (kid ? strcmp(kid, k->kid) : strcmp(alg, k->alg)) {
            continue;
        }
        if (strcmp(alg, k->alg)) {
            return refuse(why, "an alg that is not its key's");
        }
        ++tried;
        ok = cjose_jws_verify(jws, k->jwk, NULL);
        ERR_clear_error();
    }
    if (!tried) {
        return refuse(why, kid ? "a kid of no ConnectSigningKey" : "an alg of no ConnectSigningKey");
    }
    if (!ok) {
        return refuse(why, "a signature that does not verify");
    }
    if (!cjose_jws_get_plaintext(jws, &payload, &len, NULL) || !payload) {
        return refuse(why, "no payload");
    }
    j = cn_json_parse(pool, (const char *)payload, len, NULL);
    if (!json_is_object(j)) {
        return refuse(why, "a payload that is not a JSON object");
    }
    *claims = j;
    return APR_SUCCESS;
}

json_t *cn_jose_jwks(apr_pool_t *pool, const cn_signing_keys_t *keys)
{
    json_t *list = json_array();
    int i;
    for (i = 0; keys && list && i < keys->keys->nelts; ++i) {
        const signing_key_t *k = &APR_ARRAY_IDX(keys->keys, i, signing_key_t);
        /* A copy: the stored JWK is shared by every thread. */
        if (json_array_append_new(list, json_deep_copy(k->public_jwk))) {
            json_decref(list);
            return NULL;
        }
    }
    return list ? cn_json_own(pool, json_pack("{s:o}", "keys", list)) : NULL;
}

json_t *cn_jose_algs(apr_pool_t *pool, const cn_signing_keys_t *keys)
{
    json_t *algs = cn_json_own(pool, json_array());
    int i;
    for (i = 0; keys && algs && i < keys->keys->nelts; ++i) {
        const signing_key_t *k = &APR_ARRAY_IDX(keys->keys, i, signing_key_t);
        if (!cn_json_array_has(algs, k->alg) && json_array_append_new(algs, json_string(k->alg))) {
            return NULL;
        }
    }
    return algs;
}

/* ---- a Google service account's assertion (app permissions) ---- */

#define SA_PEM_MAX (16 * 1024)

apr_status_t cn_jose_sign_rs256_pem(apr_pool_t *pool, const char *pem, const char *kid,
                                    json_t *claims, const char **jwt, const char **why)
{
    apr_pool_t *tmp;
    BIO *bio;
    EVP_PKEY *pk;
    signing_key_t k;
    const char *payload, *err = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    *jwt = NULL;
    *why = NULL;
    if (!pem || !*pem || strlen(pem) > SA_PEM_MAX || !kid || !*kid || !json_is_object(claims)) {
        *why = "the private key is missing or longer than 16 KiB, or it has no key id";
        return APR_EINVAL;
    }
    if (apr_pool_create(&tmp, pool) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    if (!(bio = BIO_new_mem_buf(pem, (int)strlen(pem)))) {
        apr_pool_destroy(tmp);
        return APR_ENOMEM;
    }
    pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!pk) {
        apr_pool_destroy(tmp);
        *why = "the private key is not an unencrypted PEM private key";
        return APR_EINVAL;
    }
    apr_pool_cleanup_register(tmp, pk, pkey_cleanup, apr_pool_cleanup_null);
    memset(&k, 0, sizeof(k));
    k.alg = "RS256";
    k.kid = kid;
    if (!EVP_PKEY_is_a(pk, "RSA")) {
        apr_pool_destroy(tmp);
        *why = "the private key is not an RSA key (service accounts sign RS256)";
        return APR_EINVAL;
    }
    rv = rsa_jwk(tmp, "the private key", pk, &k.jwk, &err);
    ERR_clear_error();
    if (rv != APR_SUCCESS) {
        *why = apr_pstrdup(pool, err ? err : "the private key cannot sign");
        apr_pool_destroy(tmp);
        return APR_EINVAL;
    }
    /* The JWK lives with POOL; the PEM's numbers on their way in go with TMP. */
    apr_pool_cleanup_register(pool, k.jwk, jwk_cleanup, apr_pool_cleanup_null);
    apr_pool_destroy(tmp);
    if (!(payload = cn_json_dump_len(pool, claims, &len))) {
        return APR_EGENERAL;
    }
    rv = sign_with(pool, &k, payload, len, jwt);
    ERR_clear_error();
    if (rv != APR_SUCCESS) {
        *why = "the private key cannot sign";
    }
    return rv;
}
