/* The core's utilities: JSON over jansson, event codes and results, crypto
 * (AEAD, keyring, random, digests), percent-encoding and URL checks, the
 * rendered-text cache. APR, APR-util, jansson and OpenSSL underneath; no httpd. */
#ifndef CN_UTIL_H
#define CN_UTIL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

/* ---- JSON ---- */
/* JSON helpers over jansson. Every json_t handed out here is owned by an APR
 * pool: a cleanup drops the reference when the pool goes. */

/* A JSON text as jansson dumped it, and its length. */
typedef struct cn_text_t {
    const char *text;
    apr_size_t len;
} cn_text_t;

/* Tie J to POOL (json_decref at pool cleanup) and return it. NULL-safe. */
json_t *cn_json_own(apr_pool_t *pool, json_t *j);

/* Parse BUF[LEN] as a JSON document; NUL bytes are refused. On failure
 * returns NULL and, when ERR is given, a short description in POOL. */
json_t *cn_json_parse(apr_pool_t *pool, const char *buf, apr_size_t len, const char **err);

/* Compact serialisation into POOL (NUL-terminated); NULL on failure. */
const char *cn_json_dump(apr_pool_t *pool, const json_t *j);
/* The same, with its length in *LEN (may be NULL). */
const char *cn_json_dump_len(apr_pool_t *pool, const json_t *j, apr_size_t *len);

/* SKELETON dumped by jansson with the N texts of ITEMS spliced into the empty
 * array that is SKELETON's first member (whose key has no ':'), e.g.
 * {"data":[],"limit":50} and two items -> {"data":[ITEM0,ITEM1],"limit":50}.
 * Each item must itself be a JSON text jansson dumped (a cached rendering):
 * only the commas between them are written here. NULL on failure. */
const char *cn_json_splice_array(apr_pool_t *pool, const json_t *skeleton, const cn_text_t *items,
                                 int n, apr_size_t *len);

/* Typed field access on an object. A missing key is not an error; a key of
 * the wrong type is (returns APR_EINVAL). Out-values are untouched when the
 * key is missing. */
apr_status_t cn_json_get_string(const json_t *obj, const char *key, const char **out);
apr_status_t cn_json_get_int(const json_t *obj, const char *key, long long *out);
apr_status_t cn_json_get_object(const json_t *obj, const char *key, json_t **out);
apr_status_t cn_json_get_bool(const json_t *obj, const char *key, int *out);

/* KEY must be an array of strings, each at most MAXLEN bytes, at most MAXN of
 * them. APR_EINVAL otherwise. */
apr_status_t cn_json_get_string_array(const json_t *obj, const char *key, apr_size_t maxn,
                                      apr_size_t maxlen, json_t **out);

/* The first key of OBJ that is not in the NULL-terminated list ALLOWED, or NULL. */
const char *cn_json_unknown_key(const json_t *obj, const char *const *allowed);

/* At most MAX bytes of TEXT if they are valid UTF-8 (cut back to a character
 * boundary), else NULL: for header values that end up in JSON. */
const char *cn_json_utf8_prefix(apr_pool_t *pool, const char *text, apr_size_t max);

/* Parse TEXT stored by us (a JSON array or object); NULL on failure. */
json_t *cn_json_load_stored(apr_pool_t *pool, const char *text);

/* True when the JSON array ARR holds the string S (byte for byte). */
int cn_json_array_has(const json_t *arr, const char *s);

/* S with ASCII letters in lower case, in POOL. */
char *cn_lower(apr_pool_t *pool, const char *s);

/* ---- events and results ---- */
/* Event codes of the Unified Auth API (seed 004, "Event Codes").
 * One table drives error envelopes, log lines and recorded events. */

