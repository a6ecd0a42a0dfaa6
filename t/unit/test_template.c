/* Unit tests of include/cn_template.h: the page template engine (rendering
 * vectors, escaping, scopes, sections over arrays, limits, refused
 * templates with their file and line), loading from files, accent colours
 * and the words of the error pages. */
#include <math.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "cn_template.h"
#include "cn_test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *render(const char *tpl, const char *values_json)
{
    cn_template_t *t = NULL;
    const char *err = NULL, *out = NULL;
    json_t *values = NULL;
    apr_size_t len = 0;
    if (values_json) {
        json_error_t je;
        values = json_loads(values_json, 0, &je);
        ck_assert_msg(values != NULL, "bad test JSON %s: %s", values_json, je.text);
    }
    ck_assert_msg(cn_template_compile(pool, "t.html", tpl, strlen(tpl), &t, &err) == APR_SUCCESS,
                  "%s: %s", tpl, err ? err : "?");
    ck_assert_int_eq(cn_template_render(pool, t, values, &out, &len), APR_SUCCESS);
    ck_assert_uint_eq(len, strlen(out));
    json_decref(values);
    return out;
}

/* ---- rendering ---------------------------------------------------------- */

static const struct render_case {
    const char *tpl, *values, *out;
} render_cases[] = {
    /* text and values */
    {"", NULL, ""},
    {"plain text, { and } and }} alone", NULL, "plain text, { and } and }} alone"},
    {"Hello {{name}}!", "{\"name\":\"Ada\"}", "Hello Ada!"},
    {"Hello {{ name }}!", "{\"name\":\"Ada\"}", "Hello Ada!"},
    {"{{a.b.c}}", "{\"a\":{\"b\":{\"c\":\"deep\"}}}", "deep"},
    {"[{{missing}}][{{a.missing}}][{{a.b.c}}]", "{\"a\":{\"b\":\"str\"}}", "[][][]"},
    {"{{n}} {{z}} {{r}} {{t}} {{f}} {{nul}} {{o}} {{arr}}",
     "{\"n\":42,\"z\":0,\"r\":1.5,\"t\":true,\"f\":false,\"nul\":null,\"o\":{\"x\":1},\"arr\":[1]}",
     "42 0 1.5 true false   "},
    {"{{-x_1}}", "{\"-x_1\":\"dash\"}", "dash"},
    {"caf\xc3\xa9 {{v}}", "{\"v\":\"\\u00e9t\\u00e9\"}", "caf\xc3\xa9 \xc3\xa9t\xc3\xa9"},
    /* escaping: every value, every special character */
    {"{{v}}", "{\"v\":\"<script>alert('x')</script> & \\\"q\\\"\"}",
     "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"},
    {"<a title=\"{{v}}\">", "{\"v\":\"\\\" onmouseover=\\\"x\"}",
     "<a title=\"&quot; onmouseover=&quot;x\">"},
    {"<a title='{{v}}'>", "{\"v\":\"' onclick='x\"}", "<a title='&#39; onclick=&#39;x'>"},
    {"{{v}}", "{\"v\":\"{{v}}\"}", "{{v}}"},
    {"{{v}}", "{\"v\":\"&amp;\"}", "&amp;amp;"},
    {"{{#a}}{{.}}{{/a}}", "{\"a\":[\"<b>\",\"'\"]}", "&lt;b&gt;&#39;"},
    /* sections: truthiness */
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":\"x\"}", "yes"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":\"\"}", "no"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":true}", "yes"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":false}", "no"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":null}", "no"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{}", "no"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", NULL, "no"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":1}", "yes"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":0}", "no"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":0.0}", "no"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":-2.5}", "yes"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":{}}", "no"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":{\"k\":1}}", "yes"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":[]}", "no"},
    {"{{#s}}yes{{/s}}{{^s}}no{{/s}}", "{\"s\":[0]}", "yes"},
    /* arrays: once per element, the element innermost */
    {"<ul>{{#p}}<li><a href=\"{{url}}\">{{label}}</a></li>{{/p}}</ul>",
     "{\"p\":[{\"url\":\"/g\",\"label\":\"Google\"},{\"url\":\"/m?a=1&b=2\",\"label\":\"Microsoft\"}]}",
     "<ul><li><a href=\"/g\">Google</a></li><li><a href=\"/m?a=1&amp;b=2\">Microsoft</a></li></ul>"},
    {"{{#a}}{{.}},{{/a}}", "{\"a\":[1,\"two\",true,null]}", "1,two,true,,"},
    /* lookup goes outward; the innermost wins */
    {"{{#p}}{{name}}/{{app}};{{/p}}", "{\"app\":\"A\",\"name\":\"outer\",\"p\":[{\"name\":\"x\"},{}]}",
     "x/A;outer/A;"},
    {"{{#o}}{{k}}-{{o.k}}{{/o}}", "{\"k\":\"outer\",\"o\":{\"k\":\"inner\"}}", "inner-inner"},
    /* a dotted name does not go outward after its first segment */
    {"{{#o}}{{o2.k}}{{/o}}", "{\"o2\":{\"k\":\"top\"},\"o\":{\"o2\":{}}}", ""},
    {"{{#a}}{{#b}}{{x}}{{y}}{{/b}}{{/a}}",
     "{\"a\":[{\"x\":1,\"b\":[{\"y\":2},{\"y\":3}]},{\"x\":4,\"b\":[]}]}", "1213"},
    {"{{#a.b}}in{{/a.b}}{{^a.c}}not{{/a.c}}", "{\"a\":{\"b\":true}}", "innot"},
    {"{{#error.message}}<p id=\"e\">{{error.message}}</p>{{/error.message}}",
     "{\"error\":{\"message\":\"Wrong password\"}}", "<p id=\"e\">Wrong password</p>"},
    /* comments and standalone lines */
    {"{{! a comment }}x", NULL, "x"},
    {"{{!\n  many\n  lines\n}}\n<p>", NULL, "<p>"},
    {"a\n  {{#s}}\nb\n  {{/s}}\nc\n", "{\"s\":1}", "a\nb\nc\n"},
    {"a\r\n{{#s}}\r\nb\r\n{{/s}}\r\n", "{\"s\":1}", "a\r\nb\r\n"},
    {"a {{#s}}b{{/s}} c\n", "{\"s\":1}", "a b c\n"},
    {"  {{v}}\n", "{\"v\":\"x\"}", "  x\n"},
    {"{{#s}}{{/s}}\n{{v}}", "{\"s\":1,\"v\":\"x\"}", "\nx"},
    {"{{#s}}\n{{/s}}", "{\"s\":1}", ""},
};

