#include <string.h>
#include <apr_strings.h>
#include <apr_encode.h>
#include <apr_lib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "cn_util.h"

#define CN_SEAL_PREFIX "cn1."
#define CN_NONCE_LEN 12
#define CN_TAG_LEN 16

static apr_status_t keyring_wipe(void *data)
{
    cn_keyring_t *ring = data;
    if (ring->keys->nelts) {
        OPENSSL_cleanse(ring->keys->elts, (size_t)ring->keys->nelts * sizeof(cn_key_t));
    }
    return APR_SUCCESS;
}

cn_keyring_t *cn_keyring_make(apr_pool_t *pool)
{
    cn_keyring_t *ring = apr_pcalloc(pool, sizeof(*ring));
    ring->keys = apr_array_make(pool, 2, sizeof(cn_key_t));
    apr_pool_cleanup_register(pool, ring, keyring_wipe, apr_pool_cleanup_null);
    return ring;
}

apr_status_t cn_keyring_add(cn_keyring_t *ring, const unsigned char *key, apr_size_t len)
{
    cn_key_t *k;
    unsigned char digest[32];
    static const char hex[] = "0123456789abcdef";
    int i;
    if (len != CN_KEY_LEN) {
        return APR_EINVAL;
    }
    k = apr_array_push(ring->keys);
    memcpy(k->key, key, CN_KEY_LEN);
    /* The key id is public: a prefix of the key's digest names it without
     * revealing it, and stays the same wherever the key is configured. */
    cn_sha256(key, CN_KEY_LEN, digest);
    for (i = 0; i < CN_KID_LEN / 2; ++i) {
        k->kid[2 * i] = hex[digest[i] >> 4];
        k->kid[2 * i + 1] = hex[digest[i] & 0xf];
    }
    k->kid[CN_KID_LEN] = '\0';
    OPENSSL_cleanse(digest, sizeof(digest));
    return APR_SUCCESS;
}

apr_status_t cn_keyring_add_base64(cn_keyring_t *ring, apr_pool_t *pool, const char *text)
{
    apr_size_t len = 0, tlen;
    const char *start = text, *dec;
    apr_status_t rv;
    while (*start && apr_isspace(*start)) {
        ++start;
    }
    tlen = strlen(start);
    while (tlen && apr_isspace(start[tlen - 1])) {
        --tlen;
    }
    if (!tlen) {
        return APR_EINVAL;
    }
    /* Standard alphabet first, then base64url. */
    dec = apr_pdecode_base64(pool, start, (apr_ssize_t)tlen, APR_ENCODE_NONE, &len);
    if (!dec || len != CN_KEY_LEN) {
        dec = apr_pdecode_base64(pool, start, (apr_ssize_t)tlen, APR_ENCODE_BASE64URL, &len);
    }
    if (!dec || len != CN_KEY_LEN) {
        return APR_EINVAL;
    }
    rv = cn_keyring_add(ring, (const unsigned char *)dec, len);
    OPENSSL_cleanse((void *)dec, len);
    return rv;
}

const char *cn_crypto_aad(apr_pool_t *pool, const char *table, const char *column,
                          const char *row_id)
{
    return apr_pstrcat(pool, table, ".", column, ".", row_id, NULL);
}

static const cn_key_t *keyring_find(const cn_keyring_t *ring, const char *kid, apr_size_t kidlen)
{
    int i;
    if (kidlen != CN_KID_LEN) {
        return NULL;
    }
    for (i = 0; i < ring->keys->nelts; ++i) {
        const cn_key_t *k = &APR_ARRAY_IDX(ring->keys, i, cn_key_t);
        if (!memcmp(k->kid, kid, CN_KID_LEN)) {
            return k;
        }
    }
    return NULL;
}

static apr_status_t ctx_cleanup(void *data)
{
    EVP_CIPHER_CTX_free(data);
    return APR_SUCCESS;
}

static EVP_CIPHER_CTX *ctx_make(apr_pool_t *pool)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx) {
        apr_pool_cleanup_register(pool, ctx, ctx_cleanup, apr_pool_cleanup_null);
    }
    return ctx;
}

apr_status_t cn_crypto_seal(apr_pool_t *pool, const cn_keyring_t *ring, const char *plain,
                            apr_size_t len, const char *aad, const char **out)
{
    const cn_key_t *k;
    EVP_CIPHER_CTX *ctx;
    unsigned char *buf;
    int n = 0, fin = 0;
    if (!ring || ring->keys->nelts < 1 || len > (1u << 24)) {
        return APR_EINVAL;
    }
    k = &APR_ARRAY_IDX(ring->keys, 0, cn_key_t);
    buf = apr_palloc(pool, CN_NONCE_LEN + len + CN_TAG_LEN);
    if (cn_random_bytes(buf, CN_NONCE_LEN) != APR_SUCCESS || !(ctx = ctx_make(pool))) {
        return APR_EGENERAL;
    }
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CN_NONCE_LEN, NULL) != 1
        || EVP_EncryptInit_ex(ctx, NULL, NULL, k->key, buf) != 1
        || EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1
        || EVP_EncryptUpdate(ctx, buf + CN_NONCE_LEN, &n, (const unsigned char *)plain,
                             (int)len) != 1
        || EVP_EncryptFinal_ex(ctx, buf + CN_NONCE_LEN + n, &fin) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CN_TAG_LEN,
                               buf + CN_NONCE_LEN + n + fin) != 1) {
        return APR_EGENERAL;
    }
    *out = apr_pstrcat(pool, CN_SEAL_PREFIX, k->kid, ".",
                       cn_b64url_encode(pool, buf, CN_NONCE_LEN + (apr_size_t)(n + fin) + CN_TAG_LEN),
                       NULL);
    return APR_SUCCESS;
}

