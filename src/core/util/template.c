/* The page template engine: a mustache subset compiled once into a flat
 * array of nodes (a section knows where its block ends), rendered by a walk
 * over that array with a stack of scopes. Every value goes through APR's
 * entity escaping; there is no tag that outputs a value as it is. */
#include <string.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_file_io.h>

#include "cn_template.h"

typedef enum {
    NODE_TEXT,
    NODE_VALUE,
    NODE_SECTION,
    NODE_INVERTED
} node_kind_t;

typedef struct node_t {
    node_kind_t kind;
    const char *text;     /* TEXT: the bytes; others: the name as written */
    apr_size_t len;
    const char **path;    /* the name's segments; npath 0 for "." */
    int npath;
    int end;              /* SECTION, INVERTED: the index after the block */
} node_t;

struct cn_template_t {
    const char *name;
    node_t *nodes;
    int n;
    apr_size_t text_len;  /* bytes of literal text: a first guess of the output */
};

const char *cn_template_name(const cn_template_t *t)
{
    return t->name;
}

/* ---- compiling ------------------------------------------------------- */

typedef struct parser_t {
    apr_pool_t *pool;
    const char *name, *text;
    apr_size_t len;
    apr_array_header_t *nodes;   /* node_t */
    int open[CN_TEMPLATE_MAX_DEPTH]; /* node indexes of the open sections */
    int open_line[CN_TEMPLATE_MAX_DEPTH];
    int depth;
    const char *err;
} parser_t;

static int line_of(const parser_t *ps, apr_size_t pos)
{
    int line = 1;
    apr_size_t i;
    for (i = 0; i < pos && i < ps->len; ++i) {
        line += ps->text[i] == '\n';
    }
    return line;
}

static apr_status_t fail(parser_t *ps, apr_size_t pos, const char *what)
{
    ps->err = apr_psprintf(ps->pool, "%s:%d: %s", ps->name, line_of(ps, pos), what);
    return APR_EINVAL;
}

static void add_text(parser_t *ps, apr_size_t from, apr_size_t to)
{
    node_t *n;
    if (to <= from) {
        return;
    }
    n = apr_array_push(ps->nodes);
    memset(n, 0, sizeof(*n));
    n->kind = NODE_TEXT;
    n->text = ps->text + from;
    n->len = to - from;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
           || c == '-';
}

/* NAME[LEN] (spaces trimmed) split into N->path; 0 when it is not a name. */
static int parse_name(parser_t *ps, const char *name, apr_size_t len, node_t *n)
{
    apr_size_t i, start = 0;
    int segs = 1;
    while (len && (*name == ' ' || *name == '\t')) {
        ++name, --len;
    }
    while (len && (name[len - 1] == ' ' || name[len - 1] == '\t')) {
        --len;
    }
    if (!len) {
        return 0;
    }
    n->text = apr_pstrmemdup(ps->pool, name, len);
    n->len = len;
    if (len == 1 && *name == '.') {
        n->npath = 0;
        return 1;
    }
    for (i = 0; i < len; ++i) {
        if (name[i] == '.') {
            if (i == start) {
                return 0;   /* "a..b", ".a" */
            }
            ++segs;
            start = i + 1;
        }
        else if (!is_name_char(name[i])) {
            return 0;
        }
    }
    if (start == len) {
        return 0;           /* "a." */
    }
    n->path = apr_palloc(ps->pool, sizeof(*n->path) * (apr_size_t)segs);
    n->npath = 0;
    for (i = 0, start = 0; i <= len; ++i) {
        if (i == len || name[i] == '.') {
            n->path[n->npath++] = apr_pstrmemdup(ps->pool, name + start, i - start);
            start = i + 1;
        }
    }
    return 1;
}

/* The tag at [TS, TE) alone on its line: [*LS, *LE) is that whole line,
 * newline included, to be dropped. */
static int standalone(const parser_t *ps, apr_size_t cursor, apr_size_t ts, apr_size_t te,
                      apr_size_t *ls, apr_size_t *le)
{
    apr_size_t a = ts, b = te;
    while (a > cursor && (ps->text[a - 1] == ' ' || ps->text[a - 1] == '\t')) {
        --a;
    }
    /* Something before it on the line: text, or a tag (then a == cursor). */
    if (a > 0 && ps->text[a - 1] != '\n') {
        return 0;
    }
    while (b < ps->len && (ps->text[b] == ' ' || ps->text[b] == '\t')) {
        ++b;
    }
    if (b < ps->len && ps->text[b] == '\r' && b + 1 < ps->len && ps->text[b + 1] == '\n') {
        b += 2;
    }
    else if (b < ps->len && ps->text[b] == '\n') {
        b += 1;
    }
    else if (b != ps->len) {
        return 0;
    }
    *ls = a;
    *le = b;
    return 1;
}