START_TEST(test_render)
{
    const struct render_case *c = &render_cases[_i];
    const char *out = render(c->tpl, c->values);
    ck_assert_msg(!strcmp(out, c->out), "template %s with %s:\n got  [%s]\n want [%s]", c->tpl,
                  c->values ? c->values : "-", out, c->out);
}
END_TEST

/* ---- refused templates -------------------------------------------------- */

static const struct bad_case {
    const char *tpl, *err;
} bad_cases[] = {
    {"{{", "t.html:1: a tag opened with {{ is never closed"},
    {"a\nb {{name}\n", "t.html:2: a tag opened with {{ is never closed"},
    {"{{}}", "t.html:1: not a tag"},
    {"{{ }}", "t.html:1: not a tag"},
    {"{{{v}}}", "t.html:1: unescaped output"},
    {"\n\n{{&v}}", "t.html:3: unescaped output"},
    {"{{>partial}}", "t.html:1: not a tag"},
    {"{{=<% %>=}}", "t.html:1: not a tag"},
    {"{{a b}}", "t.html:1: not a tag"},
    {"{{a..b}}", "t.html:1: not a tag"},
    {"{{.a}}", "t.html:1: not a tag"},
    {"{{a.}}", "t.html:1: not a tag"},
    {"{{<x>}}", "t.html:1: not a tag"},
    {"{{#}}x{{/}}", "t.html:1: {{#...}} needs a name"},
    {"{{#a}}\nx\n", "t.html:1: {{#a}} is never closed"},
    {"{{^a}}x", "t.html:1: {{^a}} is never closed"},
    {"x\n{{/a}}", "t.html:2: {{/a}} closes no open section"},
    {"{{#a}}\n{{#b}}\n{{/a}}\n{{/b}}", "t.html:3: {{/a}} does not close {{#b}} opened at line 2"},
    {"{{#a}}{{/a}}{{/a}}", "t.html:1: {{/a}} closes no open section"},
    {"{{#a.b}}{{/a}}", "t.html:1: {{/a}} does not close {{#a.b}}"},
};

