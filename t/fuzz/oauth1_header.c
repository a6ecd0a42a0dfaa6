/* libFuzzer target: the `Authorization: OAuth ...` header of a Context.IO
 * request as the core parses it (cn_oauth1_header_parse), then the whole
 * collection of the signature parameters with it (cn_oauth1_collect). */
#include <apr_strings.h>
#include <apr_tables.h>

#include "cn_proto.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *header = fuzz_input(data, size), *why = NULL;
    apr_array_header_t *params = NULL;
    cn_oauth1_request_t req = {"GET", NULL, NULL, NULL, 0};
    cn_oauth1_signed_t *s = NULL;
    apr_status_t rv;
    int i, j;

    rv = cn_oauth1_header_parse(fuzz_pool, header, &params, &why);
    if (rv != APR_SUCCESS) {
        FUZZ_REQUIRE(!params && why && *why, header);
    }
    else {
        FUZZ_REQUIRE(params && params->nelts <= CN_OAUTH1_PARAMS_MAX, header);
        FUZZ_REQUIRE(strlen(header) <= CN_OAUTH1_HEADER_MAX, header);
        for (i = 0; i < params->nelts; ++i) {
            const cn_oauth1_param_t *p = &APR_ARRAY_IDX(params, i, cn_oauth1_param_t);
            /* names are there, realm is not a parameter, each name once;
             * decoded parts are never longer than the header */
            FUZZ_REQUIRE(p->name && *p->name && p->value, header);
            FUZZ_REQUIRE(strcasecmp(p->name, "realm") != 0, header);
            FUZZ_REQUIRE(strlen(p->name) + strlen(p->value) < strlen(header), header);
            for (j = i + 1; j < params->nelts; ++j) {
                FUZZ_REQUIRE(strcmp(p->name, APR_ARRAY_IDX(params, j, cn_oauth1_param_t).name),
                             header);
            }
        }
    }
    req.authorization = header;
    rv = cn_oauth1_collect(fuzz_pool, &req, &s, &why);
    if (rv == APR_SUCCESS) {
        /* a signed request names everything the checks need */
        FUZZ_REQUIRE(s->consumer_key && s->signature && s->signature_method && s->timestamp
                         && s->nonce, header);
        cn_oauth1_check_fields(s, 1700000000, &why);
        FUZZ_REQUIRE(!cn_oauth1_signature_valid(fuzz_pool, s, "GET", "http://h.example/",
                                                 "a consumer secret of the fuzzer", "t")
                         || s->signature, header);
    }
    else {
        FUZZ_REQUIRE(!s && why, header);
    }
    return 0;
}
