/* libFuzzer target: cn_jwt_claims, which reads the id_token a provider's
 * token endpoint answered. Whatever the input, it answers a JSON object or
 * nothing, and never reads past it. */
#include "cn_proto.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *jwt = fuzz_input(data, size);
    json_t *claims = cn_jwt_claims(fuzz_pool, jwt);
    FUZZ_REQUIRE(!claims || json_is_object(claims), jwt);
    if (claims) {
        /* what the identity code asks of it: strings or nothing */
        json_t *sub = json_object_get(claims, "sub");
        FUZZ_REQUIRE(!sub || json_typeof(sub) <= JSON_NULL, jwt);
    }
    return 0;
}