START_TEST(test_refused)
{
    const struct bad_case *c = &bad_cases[_i];
    cn_template_t *t = (cn_template_t *)1;
    const char *err = NULL;
    ck_assert_int_eq(cn_template_compile(pool, "t.html", c->tpl, strlen(c->tpl), &t, &err),
                     APR_EINVAL);
    ck_assert_ptr_null(t);
    ck_assert_msg(err && !strncmp(err, c->err, strlen(c->err)), "template %s:\n got  [%s]\n want [%s...]",
                  c->tpl, err ? err : "(none)", c->err);
}
END_TEST

START_TEST(test_nul)
{
    cn_template_t *t = NULL;
    const char *err = NULL;
    ck_assert_int_eq(cn_template_compile(pool, "t.html", "x\ny\0z", 5, &t, &err), APR_EINVAL);
    ck_assert_str_eq(err, "t.html:2: a NUL byte");
}
END_TEST

START_TEST(test_depth)
{
    cn_template_t *t = NULL;
    const char *err = NULL, *out = NULL;
    char *tpl = "";
    json_t *v;
    int i;
    for (i = 0; i < CN_TEMPLATE_MAX_DEPTH; ++i) {
        tpl = apr_pstrcat(pool, tpl, "{{#a}}", NULL);
    }
    tpl = apr_pstrcat(pool, tpl, "{{x}}", NULL);
    for (i = 0; i < CN_TEMPLATE_MAX_DEPTH; ++i) {
        tpl = apr_pstrcat(pool, tpl, "{{/a}}", NULL);
    }
    ck_assert_int_eq(cn_template_compile(pool, "deep", tpl, strlen(tpl), &t, &err), APR_SUCCESS);
    v = json_pack("{s:b,s:s}", "a", 1, "x", "bottom");
    ck_assert_int_eq(cn_template_render(pool, t, v, &out, NULL), APR_SUCCESS);
    ck_assert_str_eq(out, "bottom");
    json_decref(v);
    tpl = apr_pstrcat(pool, "{{#a}}", tpl, "{{/a}}", NULL);
    ck_assert_int_eq(cn_template_compile(pool, "deep", tpl, strlen(tpl), &t, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "nested deeper than 32"));
}
END_TEST

