/* libFuzzer target: the page template engine. The input is compiled as a
 * template; one that compiles is rendered with fixed values shaped like the
 * pages' (strings with markup, nested objects, arrays of objects and of
 * scalars, falsy values). A refused template must say where (file:line); a
 * rendering must stay within its limits and never output a value's markup
 * unescaped. */
#include <apr_strings.h>

#include "cn_template.h"
#include "fuzz_common.h"

/* The values, with markup in their strings (MARK) and with a plain word of
 * the same truthiness in its place (PLAIN). */
static json_t *values[2];

#define MARK "<x'\"&>"
#define PLAIN "plain"

static json_t *make_values(const char *s)
{
    return json_pack("{s:s,s:{s:s,s:s,s:s},s:[{s:s,s:s},{s:s,s:s}],s:[i,s,b,n],"
                     "s:b,s:b,s:s,s:i,s:{s:s,s:s},s:[]}",
                     "title", s, "app", "name", s, "logo", "", "color", "#1a73e8",
                     "providers", "name", "google", "label", s, "name", "imap", "label", "IMAP",
                     "list", 1, s, 1, "yes", 1, "no", 0, "empty", "", "zero", 0,
                     "error", "message", s, "field", "password", "none");
}

static apr_size_t count(const char *hay, const char *needle)
{
    apr_size_t n = 0;
    while ((hay = strstr(hay, needle))) {
        ++n;
        ++hay;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_template_t *t = NULL;
    const char *err = NULL, *out = NULL, *plain = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    fuzz_input(data, 0); /* the pool, cleared */
    if (!values[0]) {
        values[0] = make_values(MARK);
        values[1] = make_values(PLAIN);
    }
    rv = cn_template_compile(fuzz_pool, "fuzz.html", (const char *)data, size, &t, &err);
    if (rv != APR_SUCCESS) {
        FUZZ_REQUIRE(!t && err && !strncmp(err, "fuzz.html:", 10), "");
        return 0;
    }
    FUZZ_REQUIRE(t != NULL, "");
    rv = cn_template_render(fuzz_pool, t, values[0], &out, &len);
    if (rv != APR_SUCCESS) {
        FUZZ_REQUIRE(rv == APR_ENOSPC && !out, "");
        return 0;
    }
    FUZZ_REQUIRE(out && strlen(out) == len && len <= CN_TEMPLATE_MAX_OUTPUT, "");
    /* The same walk with plain words: the markup comes out no more often
     * than the template's own text writes it, i.e. never from a value. */
    FUZZ_REQUIRE(cn_template_render(fuzz_pool, t, values[1], &plain, NULL) == APR_SUCCESS, "");
    FUZZ_REQUIRE(count(out, MARK) == count(plain, MARK), "");
    FUZZ_REQUIRE(!strchr(MARK, '\'') || count(out, "'") == count(plain, "'"), "");
    return 0;
}
