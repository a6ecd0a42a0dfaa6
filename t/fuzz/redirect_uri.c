/* libFuzzer target: cn_url_redirect_uri_check. Whatever it accepts must be
 * safe to put in a Location header and to compare as an exact string: short
 * enough, printable ASCII without white space, no fragment, absolute, not a
 * script or local scheme. */
#include <strings.h>

#include "cn_util.h"
#include "fuzz_common.h"

static int starts_with_scheme(const char *s, const char *scheme)
{
    size_t n = strlen(scheme);
    return !strncasecmp(s, scheme, n) && s[n] == ':';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *uri = fuzz_input(data, size), *why = NULL, *c;
    if (cn_url_redirect_uri_check(fuzz_pool, uri, &why) != APR_SUCCESS) {
        if (!why || !*why) {
            fprintf(stderr, "refused without a reason\n");
            abort();
        }
        return 0;
    }
    FUZZ_REQUIRE(*uri && strlen(uri) <= CN_REDIRECT_URI_MAX, uri);
    for (c = uri; *c; ++c) {
        FUZZ_REQUIRE((unsigned char)*c > 0x20 && (unsigned char)*c < 0x7f, uri);
    }
    FUZZ_REQUIRE(!strchr(uri, '#'), uri);
    FUZZ_REQUIRE(strchr(uri, ':') && uri[0] != ':' && uri[0] != '/', uri);
    FUZZ_REQUIRE(!starts_with_scheme(uri, "javascript") && !starts_with_scheme(uri, "data")
                     && !starts_with_scheme(uri, "file") && !starts_with_scheme(uri, "vbscript"),
                 uri);
    /* The same answer a second time (no state between calls). */
    FUZZ_REQUIRE(cn_url_redirect_uri_check(fuzz_pool, uri, NULL) == APR_SUCCESS, uri);
    return 0;
}