/* Arrays in arrays multiply: the walk stops at its limits instead of running away. */
START_TEST(test_limits)
{
    cn_template_t *t = NULL;
    const char *err = NULL, *out = "x";
    char *tpl = "";
    json_t *v, *arr = json_array();
    apr_size_t len = 1;
    int i;
    for (i = 0; i < 100; ++i) {
        json_array_append_new(arr, json_integer(i));
    }
    v = json_pack("{s:o}", "a", arr);
    for (i = 0; i < 6; ++i) {
        tpl = apr_pstrcat(pool, tpl, "{{#a}}", NULL);
    }
    tpl = apr_pstrcat(pool, tpl, "x", NULL);
    for (i = 0; i < 6; ++i) {
        tpl = apr_pstrcat(pool, tpl, "{{/a}}", NULL);
    }
    ck_assert_int_eq(cn_template_compile(pool, "many", tpl, strlen(tpl), &t, &err), APR_SUCCESS);
    ck_assert_int_eq(cn_template_render(pool, t, v, &out, &len), APR_ENOSPC);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(len, 0);
    /* output: a long value repeated */
    json_object_set_new(v, "big", json_string(apr_psprintf(pool, "%0*d", 300000, 0)));
    tpl = "{{big}}{{big}}{{big}}{{big}}";
    ck_assert_int_eq(cn_template_compile(pool, "big", tpl, strlen(tpl), &t, &err), APR_SUCCESS);
    ck_assert_int_eq(cn_template_render(pool, t, v, &out, &len), APR_ENOSPC);
    tpl = "{{big}}{{big}}{{big}}";
    ck_assert_int_eq(cn_template_compile(pool, "big", tpl, strlen(tpl), &t, &err), APR_SUCCESS);
    ck_assert_int_eq(cn_template_render(pool, t, v, &out, &len), APR_SUCCESS);
    ck_assert_uint_eq(len, 900000);
    json_decref(v);
}
END_TEST

/* A compiled template renders the same twice, with other values each time. */
START_TEST(test_reuse)
{
    cn_template_t *t = NULL;
    const char *err = NULL, *out = NULL, *tpl = "<p>{{m}}</p>";
    json_t *a = json_pack("{s:s}", "m", "one"), *b = json_pack("{s:s}", "m", "<two>");
    ck_assert_int_eq(cn_template_compile(pool, "r", tpl, strlen(tpl), &t, &err), APR_SUCCESS);
    ck_assert_str_eq(cn_template_name(t), "r");
    ck_assert_int_eq(cn_template_render(pool, t, a, &out, NULL), APR_SUCCESS);
    ck_assert_str_eq(out, "<p>one</p>");
    ck_assert_int_eq(cn_template_render(pool, t, b, &out, NULL), APR_SUCCESS);
    ck_assert_str_eq(out, "<p>&lt;two&gt;</p>");
    json_decref(a);
    json_decref(b);
}
END_TEST

/* ---- files ---------------------------------------------------------------- */