/* Split "cn1.<kid>.<blob>"; returns the blob or NULL. */
static const char *sealed_parts(const char *sealed, const char **kid)
{
    const char *dot;
    if (!sealed || strncmp(sealed, CN_SEAL_PREFIX, sizeof(CN_SEAL_PREFIX) - 1)) {
        return NULL;
    }
    *kid = sealed + sizeof(CN_SEAL_PREFIX) - 1;
    dot = strchr(*kid, '.');
    if (!dot || dot - *kid != CN_KID_LEN) {
        return NULL;
    }
    return dot + 1;
}

apr_status_t cn_crypto_open(apr_pool_t *pool, const cn_keyring_t *ring, const char *sealed,
                            const char *aad, const char **out, apr_size_t *outlen)
{
    const char *kid, *blob;
    const cn_key_t *k;
    const unsigned char *raw;
    apr_size_t rawlen = 0, clen;
    unsigned char *plain;
    EVP_CIPHER_CTX *ctx;
    int n = 0, fin = 0;

    if (!(blob = sealed_parts(sealed, &kid))) {
        return APR_EINVAL;
    }
    if (!(k = keyring_find(ring, kid, CN_KID_LEN))) {
        return APR_ENOENT;
    }
    raw = cn_b64url_decode(pool, blob, &rawlen);
    if (!raw || rawlen < CN_NONCE_LEN + CN_TAG_LEN) {
        return APR_EINVAL;
    }
    clen = rawlen - CN_NONCE_LEN - CN_TAG_LEN;
    plain = apr_palloc(pool, clen + 1);
    if (!(ctx = ctx_make(pool))) {
        return APR_EGENERAL;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CN_NONCE_LEN, NULL) != 1
        || EVP_DecryptInit_ex(ctx, NULL, NULL, k->key, raw) != 1
        || EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1
        || EVP_DecryptUpdate(ctx, plain, &n, raw + CN_NONCE_LEN, (int)clen) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CN_TAG_LEN,
                               (void *)(raw + CN_NONCE_LEN + clen)) != 1
        || EVP_DecryptFinal_ex(ctx, plain + n, &fin) != 1) {
        OPENSSL_cleanse(plain, clen);
        return APR_EINVAL;
    }
    plain[n + fin] = '\0';
    *out = (const char *)plain;
    if (outlen) {
        *outlen = (apr_size_t)(n + fin);
    }
    return APR_SUCCESS;
}

int cn_crypto_is_sealed(const char *value)
{
    const char *kid;
    return sealed_parts(value, &kid) != NULL;
}

int cn_crypto_needs_rekey(const cn_keyring_t *ring, const char *sealed)
{
    const char *kid;
    if (!sealed_parts(sealed, &kid) || ring->keys->nelts < 1) {
        return 0;
    }
    return memcmp(kid, APR_ARRAY_IDX(ring->keys, 0, cn_key_t).kid, CN_KID_LEN) != 0;
}

apr_status_t cn_random_bytes(unsigned char *buf, apr_size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t cn_random_token(apr_pool_t *pool, apr_size_t nbytes, const char **out)
{
    unsigned char *buf = apr_palloc(pool, nbytes);
    if (cn_random_bytes(buf, nbytes) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    *out = cn_b64url_encode(pool, buf, nbytes);
    return APR_SUCCESS;
}

apr_status_t cn_uuid(apr_pool_t *pool, const char **out)
{
    unsigned char b[16];
    if (cn_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    *out = apr_psprintf(pool,
                        "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                        b[12], b[13], b[14], b[15]);
    return APR_SUCCESS;
}

void cn_sha256(const void *data, apr_size_t len, unsigned char out[32])
{
    SHA256(data, len, out);
}

const char *cn_sha256_hex(apr_pool_t *pool, const void *data, apr_size_t len)
{
    unsigned char d[32];
    cn_sha256(data, len, d);
    return apr_pencode_base16_binary(pool, d, sizeof(d), APR_ENCODE_LOWER, NULL);
}

const char *cn_b64url_encode(apr_pool_t *pool, const void *data, apr_size_t len)
{
    return apr_pencode_base64_binary(pool, data, len, APR_ENCODE_BASE64URL, NULL);
}

const unsigned char *cn_b64url_decode(apr_pool_t *pool, const char *text, apr_size_t *len)
{
    apr_size_t n = 0;
    const unsigned char *out;
    /* APR's decoder also takes '+' and '/': only the url alphabet is valid,
     * so that one value has one encoding. */
    if (!text || text[strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_")] != '\0') {
        return NULL;
    }
    out = apr_pdecode_base64_binary(pool, text, APR_ENCODE_STRING, APR_ENCODE_BASE64URL, &n);
    if (!out) {
        return NULL;
    }
    if (len) {
        *len = n;
    }
    return out;
}

int cn_ct_equal(const void *a, apr_size_t alen, const void *b, apr_size_t blen)
{
    if (alen != blen) {
        return 0;
    }
    return CRYPTO_memcmp(a, b, alen) == 0;
}
