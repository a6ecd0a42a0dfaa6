/* Shared by the fuzz targets: one APR pool, cleared after every input, and
 * the input as a NUL-terminated string (the validators take C strings: an
 * input's NUL ends it, as it would end a JSON string jansson handed over). */
#ifndef CN_FUZZ_COMMON_H
#define CN_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_pools.h>

static apr_pool_t *fuzz_pool;

static const char *fuzz_input(const uint8_t *data, size_t size)
{
    char *s;
    if (!fuzz_pool) {
        if (apr_initialize() != APR_SUCCESS || apr_pool_create(&fuzz_pool, NULL) != APR_SUCCESS) {
            abort();
        }
    }
    apr_pool_clear(fuzz_pool);
    s = apr_palloc(fuzz_pool, size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* An invariant of the validator does not hold: say which, then crash so the
 * fuzzer keeps the input. */
#define FUZZ_REQUIRE(cond, input)                                                              \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: %s does not hold for an input of %zu bytes\n",    \
                    __FILE__, __LINE__, #cond, strlen(input));                                 \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#endif
