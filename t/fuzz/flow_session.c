/* libFuzzer target: the flow a browser's session cookie carries. The input
 * is read two ways: as the sealed session value itself (what an attacker
 * controls: cn_flow_unseal must refuse it without a crash), and as the
 * plain JSON of a flow record sealed with the server's key (the parser
 * behind the seal: a record it accepts has every field, and opens for its
 * own state only). */
#include <apr_strings.h>

#include "cn_flow.h"
#include "fuzz_common.h"

static cn_keyring_t *ring;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *input = fuzz_input(data, size), *key = CN_FLOW_SESSION_PREFIX "0123abcd", *sealed;
    cn_ctx_t ctx = {0};
    cn_flow_t *flow = NULL;
    if (!ring) {
        static const unsigned char k[CN_KEY_LEN] = "fuzz-key-0123456789abcdef0123456";
        apr_pool_t *p;
        if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
            abort();
        }
        ring = cn_keyring_make(p);
        if (cn_keyring_add(ring, k, sizeof(k)) != APR_SUCCESS) {
            abort();
        }
    }
    ctx.pool = fuzz_pool;
    ctx.ring = ring;
    ctx.now = 1800000000;

    /* the sealed value as the browser sent it */
    FUZZ_REQUIRE(cn_flow_unseal(&ctx, key, input, &flow) != APR_SUCCESS || flow, input);
    cn_flow_open(&ctx, key, input, "some-state", &flow);

    /* the record behind the seal */
    if (cn_crypto_seal(fuzz_pool, ring, input, strlen(input),
                       apr_pstrcat(fuzz_pool, "session.", key, NULL), &sealed) != APR_SUCCESS) {
        abort();
    }
    flow = NULL;
    if (cn_flow_unseal(&ctx, key, sealed, &flow) == APR_SUCCESS) {
        cn_flow_t *opened = NULL;
        FUZZ_REQUIRE(flow && flow->kind && flow->app_id && flow->integration_id && flow->provider
                         && flow->origin && flow->state && flow->verifier,
                     input);
        FUZZ_REQUIRE(cn_flow_open(&ctx, key, sealed, "", &opened) != APR_SUCCESS
                         || !*flow->state,
                     input);
        if (cn_flow_open(&ctx, key, sealed, flow->state, &opened) == APR_SUCCESS) {
            FUZZ_REQUIRE(opened->deadline > ctx.now && cn_flow_kind(opened->kind), input);
        }
    }
    return 0;
}
