/* libFuzzer target: the signature base string of RFC 5849 §3.4.1 built from
 * untrusted parameters. The input is a query string, then optionally a
 * newline and a form body (cn_oauth1_form_parse for both, then
 * cn_oauth1_collect and cn_oauth1_base_string). */
#include <apr_strings.h>
#include <apr_tables.h>

#include "cn_proto.h"
#include "fuzz_common.h"

/* A base string is METHOD&URI&PARAMS, each percent-encoded: only unreserved
 * characters, '%' followed by two upper case hex digits, and two '&'. */
static int base_string_well_formed(const char *b)
{
    int amps = 0;
    for (; *b; ++b) {
        if (*b == '&') {
            ++amps;
        }
        else if (*b == '%') {
            if (!strchr("0123456789ABCDEF", b[1]) || !b[1] || !strchr("0123456789ABCDEF", b[2])
                || !b[2]) {
                return 0;
            }
            b += 2;
        }
        else if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", *b)) {
            return 0;
        }
    }
    return amps == 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *input = fuzz_input(data, size), *why = NULL, *base, *sig;
    const char *nl = strchr(input, '\n');
    const char *query = nl ? apr_pstrndup(fuzz_pool, input, (apr_size_t)(nl - input)) : input;
    const char *form = nl ? nl + 1 : NULL;
    apr_array_header_t *params = apr_array_make(fuzz_pool, 8, sizeof(cn_oauth1_param_t));
    cn_oauth1_request_t req = {"POST", NULL, query, form, form ? strlen(form) : 0};
    cn_oauth1_signed_t *s = NULL;

    if (cn_oauth1_form_parse(fuzz_pool, query, strlen(query), params, &why) == APR_SUCCESS) {
        FUZZ_REQUIRE(params->nelts <= CN_OAUTH1_PARAMS_MAX, input);
        base = cn_oauth1_base_string(fuzz_pool, "post", "https://api.example/2.0/accounts",
                                     params);
        FUZZ_REQUIRE(base && base_string_well_formed(base), input);
        FUZZ_REQUIRE(!strncmp(base, "POST&https%3A%2F%2Fapi.example%2F2.0%2Faccounts&", 47),
                     input);
        sig = cn_oauth1_sign(fuzz_pool, base, "consumer secret", "token secret");
        FUZZ_REQUIRE(sig && strlen(sig) == 28, input);
    }
    else {
        FUZZ_REQUIRE(why != NULL, input);
    }
    if (cn_oauth1_collect(fuzz_pool, &req, &s, &why) == APR_SUCCESS) {
        base = cn_oauth1_base_string(fuzz_pool, req.method, "http://h.example:8080/x", s->params);
        FUZZ_REQUIRE(base && base_string_well_formed(base), input);
        if (s->dedup_params) {
            /* counting duplicates once never adds a parameter */
            FUZZ_REQUIRE(s->dedup_params->nelts < s->params->nelts, input);
        }
    }
    return 0;
}