/* The events, by name: a misspelt one does not compile. */
typedef enum cn_event_id_t {
    CN_EV_BAD_REQUEST,
    CN_EV_INVALID_REQUEST_ERROR,
    CN_EV_UNAUTHORIZED_ACCESS,
    CN_EV_NOT_FOUND_ERROR,
    CN_EV_INTERNAL_ERROR,
    CN_EV_INVALID_REQUEST_PAYLOAD,
    CN_EV_INVALID_QUERY_PARAMS,
    CN_EV_APP_ID_NOT_ALLOWED,
    CN_EV_INVALID_TOKEN_EXPIRY,
    CN_EV_LOGIN_EXPIRES_IN_INVALID,
    CN_EV_REDIRECT_URI_NOT_ALLOWED,
    CN_EV_LOGIN_ID_INVALID,
    CN_EV_INTEGRATION_NO_LONGER_EXISTS,
    CN_EV_NO_LOGIN_SCOPES,
    CN_EV_GRANT_NOT_FOUND,
    CN_EV_REFRESH_TOKEN_INVALID,
    CN_EV_GRANT_EXPIRED,
    CN_EV_PROVIDER_REQUIRED,
    CN_EV_REFRESH_TOKEN_REQUIRED,
    CN_EV_GRANT_CREATED,
    CN_EV_GRANT_DELETED,
    CN_EV_GRANT_UPDATED,
    CN_EV_REAUTH_EMAIL_INVALID,
    CN_EV_SCOPES_CONFLICT,
    CN_EV_GMAIL_DOMAIN_INVALID,
    CN_EV_GRANT_ACCESS_DENIED,
    CN_EV_HISTORIC_SYNC_COMPLETED,
    CN_EV_INVALID_AUTHENTICATION,
    CN_EV_PROVIDER_NOT_RESPONDING,
    CN_EV_AUTH_LIMIT_REACHED,
    CN_EV_GRANT_REAUTHENTICATED,
    CN_EV_HOSTED_LOGIN_STARTED,
    CN_EV_HOSTED_LOGIN_USED,
    CN_EV_SESSION_REVOKE_FAILED,
    CN_EV_SESSION_REVOKE_SUCCESS,
    CN_EV_INTEGRATION_CREATED,
    CN_EV_INTEGRATION_DELETED,
    CN_EV_INTEGRATION_UPDATED,
    CN_EV_INTEGRATION_NOT_FOUND,
    CN_EV_PROVIDER_NOT_SUPPORTED,
    CN_EV_PROVIDER_SETTINGS_INVALID,
    CN_EV_PROVIDER_SETTINGS_SECRET_REQUIRED,
    CN_EV_INTEGRATION_ALREADY_EXISTS,
    CN_EV_INTEGRATION_PROBLEM,
    CN_EV_CREDENTIAL_NOT_FOUND,
    CN_EV_CREDENTIAL_ALREADY_EXISTS,
    CN_EV_CREDENTIAL_MISSING_PARAM,
    CN_EV_CREDENTIAL_CREATED,
    CN_EV_CREDENTIAL_UPDATED,
    CN_EV_CREDENTIAL_DELETED,
    CN_EV_PROVIDER_CODE_REQUEST_FAILED,
    CN_EV_OAUTH_FAILED,
    CN_EV_INVALID_CLIENT,
    CN_EV_INVALID_GRANT,
    CN_EV_INVALID_REQUEST,
    CN_EV_REDIRECT_URI_MISMATCH,
    CN_EV_UNSUPPORTED_GRANT_TYPE,
    CN_EV_INVALID_TOKEN,
    CN_EV_OAUTH_REDIRECT,
    CN_EV_OAUTH_PROVIDER_ERROR,
    /* beyond the seed: RFC 6749 errors of the OAuth 2.0 server the seed has no event for */
    CN_EV_UNAUTHORIZED_CLIENT,
    CN_EV_INVALID_SCOPE,
    CN_EV_UNSUPPORTED_RESPONSE_TYPE,
    /* beyond the seed: a provider's TLS that cannot be trusted (an IMAP server's
     * certificate from a CA ConnectCAFile does not hold, STARTTLS refused) */
    CN_EV_PROVIDER_TLS_FAILED,
    /* beyond the seed: the HTTP layer's own answers */
    CN_EV_METHOD_NOT_ALLOWED,
    CN_EV_PAYLOAD_TOO_LARGE,
    CN_EV_UNSUPPORTED_MEDIA_TYPE,
    CN_EV_SERVICE_UNAVAILABLE,
    CN_EV__COUNT
} cn_event_id_t;

typedef struct cn_event_t {
    cn_event_id_t id;
    const char *type;     /* e.g. "grant_not_found" */
    int code;             /* event code, e.g. 25007 */
    int http_code;        /* 0 where the seed says N/A */
    const char *category; /* HTTP, Token, Grant, Integration, Provider */
    const char *message;  /* default message */
} cn_event_t;

/* The event ID (an unknown value: internal_error). */
const cn_event_t *cn_event(cn_event_id_t id);

/* The event of TYPE or CODE, or NULL: for tests and for reading stored events. */
const cn_event_t *cn_event_by_type(const char *type);
const cn_event_t *cn_event_by_code(int code);

/* The whole table (for tests and documentation), terminated by a NULL type. */
const cn_event_t *cn_event_table(void);