static apr_status_t parse(parser_t *ps)
{
    apr_size_t cursor = 0, pos = 0;
    while (pos < ps->len) {
        const char *open = memchr(ps->text + pos, '{', ps->len - pos);
        const char *body, *close;
        apr_size_t ts, te, blen, ls, le;
        char sigil;
        node_t n;

        if (!open) {
            break;
        }
        ts = (apr_size_t)(open - ps->text);
        if (ts + 1 >= ps->len || open[1] != '{') {
            pos = ts + 1;
            continue;
        }
        body = open + 2;
        close = NULL;
        {
            const char *c = body;
            while ((c = memchr(c, '}', (apr_size_t)(ps->text + ps->len - c)))) {
                if (c + 1 < ps->text + ps->len && c[1] == '}') {
                    close = c;
                    break;
                }
                ++c;
            }
        }
        if (!close) {
            return fail(ps, ts, "a tag opened with {{ is never closed with }}");
        }
        te = (apr_size_t)(close - ps->text) + 2;
        blen = (apr_size_t)(close - body);
        sigil = blen ? *body : '\0';
        memset(&n, 0, sizeof(n));

        if (sigil == '!') {             /* a comment */
            if (standalone(ps, cursor, ts, te, &ls, &le)) {
                add_text(ps, cursor, ls);
                cursor = pos = le;
            }
            else {
                add_text(ps, cursor, ts);
                cursor = pos = te;
            }
            continue;
        }
        if (sigil == '#' || sigil == '^' || sigil == '/') {
            if (!parse_name(ps, body + 1, blen - 1, &n)) {
                return fail(ps, ts, apr_psprintf(ps->pool, "{{%c...}} needs a name "
                                                 "(letters, digits, _ - and dots)", sigil));
            }
            if (standalone(ps, cursor, ts, te, &ls, &le)) {
                add_text(ps, cursor, ls);
                cursor = pos = le;
            }
            else {
                add_text(ps, cursor, ts);
                cursor = pos = te;
            }
            if (sigil == '/') {
                node_t *opened;
                if (!ps->depth) {
                    return fail(ps, ts, apr_psprintf(ps->pool, "{{/%s}} closes no open section",
                                                     n.text));
                }
                opened = &APR_ARRAY_IDX(ps->nodes, ps->open[ps->depth - 1], node_t);
                if (strcmp(opened->text, n.text)) {
                    return fail(ps, ts, apr_psprintf(ps->pool, "{{/%s}} does not close {{%c%s}} "
                                                     "opened at line %d", n.text,
                                                     opened->kind == NODE_SECTION ? '#' : '^',
                                                     opened->text,
                                                     ps->open_line[ps->depth - 1]));
                }
                opened->end = ps->nodes->nelts;
                --ps->depth;
                continue;
            }
            if (ps->depth == CN_TEMPLATE_MAX_DEPTH) {
                return fail(ps, ts, apr_psprintf(ps->pool, "sections nested deeper than %d",
                                                 CN_TEMPLATE_MAX_DEPTH));
            }
            n.kind = sigil == '#' ? NODE_SECTION : NODE_INVERTED;
            ps->open[ps->depth] = ps->nodes->nelts;
            ps->open_line[ps->depth] = line_of(ps, ts);
            ++ps->depth;
            *(node_t *)apr_array_push(ps->nodes) = n;
            continue;
        }
        if (!parse_name(ps, body, blen, &n)) {
            if (sigil == '{' || sigil == '&') {
                return fail(ps, ts, "unescaped output ({{{...}}}, {{&...}}) is not supported: "
                                    "every value is escaped");
            }
            return fail(ps, ts, "not a tag this engine knows: {{name}}, {{#name}}, "
                                "{{^name}}, {{/name}} or {{! comment }}");
        }
        add_text(ps, cursor, ts);
        n.kind = NODE_VALUE;
        *(node_t *)apr_array_push(ps->nodes) = n;
        cursor = pos = te;
    }
    add_text(ps, cursor, ps->len);
    if (ps->depth) {
        node_t *opened = &APR_ARRAY_IDX(ps->nodes, ps->open[ps->depth - 1], node_t);
        ps->err = apr_psprintf(ps->pool, "%s:%d: {{%c%s}} is never closed", ps->name,
                               ps->open_line[ps->depth - 1],
                               opened->kind == NODE_SECTION ? '#' : '^', opened->text);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t cn_template_compile(apr_pool_t *pool, const char *name, const char *text,
                                 apr_size_t len, cn_template_t **out, const char **err)
{
    parser_t ps;
    cn_template_t *t;
    const char *nul;
    int i;

    *out = NULL;
    memset(&ps, 0, sizeof(ps));
    ps.pool = pool;
    ps.name = name ? name : "template";
    ps.text = apr_pstrmemdup(pool, text ? text : "", text ? len : 0);
    ps.len = text ? len : 0;
    ps.nodes = apr_array_make(pool, 32, sizeof(node_t));
    if ((nul = memchr(ps.text, '\0', ps.len))) {
        fail(&ps, (apr_size_t)(nul - ps.text), "a NUL byte");
    }
    else if (ps.len > CN_TEMPLATE_MAX_SIZE) {
        ps.err = apr_psprintf(pool, "%s: larger than %d bytes", ps.name, CN_TEMPLATE_MAX_SIZE);
    }
    else {
        parse(&ps);
    }
    if (ps.err) {
        if (err) {
            *err = ps.err;
        }
        return APR_EINVAL;
    }
    t = apr_pcalloc(pool, sizeof(*t));
    t->name = ps.name;
    t->nodes = (node_t *)ps.nodes->elts;
    t->n = ps.nodes->nelts;
    for (i = 0; i < t->n; ++i) {
        if (t->nodes[i].kind == NODE_TEXT) {
            t->text_len += t->nodes[i].len;
        }
    }
    *out = t;
    return APR_SUCCESS;
}

apr_status_t cn_file_read(apr_pool_t *pool, const char *path, apr_size_t max, const char **out,
                          apr_size_t *len, const char **err)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;
    apr_status_t rv;
    char ebuf[128];

    if ((rv = apr_file_open(&f, path, APR_FOPEN_READ, 0, pool)) != APR_SUCCESS) {
        *err = apr_psprintf(pool, "%s: cannot open (%s)", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
        return rv;
    }
    if ((rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_TYPE, f)) != APR_SUCCESS
        || fi.filetype != APR_REG || fi.size < 0 || (apr_size_t)fi.size > max) {
        apr_file_close(f);
        *err = apr_psprintf(pool, "%s: not a regular file of at most %" APR_SIZE_T_FMT " bytes",
                            path, max);
        return rv != APR_SUCCESS ? rv : APR_EINVAL;
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(pool, n + 1);
    if (n && (rv = apr_file_read_full(f, buf, n, &n)) != APR_SUCCESS) {
        apr_file_close(f);
        *err = apr_psprintf(pool, "%s: cannot read (%s)", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
        return rv;
    }
    apr_file_close(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return APR_SUCCESS;
}

apr_status_t cn_template_load(apr_pool_t *pool, const char *path, cn_template_t **out,
                              const char **err)
{
    const char *text = NULL, *why = NULL;
    apr_size_t len = 0;
    apr_status_t rv;
    *out = NULL;
    if ((rv = cn_file_read(pool, path, CN_TEMPLATE_MAX_SIZE, &text, &len, &why)) != APR_SUCCESS) {
        if (err) {
            *err = why;
        }
        return rv;
    }
    return cn_template_compile(pool, path, text, len, out, err);
}

/* ---- rendering ------------------------------------------------------- */

typedef struct render_t {
    apr_pool_t *pool;
    char *buf;
    apr_size_t len, cap;
    const json_t *scopes[CN_TEMPLATE_MAX_DEPTH + 1];
    int nscopes;
    long steps;
    int full;       /* a limit was passed */
} render_t;

static void put(render_t *rr, const char *s, apr_size_t n)
{
    if (rr->full || !n) {
        return;
    }
    if (rr->len + n > CN_TEMPLATE_MAX_OUTPUT) {
        rr->full = 1;
        return;
    }
    if (rr->len + n + 1 > rr->cap) {
        apr_size_t cap = rr->cap * 2;
        char *nb;
        while (cap < rr->len + n + 1) {
            cap *= 2;
        }
        nb = apr_palloc(rr->pool, cap);
        memcpy(nb, rr->buf, rr->len);
        rr->buf = nb;
        rr->cap = cap;
    }
    memcpy(rr->buf + rr->len, s, n);
    rr->len += n;
}

/* S through APR's entity escaping (< > & "). APR's table leaves out the
 * apostrophe (its documentation says otherwise), so a value could still end
 * a single-quoted attribute: each one goes out as &#39; as well. */
static void put_escaped(render_t *rr, const char *s)
{
    const char *e = apr_pescape_entity(rr->pool, s, 0), *q;
    while ((q = strchr(e, '\''))) {
        put(rr, e, (apr_size_t)(q - e));
        put(rr, "&#39;", 5);
        e = q + 1;
    }
    put(rr, e, strlen(e));
}

/* The value NODE names in the current scopes, or NULL. */
static const json_t *lookup(const render_t *rr, const node_t *node)
{
    const json_t *v = NULL;
    int i;
    if (!node->npath) {
        return rr->nscopes ? rr->scopes[rr->nscopes - 1] : NULL;
    }
    for (i = rr->nscopes - 1; i >= 0; --i) {
        if (json_is_object(rr->scopes[i])
            && (v = json_object_get(rr->scopes[i], node->path[0]))) {
            break;
        }
    }
    for (i = 1; v && i < node->npath; ++i) {
        v = json_is_object(v) ? json_object_get(v, node->path[i]) : NULL;
    }
    return v;
}

static int truthy(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_TRUE: return 1;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_OBJECT: return json_object_size(v) > 0;
    case JSON_ARRAY: return json_array_size(v) > 0;
    default: return 0;
    }
}

static void put_value(render_t *rr, const json_t *v)
{
    char num[64];
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        put_escaped(rr, json_string_value(v));
        break;
    case JSON_INTEGER:
        apr_snprintf(num, sizeof(num), "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
        put(rr, num, strlen(num));
        break;
    case JSON_REAL:
        apr_snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        put(rr, num, strlen(num));
        break;
    case JSON_TRUE:
        put(rr, "true", 4);
        break;
    case JSON_FALSE:
        put(rr, "false", 5);
        break;
    default:
        break;  /* null, missing, objects and arrays print nothing */
    }
}

static void walk(render_t *rr, const node_t *nodes, int from, int to);

static void section(render_t *rr, const node_t *nodes, int at)
{
    const node_t *node = &nodes[at];
    const json_t *v = lookup(rr, node);
    size_t i;
    if (node->kind == NODE_INVERTED) {
        if (!truthy(v)) {
            walk(rr, nodes, at + 1, node->end);
        }
        return;
    }
    if (!truthy(v)) {
        return;
    }
    /* Depth is bounded by the compiler: one scope per open section. */
    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v) && !rr->full; ++i) {
            rr->scopes[rr->nscopes++] = json_array_get(v, i);
            walk(rr, nodes, at + 1, node->end);
            --rr->nscopes;
        }
    }
    else {
        rr->scopes[rr->nscopes++] = v;
        walk(rr, nodes, at + 1, node->end);
        --rr->nscopes;
    }
}