static const char *write_file(const char *name, const char *text)
{
    const char *path = apr_pstrcat(pool, cn_test_tmpdir(), "/", name, NULL);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(test_load)
{
    cn_template_t *t = NULL;
    const char *err = NULL, *out = NULL, *path;
    ck_assert(cn_test_tmpdir_make("template"));
    path = write_file("good.html", "{{! vars: x }}\n<b>{{x}}</b>\n");
    ck_assert_int_eq(cn_template_load(pool, path, &t, &err), APR_SUCCESS);
    ck_assert_int_eq(cn_template_render(pool, t, NULL, &out, NULL), APR_SUCCESS);
    ck_assert_str_eq(out, "<b></b>\n");
    path = write_file("broken.html", "<html>\n{{#a}}\n</html>\n");
    ck_assert_int_eq(cn_template_load(pool, path, &t, &err), APR_EINVAL);
    ck_assert_str_eq(err, apr_pstrcat(pool, path, ":2: {{#a}} is never closed", NULL));
    path = apr_pstrcat(pool, cn_test_tmpdir(), "/missing.html", NULL);
    ck_assert_int_ne(cn_template_load(pool, path, &t, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
    ck_assert_int_ne(cn_template_load(pool, cn_test_tmpdir(), &t, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
    cn_test_tmpdir_remove();
}
END_TEST

/* ---- colours -------------------------------------------------------------- */

static const struct color_case {
    const char *text;
    int ok;
    unsigned rgb;
} color_cases[] = {
    {"#000000", 1, 0x000000}, {"#FFFFFF", 1, 0xffffff}, {"#1a73e8", 1, 0x1a73e8},
    {"#AbCdEf", 1, 0xabcdef}, {"", 0, 0}, {"#fff", 0, 0}, {"1a73e8", 0, 0},
    {"#1a73e8 ", 0, 0}, {"#1a73eg", 0, 0}, {"#1a73e80", 0, 0}, {"red", 0, 0},
    {"#-12345", 0, 0},
};

START_TEST(test_color_parse)
{
    const struct color_case *c = &color_cases[_i];
    unsigned rgb = 0x123456;
    ck_assert_int_eq(cn_color_parse(c->text, &rgb) == APR_SUCCESS, c->ok);
    if (c->ok) {
        ck_assert_uint_eq(rgb, c->rgb);
    }
}
END_TEST

START_TEST(test_color_contrast)
{
    unsigned r, g, b;
    /* WCAG's reference points */
    ck_assert(fabs(cn_color_contrast(0x000000, 0xffffff) - 21.0) < 0.01);
    ck_assert(fabs(cn_color_contrast(0xffffff, 0x000000) - 21.0) < 0.01);
    ck_assert(fabs(cn_color_contrast(0x777777, 0xffffff) - 4.48) < 0.01);
    ck_assert(fabs(cn_color_contrast(0x767676, 0xffffff) - 4.54) < 0.01);
    ck_assert_str_eq(cn_color_text_on(0xffffff), "#000000");
    ck_assert_str_eq(cn_color_text_on(0x000000), "#ffffff");
    ck_assert_str_eq(cn_color_text_on(0x003366), "#ffffff");
    ck_assert_str_eq(cn_color_text_on(0xffd400), "#000000");
    /* any accent keeps AA contrast with the text chosen for it */
    for (r = 0; r < 256; r += 15) {
        for (g = 0; g < 256; g += 15) {
            for (b = 0; b < 256; b += 15) {
                unsigned bg = (r << 16) | (g << 8) | b, fg;
                cn_color_parse(cn_color_text_on(bg), &fg);
                ck_assert_msg(cn_color_contrast(bg, fg) >= 4.5, "#%06x", bg);
            }
        }
    }
}
END_TEST

/* ---- the words of the error pages ---------------------------------------- */

START_TEST(test_page_text)
{
    const cn_event_t *ev;
    /* every event has words, and none of them talks of internals */
    static const char *const internals[] = {"SQL", "sql", "stack", "errno", "NULL", ".c:",
                                            "/etc", "/var", "mod_", "apr_", "curl", NULL};
    for (ev = cn_event_table(); ev->type; ++ev) {
        const cn_page_text_t *pt = cn_page_text(ev->id);
        const char *const *w;
        ck_assert_ptr_nonnull(pt);
        ck_assert(pt->title && *pt->title && pt->message && *pt->message && pt->advice
                  && *pt->advice);
        for (w = internals; *w; ++w) {
            ck_assert_msg(!strstr(pt->title, *w) && !strstr(pt->message, *w)
                          && !strstr(pt->advice, *w), "%s: '%s'", ev->type, *w);
        }
    }
    ck_assert_ptr_nonnull(strstr(cn_page_text(CN_EV_LOGIN_ID_INVALID)->message, "expired"));
    ck_assert_ptr_nonnull(strstr(cn_page_text(CN_EV_REDIRECT_URI_NOT_ALLOWED)->message,
                                 "not registered"));
    ck_assert_ptr_eq(cn_page_text(CN_EV_INTERNAL_ERROR), cn_page_text(CN_EV__COUNT));
    ck_assert_ptr_eq(cn_page_text((cn_event_id_t)-1), cn_page_text(CN_EV_INTERNAL_ERROR));
    ck_assert_ptr_ne(cn_page_text(CN_EV_LOGIN_ID_INVALID), cn_page_text(CN_EV_INTERNAL_ERROR));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = cn_tcase("template");
    tcase_add_loop_test(tc, test_render, 0, N(render_cases));
    tcase_add_loop_test(tc, test_refused, 0, N(bad_cases));
    tcase_add_test(tc, test_nul);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_reuse);
    tcase_add_test(tc, test_load);
    tcase_add_loop_test(tc, test_color_parse, 0, N(color_cases));
    tcase_add_test(tc, test_color_contrast);
    tcase_add_test(tc, test_page_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(suite());
}