/* A failure travelling up to where it becomes an answer, a page or a log
 * line: its cause (an APR status), the event, and a description that is
 * safe to show (never a secret). */
typedef struct cn_result_t {
    apr_status_t status;
    const cn_event_t *event;
    const char *description;
    apr_int64_t retry_after; /* seconds a caller should wait before asking again (a
                              * Retry-After with the answer); 0: none. cn_fail clears it */
} cn_result_t;

/* Fill R with event ID and a description formatted into POOL (FMT may be NULL
 * for the event's default message); the status is APR_EGENERAL, or RV for
 * cn_fail_rv. Both return that status, so callers write `return cn_fail(...)`. */
apr_status_t cn_fail(apr_pool_t *pool, cn_result_t *r, cn_event_id_t id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
apr_status_t cn_fail_rv(apr_pool_t *pool, cn_result_t *r, apr_status_t rv, cn_event_id_t id,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ---- crypto ---- */
/* Secrets at rest and issued secrets (SPEC §7).
 *
 * Stored values: "cn1.<kid>.<base64url(nonce || ciphertext || tag)>", AES-256-GCM
 * with a random 96-bit nonce, the key id of the key that sealed it, and AAD
 * binding the value to "<table>.<column>.<row id>". A keyring holds one or more
 * 32-byte keys: the first seals, any of them opens (rotation). */

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

/* ---- URLs ---- */
/* Values that end up in URLs and headers: percent-encoding, and the checks of
 * what an application may register as a redirect URI or a Microsoft tenant.
 * APR and APR-util only (the fuzz targets build this file on its own). */

#define CN_REDIRECT_URI_MAX 2048 /* bytes of one redirect URI */
#define CN_REDIRECT_URIS_MAX 50  /* redirect URIs of one integration */
#define CN_TENANT_MAX 253        /* a DNS name's limit */

/* S percent-encoded for a query component or a path segment (APR's
 * urlencoded form: everything but A-Z a-z 0-9 - . _ * is escaped, space as
 * '+'). NULL for NULL. */
const char *cn_url_encode(apr_pool_t *pool, const char *s);

/* APR_SUCCESS when URI may be registered as a redirect URI: at most
 * CN_REDIRECT_URI_MAX bytes of printable ASCII without white space, parsed by
 * apr_uri_parse, absolute, no fragment; http/https need a host (and a port,
 * if any, of 1-65535); any other scheme is a native app's (RFC 8252 §7.1,
 * e.g. com.example.app:/oauth), except javascript, data, file and vbscript.
 * APR_EINVAL otherwise, with *WHY (when given) saying why, in words that do
 * not repeat the value. */
apr_status_t cn_url_redirect_uri_check(apr_pool_t *pool, const char *uri, const char **why);

/* What a Content-Security-Policy source list may name for URL: its origin,
 * "scheme://host[:port]" (scheme and host in lower case), for an http or https
 * URL whose host is a DNS name or an IPv4 address; "scheme:" for any other
 * scheme (a native app's redirect URI) made of letters, digits, + - . only.
 * NULL when URL does not parse or has nothing a policy could carry safely
 * (white space, quotes, ';' or ','). For form-action and img-src. */
const char *cn_url_origin(apr_pool_t *pool, const char *url);

/* True when TENANT is a Microsoft tenant: a GUID (8-4-4-4-12 hex digits), a
 * DNS name of at least two labels (each 1-63 of A-Z a-z 0-9 and '-', not
 * starting or ending with '-'; CN_TENANT_MAX bytes in all), or one of common,
 * organizations, consumers (in any case). */
int cn_url_tenant_valid(const char *tenant);

/* ---- network addresses: where the module connects for a user ---- */
/* What an IP address is (RFC 6890 and IANA's special-purpose address
 * registries), and the operator's exceptions (ConnectAllowAddresses). A
 * connection whose destination a user or a user's DNS chose (auto-discovery,
 * an IMAP LOGIN) goes only to a public address or to one the exceptions
 * name: anything else would let whoever types an address or runs a domain
 * make the server reach its loopback, its cloud's metadata service or the
 * private network behind it. */

typedef enum cn_addr_kind_t {
    CN_ADDR_PUBLIC,        /* global unicast: none of the below */
    CN_ADDR_UNSPECIFIED,   /* 0.0.0.0/8 ("this network"), :: */
    CN_ADDR_LOOPBACK,      /* 127.0.0.0/8, ::1 */
    CN_ADDR_PRIVATE,       /* 10/8, 172.16/12, 192.168/16 (RFC 1918); fc00::/7 (unique
                            * local), fec0::/10 (site-local, deprecated) */
    CN_ADDR_SHARED,        /* 100.64.0.0/10: carrier-grade NAT (RFC 6598) */
    CN_ADDR_LINK_LOCAL,    /* 169.254.0.0/16 (cloud metadata services), fe80::/10 */
    CN_ADDR_MULTICAST,     /* 224.0.0.0/4, ff00::/8 */
    CN_ADDR_BROADCAST,     /* 255.255.255.255 */
    CN_ADDR_DOCUMENTATION, /* 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20 */
    CN_ADDR_BENCHMARKING,  /* 198.18.0.0/15, 2001:2::/48 */
    CN_ADDR_RESERVED       /* the rest that is no global unicast: 192.0.0.0/24, 240.0.0.0/4,
                            * 2001::/23 (Teredo among them), 64:ff9b:1::/48, 100::/64,
                            * and IPv6 outside 2000::/3 */
} cn_addr_kind_t;

/* The kind of the address of FAMILY (AF_INET: 4 bytes, AF_INET6: 16 bytes,
 * network order) at BYTES. An IPv6 address that carries an IPv4 address --
 * IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96), 6to4 (2002::/16) --
 * is of that IPv4 address's kind. CN_ADDR_RESERVED for another family. */
cn_addr_kind_t cn_addr_kind_of(int family, const unsigned char *bytes);

/* The same for the numeric address TEXT (dotted quad or IPv6 text, no zone,
 * no brackets). APR_EINVAL when TEXT is no such address. */
apr_status_t cn_addr_kind(const char *text, cn_addr_kind_t *out);

/* "public", "loopback", "private", "link-local", ... for log lines. */
const char *cn_addr_kind_name(cn_addr_kind_t kind);

/* The non-public addresses the operator lets users' connections reach. */
typedef struct cn_addr_allow_t cn_addr_allow_t;

/* The exceptions of CIDRS (const char *: "ADDRESS" or "ADDRESS/BITS", IPv4
 * or IPv6 numeric, BITS in decimal; an IPv4-mapped IPv6 subnet is taken as
 * the IPv4 one), made with apr_ipsubnet_create. APR_EINVAL with *WHY naming
 * the entry that is none. No entries: an empty list (public addresses only). */
apr_status_t cn_addr_allow_make(apr_pool_t *pool, const apr_array_header_t *cidrs,
                                cn_addr_allow_t **out, const char **why);

/* The exceptions as configured, separated by spaces ("" for none). */
const char *cn_addr_allow_text(apr_pool_t *pool, const cn_addr_allow_t *allow);

/* APR_SUCCESS when a connection chosen by a user or by DNS answers may go to
 * the numeric address ADDR: it is public (cn_addr_kind), or one of ALLOW's
 * subnets (may be NULL: none) has it. An IPv4-mapped address is checked as
 * the IPv4 address it is. APR_EACCES otherwise, APR_EINVAL for what is no
 * numeric address; *WHY (may be NULL) says so for the log, e.g. "127.0.0.1
 * is not a public address (loopback)". */
apr_status_t cn_addr_permitted(apr_pool_t *pool, const cn_addr_allow_t *allow, const char *addr,
                               const char **why);

/* ---- the rendered-text cache ---- */
/* A process-wide cache of rendered texts (a grant's JSON as jansson dumped
 * it), shared between threads. A text is found by its key and must carry the
 * same signature (the row text it was rendered from), so a changed row is
 * never answered from the cache. Readers get a copy in their own pool: an
 * entry may be replaced or dropped the moment the lock is released. */

typedef struct cn_text_cache_t cn_text_cache_t;

/* MAX entries at most; when full, the cache starts over (no per-entry bookkeeping
 * on the hot path). */
apr_status_t cn_text_cache_make(apr_pool_t *pool, unsigned max, cn_text_cache_t **out);

/* For each of N keys under one lock: OUT[i] is a copy in POOL of the text
 * KEYS[i] was rendered to from SIGS[i], or {NULL, 0}. Returns the number found. */
int cn_text_cache_get_many(cn_text_cache_t *cache, apr_pool_t *pool, int n,
                           const char *const *keys, const char *const *sigs, cn_text_t *out);

/* Remember TEXT (copied) as KEY rendered from SIG. */
void cn_text_cache_put(cn_text_cache_t *cache, const char *key, const char *sig,
                       const cn_text_t *text);

#endif
