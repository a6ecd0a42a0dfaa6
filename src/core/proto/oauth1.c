/* OAuth 1.0a request signatures (RFC 5849), HMAC-SHA1 only: how the
 * Context.IO 2.0 API knows its caller. The parameters come from the
 * Authorization header, the query string and a form body; the signature base
 * string is built per §3.4.1 and checked with OpenSSL's HMAC; the timestamp
 * must be within the window and the nonce new (kept in the shared cache, so a
 * replay fails in any process). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_encode.h>
#include <apr_lib.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cn_proto.h"

static apr_status_t refuse(const char **why, const char *reason)
{
    if (why) {
        *why = reason;
    }
    return APR_EINVAL;
}

const char *cn_oauth1_encode(apr_pool_t *pool, const char *s)
{
    /* libcurl escapes all but RFC 3986's unreserved characters, with upper
     * case hex digits: exactly §3.6. The handle is not used. */
    char *e = curl_easy_escape(NULL, s, (int)strlen(s));
    const char *out;
    if (!e) {
        return NULL;
    }
    out = apr_pstrdup(pool, e);
    curl_free(e);
    return out;
}

static apr_status_t push(apr_array_header_t *params, const char *name, const char *value,
                         const char **why)
{
    cn_oauth1_param_t *p;
    if (params->nelts >= CN_OAUTH1_PARAMS_MAX) {
        return refuse(why, "too many parameters");
    }
    p = &APR_ARRAY_PUSH(params, cn_oauth1_param_t);
    p->name = name;
    p->value = value;
    return APR_SUCCESS;
}

/* One percent-encoded component BUF[LEN], '+' a space when PLUS; a bad
 * escape or a NUL (raw or escaped) gives NULL. */
static const char *component(apr_pool_t *pool, const char *buf, apr_size_t len, int plus)
{
    if (memchr(buf, '\0', len)) {
        return NULL;
    }
    return apr_punescape_url(pool, apr_pstrndup(pool, buf, len), NULL, NULL, plus);
}

apr_status_t cn_oauth1_form_parse(apr_pool_t *pool, const char *s, apr_size_t len,
                                  apr_array_header_t *out, const char **why)
{
    apr_size_t at = 0;
    if (len && !s) {
        return refuse(why, "no form");
    }
    while (at < len) {
        const char *pair = s + at, *amp = memchr(pair, '&', len - at), *eq;
        apr_size_t plen = amp ? (apr_size_t)(amp - pair) : len - at;
        const char *name, *value;
        at += plen + 1;
        if (!plen) {
            continue; /* "a=1&&b=2" */
        }
        eq = memchr(pair, '=', plen);
        name = component(pool, pair, eq ? (apr_size_t)(eq - pair) : plen, 1);
        value = eq ? component(pool, eq + 1, plen - (apr_size_t)(eq - pair) - 1, 1) : "";
        if (!name || !value) {
            return refuse(why, "the parameters are not valid percent-encoding");
        }
        if (push(out, name, value, why) != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    return APR_SUCCESS;
}

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        ++p;
    }
    return p;
}

apr_status_t cn_oauth1_header_parse(apr_pool_t *pool, const char *header,
                                    apr_array_header_t **out, const char **why)
{
    apr_array_header_t *params;
    const char *p;
    *out = NULL;
    if (!header) {
        return refuse(why, "no Authorization header");
    }
    if (strlen(header) > CN_OAUTH1_HEADER_MAX) {
        return refuse(why, "the Authorization header is too long");
    }
    p = skip_space(header);
    if (strncasecmp(p, "OAuth", 5) || (p[5] && p[5] != ' ' && p[5] != '\t')) {
        return refuse(why, "the Authorization header is not of the OAuth scheme");
    }
    params = apr_array_make(pool, 8, sizeof(cn_oauth1_param_t));
    p = skip_space(p + 5);
    while (*p) {
        const char *name_end = p, *vstart, *vend, *name, *value;
        int i;
        while (*name_end && *name_end != '=' && *name_end != ',' && *name_end != ' '
               && *name_end != '\t' && *name_end != '"') {
            ++name_end;
        }
        if (name_end == p || *name_end != '=' || name_end[1] != '"') {
            return refuse(why, "the Authorization header's parameters must be name=\"value\"");
        }
        vstart = name_end + 2;
        if (!(vend = strchr(vstart, '"'))) {
            return refuse(why, "an Authorization header value has no closing quote");
        }
        name = component(pool, p, (apr_size_t)(name_end - p), 0);
        value = component(pool, vstart, (apr_size_t)(vend - vstart), 0);
        if (!name || !value) {
            return refuse(why, "the Authorization header is not valid percent-encoding");
        }
        /* §3.5.1: realm is not a protocol parameter, and each parameter at most once */
        if (strcasecmp(name, "realm")) {
            for (i = 0; i < params->nelts; ++i) {
                if (!strcmp(APR_ARRAY_IDX(params, i, cn_oauth1_param_t).name, name)) {
                    return refuse(why, "a parameter of the Authorization header is given twice");
                }
            }
            if (push(params, name, value, why) != APR_SUCCESS) {
                return APR_EINVAL;
            }
        }
        p = skip_space(vend + 1);
        if (*p == ',') {
            p = skip_space(p + 1);
            if (!*p) {
                return refuse(why, "the Authorization header ends with a comma");
            }
        }
        else if (*p) {
            return refuse(why, "the Authorization header's parameters must be separated by commas");
        }
    }
    *out = params;
    return APR_SUCCESS;
}