static void walk(render_t *rr, const node_t *nodes, int from, int to)
{
    int i = from;
    while (i < to && !rr->full) {
        const node_t *node = &nodes[i];
        if (++rr->steps > CN_TEMPLATE_MAX_STEPS) {
            rr->full = 1;
            return;
        }
        switch (node->kind) {
        case NODE_TEXT:
            put(rr, node->text, node->len);
            ++i;
            break;
        case NODE_VALUE:
            put_value(rr, lookup(rr, node));
            ++i;
            break;
        default:
            section(rr, nodes, i);
            i = node->end;
            break;
        }
    }
}

apr_status_t cn_template_render(apr_pool_t *pool, const cn_template_t *t, const json_t *values,
                                const char **out, apr_size_t *len)
{
    render_t rr;
    memset(&rr, 0, sizeof(rr));
    rr.pool = pool;
    rr.cap = t->text_len + 1024;
    rr.buf = apr_palloc(pool, rr.cap);
    if (values) {
        rr.scopes[rr.nscopes++] = values;
    }
    walk(&rr, t->nodes, 0, t->n);
    if (rr.full) {
        *out = NULL;
        if (len) {
            *len = 0;
        }
        return APR_ENOSPC;
    }
    rr.buf[rr.len] = '\0';
    *out = rr.buf;
    if (len) {
        *len = rr.len;
    }
    return APR_SUCCESS;
}
