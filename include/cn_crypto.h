/* Secrets at rest and issued secrets (SPEC §7).
 *
 * Stored values: "cn1.<kid>.<base64url(nonce || ciphertext || tag)>", AES-256-GCM
 * with a random 96-bit nonce, the key id of the key that sealed it, and AAD
 * binding the value to "<table>.<column>.<row id>". A keyring holds one or more
 * 32-byte keys: the first seals, any of them opens (rotation). */
#ifndef CN_CRYPTO_H
#define CN_CRYPTO_H

#include <apr_pools.h>
#include <apr_tables.h>

#define CN_KEY_LEN 32
#define CN_KID_LEN 8 /* hex characters of SHA-256(key) */

typedef struct cn_key_t {
    char kid[CN_KID_LEN + 1];
    unsigned char key[CN_KEY_LEN];
} cn_key_t;

typedef struct cn_keyring_t {
    apr_array_header_t *keys; /* of cn_key_t, the first one seals */
} cn_keyring_t;

cn_keyring_t *cn_keyring_make(apr_pool_t *pool);

/* Add a raw 32-byte key. APR_EINVAL when LEN is not 32. Keys are wiped when
 * the keyring's pool goes. */
apr_status_t cn_keyring_add(cn_keyring_t *ring, const unsigned char *key, apr_size_t len);

/* Decode TEXT (base64 or base64url, surrounding white space ignored) into a
 * 32-byte key and add it. APR_EINVAL when it does not decode to 32 bytes. */
apr_status_t cn_keyring_add_base64(cn_keyring_t *ring, apr_pool_t *pool, const char *text);

/* The AAD string for a value of TABLE.COLUMN in row ROW_ID. */
const char *cn_crypto_aad(apr_pool_t *pool, const char *table, const char *column,
                          const char *row_id);

apr_status_t cn_crypto_seal(apr_pool_t *pool, const cn_keyring_t *ring, const char *plain,
                            apr_size_t len, const char *aad, const char **out);

/* Open a sealed value. APR_ENOENT: no configured key has that key id;
 * APR_EINVAL: malformed or tampered (tag mismatch). *OUT is NUL-terminated. */
apr_status_t cn_crypto_open(apr_pool_t *pool, const cn_keyring_t *ring, const char *sealed,
                            const char *aad, const char **out, apr_size_t *outlen);

/* True when VALUE has the form of a sealed value ("cn1.<kid>.<data>"). */
int cn_crypto_is_sealed(const char *value);

/* True when SEALED was not sealed with the ring's first key. */
int cn_crypto_needs_rekey(const cn_keyring_t *ring, const char *sealed);

/* Random bytes from OpenSSL; APR_EGENERAL when the generator fails. */
apr_status_t cn_random_bytes(unsigned char *buf, apr_size_t len);

/* A base64url token of NBYTES random bytes (>= 32 for issued secrets). */
apr_status_t cn_random_token(apr_pool_t *pool, apr_size_t nbytes, const char **out);

/* A random (version 4) UUID. */
apr_status_t cn_uuid(apr_pool_t *pool, const char **out);

/* Lowercase hex SHA-256 of DATA[LEN]. */
const char *cn_sha256_hex(apr_pool_t *pool, const void *data, apr_size_t len);

/* Raw 32-byte SHA-256 into OUT. */
void cn_sha256(const void *data, apr_size_t len, unsigned char out[32]);

/* base64url without padding (RFC 4648 §5), over APR's encoder. */
const char *cn_b64url_encode(apr_pool_t *pool, const void *data, apr_size_t len);
/* NULL when TEXT is not valid base64url. */
const unsigned char *cn_b64url_decode(apr_pool_t *pool, const char *text, apr_size_t *len);

/* Constant-time equality of two byte strings (length leaks, content does not). */
int cn_ct_equal(const void *a, apr_size_t alen, const void *b, apr_size_t blen);

#endif