const char *cn_oauth1_base_uri(apr_pool_t *pool, const char *scheme, const char *host, int port,
                               const char *path)
{
    const char *s = cn_lower(pool, scheme), *h = cn_lower(pool, host);
    int dflt = (!strcmp(s, "http") && port == 80) || (!strcmp(s, "https") && port == 443);
    const char *bracket = strchr(h, ':') && *h != '[' ? "[" : "";
    if (!path || !*path) {
        path = "/";
    }
    return dflt || port <= 0
               ? apr_pstrcat(pool, s, "://", bracket, h, *bracket ? "]" : "", path, NULL)
               : apr_psprintf(pool, "%s://%s%s%s:%d%s", s, bracket, h, *bracket ? "]" : "", port,
                              path);
}

typedef struct encoded_t {
    const char *name, *value;
} encoded_t;

static int encoded_cmp(const void *a, const void *b)
{
    const encoded_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

const char *cn_oauth1_base_string(apr_pool_t *pool, const char *method, const char *base_uri,
                                  const apr_array_header_t *params)
{
    encoded_t *e = apr_pcalloc(pool, sizeof(*e) * (apr_size_t)(params->nelts + 1));
    struct iovec *vec;
    const char *normal;
    int i, n = 0, v = 0;
    /* §3.4.1.3.2: every name and value encoded, oauth_signature left out,
     * sorted by name then value (byte order of the encoded forms) */
    for (i = 0; i < params->nelts; ++i) {
        const cn_oauth1_param_t *p = &APR_ARRAY_IDX(params, i, cn_oauth1_param_t);
        if (!strcmp(p->name, "oauth_signature")) {
            continue;
        }
        e[n].name = cn_oauth1_encode(pool, p->name);
        e[n].value = cn_oauth1_encode(pool, p->value);
        if (!e[n].name || !e[n].value) {
            return NULL;
        }
        ++n;
    }
    qsort(e, (size_t)n, sizeof(*e), encoded_cmp);
    vec = apr_palloc(pool, sizeof(*vec) * (apr_size_t)(4 * n + 1));
    for (i = 0; i < n; ++i) {
        if (i) {
            vec[v].iov_base = "&";
            vec[v++].iov_len = 1;
        }
        vec[v].iov_base = (void *)e[i].name;
        vec[v++].iov_len = strlen(e[i].name);
        vec[v].iov_base = "=";
        vec[v++].iov_len = 1;
        vec[v].iov_base = (void *)e[i].value;
        vec[v++].iov_len = strlen(e[i].value);
    }
    normal = v ? apr_pstrcatv(pool, vec, (apr_size_t)v, NULL) : "";
    /* §3.4.1.1: METHOD&enc(base URI)&enc(normalised parameters) */
    {
        const char *m = apr_pstrdup(pool, method), *u = cn_oauth1_encode(pool, base_uri),
                   *q = cn_oauth1_encode(pool, normal);
        char *c;
        if (!u || !q) {
            return NULL;
        }
        for (c = (char *)m; *c; ++c) {
            *c = (char)apr_toupper(*c);
        }
        return apr_pstrcat(pool, cn_oauth1_encode(pool, m), "&", u, "&", q, NULL);
    }
}

const char *cn_oauth1_sign(apr_pool_t *pool, const char *base, const char *consumer_secret,
                           const char *token_secret)
{
    /* §3.4.2: the key is enc(consumer secret)&enc(token secret) */
    const char *cs = cn_oauth1_encode(pool, consumer_secret ? consumer_secret : "");
    const char *ts = cn_oauth1_encode(pool, token_secret ? token_secret : "");
    const char *key;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const char *out;
    if (!cs || !ts || !base) {
        return NULL;
    }
    key = apr_pstrcat(pool, cs, "&", ts, NULL);
    if (!HMAC(EVP_sha1(), key, (int)strlen(key), (const unsigned char *)base, strlen(base), mac,
              &len)) {
        OPENSSL_cleanse((void *)key, strlen(key));
        return NULL;
    }
    OPENSSL_cleanse((void *)key, strlen(key));
    out = apr_pencode_base64_binary(pool, mac, len, APR_ENCODE_NONE, NULL);
    OPENSSL_cleanse(mac, sizeof(mac));
    return out;
}

static const char *param_get(const apr_array_header_t *params, const char *name)
{
    int i;
    for (i = 0; i < params->nelts; ++i) {
        const cn_oauth1_param_t *p = &APR_ARRAY_IDX(params, i, cn_oauth1_param_t);
        if (!strcmp(p->name, name)) {
            return p->value;
        }
    }
    return NULL;
}

static int param_count(const apr_array_header_t *params, const char *name)
{
    int i, n = 0;
    for (i = 0; i < params->nelts; ++i) {
        n += !strcmp(APR_ARRAY_IDX(params, i, cn_oauth1_param_t).name, name);
    }
    return n;
}

static int pair_in(const apr_array_header_t *params, const cn_oauth1_param_t *p)
{
    int i;
    for (i = 0; i < params->nelts; ++i) {
        const cn_oauth1_param_t *q = &APR_ARRAY_IDX(params, i, cn_oauth1_param_t);
        if (!strcmp(q->name, p->name) && !strcmp(q->value, p->value)) {
            return 1;
        }
    }
    return 0;
}

static void append(apr_array_header_t *to, const apr_array_header_t *from)
{
    apr_array_cat(to, from);
}

apr_status_t cn_oauth1_collect(apr_pool_t *pool, const cn_oauth1_request_t *req,
                               cn_oauth1_signed_t **out, const char **why)
{
    static const char *const protocol[] = {"oauth_consumer_key", "oauth_token",
                                           "oauth_signature_method", "oauth_signature",
                                           "oauth_timestamp", "oauth_nonce", "oauth_version",
                                           NULL};
    cn_oauth1_signed_t *s = apr_pcalloc(pool, sizeof(*s));
    apr_array_header_t *header = NULL, *query, *form, *source;
    const char *const *k;
    int i, dup = 0;

    *out = NULL;
    query = apr_array_make(pool, 8, sizeof(cn_oauth1_param_t));
    form = apr_array_make(pool, 8, sizeof(cn_oauth1_param_t));
    if (req->authorization && !strncasecmp(skip_space(req->authorization), "OAuth", 5)) {
        if (cn_oauth1_header_parse(pool, req->authorization, &header, why) != APR_SUCCESS) {
            return APR_EINVAL;
        }
    }
    if (req->query && cn_oauth1_form_parse(pool, req->query, strlen(req->query), query, why)
                          != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (req->form && cn_oauth1_form_parse(pool, req->form, req->form_len, form, why)
                         != APR_SUCCESS) {
        return APR_EINVAL;
    }
    /* The protocol parameters come from one place: the header when there is
     * one, else the query string, else the form (§3.5). */
    source = header ? header : param_get(query, "oauth_signature") ? query : form;
    s->from_header = header != NULL;
    for (k = protocol; *k; ++k) {
        int n = param_count(header ? header : query, *k) + (header ? param_count(query, *k) : 0)
                + param_count(form, *k);
        if (n > 1) {
            /* the PHP client's duplicated form parameters are counted below;
             * a protocol parameter twice would leave its meaning open */
            int same = !header && param_count(query, *k) == 1 && param_count(form, *k) == 1
                       && !strcmp(param_get(query, *k), param_get(form, *k));
            if (!same) {
                return refuse(why, apr_psprintf(pool, "%s is given more than once", *k));
            }
        }
    }
    s->consumer_key = param_get(source, "oauth_consumer_key");
    s->token = param_get(source, "oauth_token");
    s->signature_method = param_get(source, "oauth_signature_method");
    s->signature = param_get(source, "oauth_signature");
    s->timestamp = param_get(source, "oauth_timestamp");
    s->nonce = param_get(source, "oauth_nonce");
    s->version = param_get(source, "oauth_version");
    if (!s->consumer_key || !s->signature || !s->signature_method || !s->timestamp
        || !s->nonce) {
        return refuse(why, "the request is not signed: oauth_consumer_key, oauth_signature, "
                           "oauth_signature_method, oauth_timestamp and oauth_nonce are required");
    }
    /* §3.4.1.3.1: header (realm and signature out), query, form */
    s->params = apr_array_make(pool, 16, sizeof(cn_oauth1_param_t));
    if (header) {
        append(s->params, header);
    }
    append(s->params, query);
    append(s->params, form);
    if (s->params->nelts > CN_OAUTH1_PARAMS_MAX) {
        return refuse(why, "too many parameters");
    }
    /* The official PHP client signs a POST in query mode with its form
     * parameters in the query string as well: the base string that counts
     * each such duplicate once is accepted too. */
    for (i = 0; i < form->nelts; ++i) {
        dup |= pair_in(query, &APR_ARRAY_IDX(form, i, cn_oauth1_param_t));
    }
    if (dup) {
        s->dedup_params = apr_array_make(pool, s->params->nelts, sizeof(cn_oauth1_param_t));
        if (header) {
            append(s->dedup_params, header);
        }
        append(s->dedup_params, query);
        for (i = 0; i < form->nelts; ++i) {
            const cn_oauth1_param_t *p = &APR_ARRAY_IDX(form, i, cn_oauth1_param_t);
            if (!pair_in(query, p)) {
                APR_ARRAY_PUSH(s->dedup_params, cn_oauth1_param_t) = *p;
            }
        }
    }
    *out = s;
    return APR_SUCCESS;
}

apr_status_t cn_oauth1_check_fields(const cn_oauth1_signed_t *s, apr_int64_t now,
                                    const char **why)
{
    const char *c;
    apr_int64_t ts;
    if (strcmp(s->signature_method, "HMAC-SHA1")) {
        return refuse(why, "oauth_signature_method must be HMAC-SHA1");
    }
    if (s->version && strcmp(s->version, "1.0")) {
        return refuse(why, "oauth_version must be 1.0");
    }
    if (!*s->timestamp || strlen(s->timestamp) > 12) {
        return refuse(why, "oauth_timestamp must be a number of seconds");
    }
    for (c = s->timestamp; *c; ++c) {
        if (!apr_isdigit(*c)) {
            return refuse(why, "oauth_timestamp must be a number of seconds");
        }
    }
    ts = apr_atoi64(s->timestamp);
    if (ts < now - CN_OAUTH1_WINDOW || ts > now + CN_OAUTH1_WINDOW) {
        return refuse(why, "oauth_timestamp is more than 300 seconds away from the server's "
                           "time");
    }
    if (!*s->nonce || strlen(s->nonce) > CN_OAUTH1_NONCE_MAX) {
        return refuse(why, "oauth_nonce must be 1 to 255 characters");
    }
    return APR_SUCCESS;
}

static int signature_matches(apr_pool_t *pool, const cn_oauth1_signed_t *s,
                             const apr_array_header_t *params, const char *method,
                             const char *base_uri, const char *consumer_secret,
                             const char *token_secret)
{
    const char *base = cn_oauth1_base_string(pool, method, base_uri, params);
    const char *sig = base ? cn_oauth1_sign(pool, base, consumer_secret, token_secret) : NULL;
    return sig && cn_ct_equal(sig, strlen(sig), s->signature, strlen(s->signature));
}

int cn_oauth1_signature_valid(apr_pool_t *pool, const cn_oauth1_signed_t *s, const char *method,
                              const char *base_uri, const char *consumer_secret,
                              const char *token_secret)
{
    return signature_matches(pool, s, s->params, method, base_uri, consumer_secret, token_secret)
           || (s->dedup_params && signature_matches(pool, s, s->dedup_params, method, base_uri,
                                                    consumer_secret, token_secret));
}

apr_status_t cn_oauth1_nonce_spend(cn_ctx_t *ctx, const cn_oauth1_signed_t *s)
{
    const char *key;
    long n = 0;
    apr_status_t rv;
    if (!ctx->cache) {
        cn_log(ctx, CN_LOG_ERR, CNLOGNO(03000) "no ConnectCache in this process: OAuth 1.0a "
                                "nonces cannot be checked, signed requests are refused");
        return cn_fail(ctx->pool, &ctx->res, CN_EV_SERVICE_UNAVAILABLE,
                       "signed requests cannot be checked for replays now");
    }
    /* One entry per consumer, token, timestamp and nonce (§3.3), kept as
     * long as its timestamp can pass the window. */
    key = apr_pstrcat(ctx->pool, "oauth1-nonce:",
                      cn_sha256_hex(ctx->pool,
                                    apr_pstrcat(ctx->pool, s->consumer_key, "\n",
                                                s->token ? s->token : "", "\n", s->timestamp,
                                                "\n", s->nonce, NULL),
                                    strlen(s->consumer_key) + strlen(s->token ? s->token : "")
                                        + strlen(s->timestamp) + strlen(s->nonce) + 3),
                      NULL);
    rv = ctx->cache->incr(ctx->cache->baton, ctx->pool, key, 1, 2 * CN_OAUTH1_WINDOW + 1, &n);
    if (rv != APR_SUCCESS) {
        cn_log(ctx, CN_LOG_ERR, CNLOGNO(03001) "ConnectCache refused an OAuth 1.0a nonce "
                                "(status %d): the signed request is refused", rv);
        return cn_fail(ctx->pool, &ctx->res, CN_EV_SERVICE_UNAVAILABLE,
                       "signed requests cannot be checked for replays now");
    }
    if (n != 1) {
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST_ERROR,
                       "oauth_nonce was used before with this timestamp");
    }
    return APR_SUCCESS;
}
