/* libFuzzer target: what app permissions read from outside. The input is
 * read two ways: as a service account's private key (credential_data's
 * private_key, the application's: cn_jose_sign_rs256_pem signs with it or
 * says why not), and as the query of Microsoft's admin-consent redirect to
 * /callback (the step's finish takes a tenant that is a directory's, never a
 * keyword, or fails with an event). */
#include <apr_strings.h>
#include <apr_tables.h>

#include "cn_proto.h"
#include "../../src/core/flow/flow.h"
#include "fuzz_common.h"

/* NAME=VALUE pairs split on '&' (the glue decodes them; any bytes may come). */
static apr_table_t *query_of(const char *input)
{
    apr_table_t *t = apr_table_make(fuzz_pool, 4);
    char *copy = apr_pstrdup(fuzz_pool, input), *pair, *state = NULL;
    for (pair = apr_strtok(copy, "&", &state); pair; pair = apr_strtok(NULL, "&", &state)) {
        char *eq = strchr(pair, '=');
        if (eq) {
            *eq = '\0';
        }
        apr_table_add(t, pair, eq ? eq + 1 : "");
    }
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *input = fuzz_input(data, size), *jwt = NULL, *why = NULL;
    json_t *claims = json_pack("{s:s,s:s}", "iss", "sa@p.iam.gserviceaccount.com", "sub", "u@x");
    cn_ctx_t ctx = {0};
    cn_flow_proof_t proof = {0};
    apr_status_t rv;

    /* the key */
    rv = cn_jose_sign_rs256_pem(fuzz_pool, input, "kid-1", claims, &jwt, &why);
    json_decref(claims);
    if (rv == APR_SUCCESS) {
        const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
        FUZZ_REQUIRE(d2 && !strchr(d2 + 1, '.'), input);
    }
    else {
        FUZZ_REQUIRE(why && !jwt, input);
    }

    /* the consent's redirect */
    ctx.pool = fuzz_pool;
    ctx.now = 1800000000;
    rv = cn_flow_step_adminconsent.finish(&ctx, NULL, NULL, query_of(input), &proof);
    if (rv == APR_SUCCESS) {
        FUZZ_REQUIRE(proof.consented_tenant && cn_url_tenant_valid(proof.consented_tenant)
                         && strcmp(proof.consented_tenant, "common"),
                     input);
    }
    else {
        FUZZ_REQUIRE(ctx.res.event && !proof.consented_tenant, input);
    }
    return 0;
}
