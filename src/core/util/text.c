/* Small text helpers shared by the core. */
#include <apr_strings.h>
#include <apr_lib.h>

#include "cn_util.h"

char *cn_lower(apr_pool_t *pool, const char *s)
{
    char *c = apr_pstrdup(pool, s), *d;
    for (d = c; *d; ++d) {
        *d = (char)apr_tolower(*d);
    }
    return c;
}

int cn_json_array_has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), s)) {
            return 1;
        }
    }
    return 0;
}
