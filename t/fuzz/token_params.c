/* libFuzzer target: the body of POST /token (and /revoke) as the core
 * decodes it, cn_oauth_params_parse, then what the token endpoint reads from
 * it without the store: the PKCE verifier, the scope. The first byte picks
 * the Content-Type (form, form with a charset, JSON, another type, none);
 * the rest is the body, NUL bytes included. */
#include <apr_strings.h>
#include <apr_tables.h>

#include "cn_proto.h"
#include "fuzz_common.h"

static const char *const types[] = {
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=UTF-8",
    "application/json",
    " Application/JSON ;charset=utf-8",
    "text/plain",
    NULL,
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *type, *why = NULL, *v;
    apr_table_t *t = NULL;
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    char *body;
    int i, j;
    apr_status_t rv;

    fuzz_input(data, 0); /* the pool, cleared */
    if (!size) {
        return 0;
    }
    type = types[data[0] % NTYPES];
    /* the body keeps its NUL bytes: the parser is given its length */
    body = apr_pmemdup(fuzz_pool, data + 1, size - 1);
    rv = cn_oauth_params_parse(fuzz_pool, type, body, size - 1, &t, &why);
    if (rv != APR_SUCCESS) {
        FUZZ_REQUIRE(!t && why && *why, "");
        return 0;
    }
    FUZZ_REQUIRE(t != NULL, "");
    arr = apr_table_elts(t);
    e = (const apr_table_entry_t *)arr->elts;
    FUZZ_REQUIRE(arr->nelts <= CN_OAUTH_PARAMS_MAX, "");
    FUZZ_REQUIRE(size > 1 || arr->nelts == 0, "");
    for (i = 0; i < arr->nelts; ++i) {
        /* names are there, once each; values are C strings of the body */
        FUZZ_REQUIRE(e[i].key && *e[i].key && e[i].val, "");
        FUZZ_REQUIRE(strlen(e[i].key) < size && strlen(e[i].val) < size, "");
        for (j = i + 1; j < arr->nelts; ++j) {
            FUZZ_REQUIRE(strcmp(e[i].key, e[j].key) != 0, e[i].key);
        }
    }
    /* what the token endpoint reads before it asks the store */
    if ((v = apr_table_get(t, "code_verifier"))) {
        rv = cn_pkce_verify(fuzz_pool, CHALLENGE, "S256", v, &why);
        FUZZ_REQUIRE(rv != APR_SUCCESS || !strcmp(v, VERIFIER), v);
        cn_pkce_verify(fuzz_pool, cn_pkce_s256_hex(fuzz_pool, v), "S256", v, &why);
        cn_pkce_verify(fuzz_pool, v, "plain", v, &why);
    }
    if ((v = apr_table_get(t, "code_challenge"))) {
        cn_pkce_challenge_check(v, cn_pkce_method(apr_table_get(t, "code_challenge_method")), &why);
    }
    if ((v = apr_table_get(t, "scope"))) {
        json_t *scope = cn_oauth_scope_parse(fuzz_pool, v);
        if (scope) {
            const char *joined = cn_oauth_scope_string(fuzz_pool, scope);
            json_t *again = cn_oauth_scope_parse(fuzz_pool, joined);
            /* a parsed scope joins and parses back to itself */
            FUZZ_REQUIRE(again && json_equal(scope, again), joined);
        }
    }
    return 0;
}
