/* What the hosted pages need from the core: a small template engine (a
 * subset of mustache in which every value is HTML-escaped), colours that
 * stay readable, and the words an error page says for each event.
 * APR and jansson only; no httpd. */
#ifndef CN_TEMPLATE_H
#define CN_TEMPLATE_H

#include <apr_pools.h>
#include <jansson.h>

#include "cn_util.h"

/* ---- templates ---- */
/* Syntax (mustache's, less everything that could output a value unescaped):
 *
 *   {{name}} {{a.b}}     the value, HTML-escaped (apr_escape_entity: < > & ", and
 *                        ' as &#39;);
 *                        a string as it is, a number in decimal, true/false,
 *                        nothing for null, a missing name, an object or an array
 *   {{.}}                the innermost value (an element of the array iterated)
 *   {{#name}}...{{/name}} the block when the value is truthy: a non-empty string,
 *                        true, a non-zero number, a non-empty object or array;
 *                        once per element of an array (the element is then the
 *                        innermost scope), once with an object as the innermost scope
 *   {{^name}}...{{/name}} the block when the value is falsy (missing included)
 *   {{! comment }}       nothing (may span lines)
 *
 * A name is "." or dot-separated segments of A-Z a-z 0-9 _ -; spaces around
 * it are allowed. The first segment is looked up from the innermost scope
 * outward, the rest inside what it found. A section, inverted section or
 * comment tag alone on its line takes the line with it (mustache's
 * "standalone" rule). {{{x}}}, {{&x}}, partials, delimiter changes and any
 * other tag are refused when the template is compiled, as are unclosed tags,
 * unclosed or mismatched sections, sections nested deeper than
 * CN_TEMPLATE_MAX_DEPTH and NUL bytes. */

#define CN_TEMPLATE_MAX_DEPTH 32
#define CN_TEMPLATE_MAX_SIZE (256 * 1024)       /* bytes of one template file */
#define CN_TEMPLATE_MAX_OUTPUT (1024 * 1024)    /* bytes one rendering may produce */
#define CN_TEMPLATE_MAX_STEPS 200000            /* nodes one rendering may visit */

typedef struct cn_template_t cn_template_t;

/* Compile TEXT[LEN] into *OUT (allocated in POOL, which must outlive it).
 * NAME names the template in messages (a file name). On failure returns
 * APR_EINVAL and, when ERR is given, "NAME:LINE: what is wrong". */
apr_status_t cn_template_compile(apr_pool_t *pool, const char *name, const char *text,
                                 apr_size_t len, cn_template_t **out, const char **err);

/* Read the file PATH (at most CN_TEMPLATE_MAX_SIZE bytes) and compile it;
 * messages name PATH. */
apr_status_t cn_template_load(apr_pool_t *pool, const char *path, cn_template_t **out,
                              const char **err);

/* Read the file PATH, at most MAX bytes, into *OUT (NUL-terminated, *LEN
 * bytes) in POOL; on failure a message naming PATH in *ERR. */
apr_status_t cn_file_read(apr_pool_t *pool, const char *path, apr_size_t max, const char **out,
                          apr_size_t *len, const char **err);

/* Render T with VALUES (the outermost scope; NULL: none) into *OUT
 * (NUL-terminated, *LEN bytes when LEN is given), in POOL. APR_ENOSPC when
 * the output would pass CN_TEMPLATE_MAX_OUTPUT bytes or the walk
 * CN_TEMPLATE_MAX_STEPS nodes (arrays nested in arrays). */
apr_status_t cn_template_render(apr_pool_t *pool, const cn_template_t *t, const json_t *values,
                                const char **out, apr_size_t *len);

/* The name the template was compiled with. */
const char *cn_template_name(const cn_template_t *t);

/* ---- colours ---- */
/* An application's accent colour is "#rrggbb". The pages put text on it
 * only in the colour of cn_color_text_on, so any accent keeps a contrast of
 * at least 4.5:1 (WCAG 2 AA). */

/* "#rrggbb" (either case) into *RGB (0xRRGGBB); APR_EINVAL otherwise. */
apr_status_t cn_color_parse(const char *text, unsigned *rgb);

/* The WCAG 2 contrast ratio of two colours, 1 to 21. */
double cn_color_contrast(unsigned a, unsigned b);

/* "#000000" or "#ffffff": whichever contrasts more with BG (always >= 4.5:1). */
const char *cn_color_text_on(unsigned bg);

/* ---- the words of the error page ---- */
/* What the user reads when a hosted page fails: a title, what went wrong in
 * plain words, and what they can do about it. No internals, no secrets. */
typedef struct cn_page_text_t {
    const char *title;
    const char *message;
    const char *advice;
} cn_page_text_t;

/* The words for event ID (every event has some: a family's, else a general one). */
const cn_page_text_t *cn_page_text(cn_event_id_t id);

#endif
