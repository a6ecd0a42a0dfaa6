#include <string.h>
#include <apr_strings.h>

#include "cn_util.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *cn_json_own(apr_pool_t *pool, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(pool, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

static const char *parse_error_kind(enum json_error_code code)
{
    switch (code) {
    case json_error_invalid_syntax: return "invalid syntax";
    case json_error_invalid_utf8: return "invalid UTF-8";
    case json_error_premature_end_of_input: return "unexpected end of input";
    case json_error_end_of_input_expected: return "text after the JSON value";
    case json_error_duplicate_key: return "a duplicate key";
    case json_error_null_character: return "a NUL character";
    case json_error_numeric_overflow: return "a number out of range";
    case json_error_wrong_type: return "a value of the wrong type";
    default: return "malformed JSON";
    }
}

json_t *cn_json_parse(apr_pool_t *pool, const char *buf, apr_size_t len, const char **err)
{
    json_error_t jerr;
    /* JSON_REJECT_DUPLICATES: an ambiguous document is a bad document.
     * JSON_ALLOW_NUL is left off: "\u0000" inside a string is refused. */
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        /* Where, never what: jansson's text quotes the input, which may
         * hold a secret, and this goes to logs and answers. */
        if (err) {
            *err = apr_psprintf(pool, "%s at line %d, column %d (byte %d)",
                                parse_error_kind(json_error_code(&jerr)), jerr.line,
                                jerr.column, jerr.position);
        }
        return NULL;
    }
    return cn_json_own(pool, j);
}

const char *cn_json_dump_len(apr_pool_t *pool, const json_t *j, apr_size_t *len)
{
    /* Straight into pool memory: one pass when the guess is big enough, two
     * when not; no malloc'd copy in between. */
    apr_size_t cap = 16384, n;
    char *buf = apr_palloc(pool, cap);
    n = json_dumpb(j, buf, cap - 1, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!n) {
        return NULL;
    }
    if (n > cap - 1) {
        cap = n + 1;
        buf = apr_palloc(pool, cap);
        if (json_dumpb(j, buf, n, JSON_COMPACT | JSON_ENCODE_ANY) != n) {
            return NULL;
        }
    }
    buf[n] = '\0';
    if (len) {
        *len = n;
    }
    return buf;
}

const char *cn_json_splice_array(apr_pool_t *pool, const json_t *skeleton, const cn_text_t *items,
                                 int n, apr_size_t *len)
{
    apr_size_t slen, total, head, i;
    const char *sk = cn_json_dump_len(pool, skeleton, &slen), *colon;
    char *out, *at;
    if (!sk || !json_is_object(skeleton) || !(colon = strchr(sk, ':')) || strncmp(colon, ":[]", 3)) {
        return NULL;
    }
    head = (apr_size_t)(colon - sk) + 2; /* up to and with the '[' */
    total = slen + (n > 0 ? (apr_size_t)n - 1 : 0);
    for (i = 0; i < (apr_size_t)n; ++i) {
        total += items[i].len;
    }
    at = out = apr_palloc(pool, total + 1);
    memcpy(at, sk, head);
    at += head;
    for (i = 0; i < (apr_size_t)n; ++i) {
        if (i) {
            *at++ = ',';
        }
        memcpy(at, items[i].text, items[i].len);
        at += items[i].len;
    }
    memcpy(at, sk + head, slen - head);
    at += slen - head;
    *at = '\0';
    if (len) {
        *len = total;
    }
    return out;
}

const char *cn_json_dump(apr_pool_t *pool, const json_t *j)
{
    return cn_json_dump_len(pool, j, NULL);
}

apr_status_t cn_json_get_string(const json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_string(v)) {
        return APR_EINVAL;
    }
    *out = json_string_value(v);
    return APR_SUCCESS;
}

apr_status_t cn_json_get_int(const json_t *obj, const char *key, long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_integer(v)) {
        return APR_EINVAL;
    }
    *out = json_integer_value(v);
    return APR_SUCCESS;
}

apr_status_t cn_json_get_object(const json_t *obj, const char *key, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_object(v)) {
        return APR_EINVAL;
    }
    *out = v;
    return APR_SUCCESS;
}

apr_status_t cn_json_get_bool(const json_t *obj, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_boolean(v)) {
        return APR_EINVAL;
    }
    *out = json_is_true(v);
    return APR_SUCCESS;
}

apr_status_t cn_json_get_string_array(const json_t *obj, const char *key, apr_size_t maxn,
                                      apr_size_t maxlen, json_t **out)
{
    json_t *v = json_object_get(obj, key), *item;
    size_t i;
    if (!v) {
        return APR_SUCCESS;
    }
    if (!json_is_array(v) || json_array_size(v) > maxn) {
        return APR_EINVAL;
    }
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || json_string_length(item) == 0
            || json_string_length(item) > maxlen) {
            return APR_EINVAL;
        }
    }
    *out = v;
    return APR_SUCCESS;
}

const char *cn_json_unknown_key(const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        const char *const *a;
        int found = 0;
        for (a = allowed; *a; ++a) {
            if (!strcmp(*a, key)) {
                found = 1;
                break;
            }
        }
        if (!found) {
            return key;
        }
    }
    return NULL;
}

json_t *cn_json_load_stored(apr_pool_t *pool, const char *text)
{
    if (!text || !*text) {
        return NULL;
    }
    return cn_json_parse(pool, text, strlen(text), NULL);
}

const char *cn_json_utf8_prefix(apr_pool_t *pool, const char *text, apr_size_t max)
{
    apr_size_t n = strlen(text);
    json_t *probe;
    if (n > max) {
        n = max;
        /* back to the start of a character: continuation bytes are 10xxxxxx */
        while (n && ((unsigned char)text[n] & 0xc0) == 0x80) {
            --n;
        }
    }
    probe = json_stringn(text, n);
    if (!probe) {
        return NULL;
    }
    json_decref(probe);
    return apr_pstrndup(pool, text, n);
}
