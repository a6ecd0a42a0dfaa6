/* libFuzzer target: cn_url_tenant_valid and cn_url_encode. An accepted tenant
 * goes into a provider URL's path: it must be a single segment that
 * percent-encoding leaves as it is (no '/', '?', '#', '%', no dot segment). */
#include "cn_util.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *tenant = fuzz_input(data, size), *encoded = cn_url_encode(fuzz_pool, tenant);
    /* Whatever the input, its encoding has only letters, digits, "-._*",
     * '%' escapes and '+' (a space). */
    FUZZ_REQUIRE(encoded && encoded[strspn(encoded, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                                    "qrstuvwxyz0123456789-._*%+")] == '\0',
                 tenant);
    if (!cn_url_tenant_valid(tenant)) {
        return 0;
    }
    FUZZ_REQUIRE(*tenant && strlen(tenant) <= CN_TENANT_MAX, tenant);
    FUZZ_REQUIRE(!strcmp(encoded, tenant), tenant);
    FUZZ_REQUIRE(strcmp(tenant, ".") && strcmp(tenant, ".."), tenant);
    FUZZ_REQUIRE(tenant[strspn(tenant, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-.")] == '\0',
                 tenant);
    return 0;
}
