/* Unit tests of the autoconfig parser (cn_autoconfig_parse) and its URL
 * templates: the fixture documents the test suite's fake server serves
 * (t/fake/autoconfig/, good and hostile), and vectors for each rule. */
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_time.h>

#include "cn_discover.h"
#include "cn_test.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define FIXTURES "../fake/autoconfig/"

/* The fixture FILE, and its length. */
static const char *fixture(const char *file, apr_size_t *len)
{
    char *buf = NULL;
    apr_file_t *f;
    apr_finfo_t fi;
    const char *path = apr_pstrcat(pool, FIXTURES, file, NULL);
    ck_assert_msg(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, pool)
                      == APR_SUCCESS, "%s: cannot open", path);
    ck_assert_int_eq(apr_file_info_get(&fi, APR_FINFO_SIZE, f), APR_SUCCESS);
    *len = (apr_size_t)fi.size;
    buf = apr_palloc(pool, *len + 1);
    ck_assert_int_eq(apr_file_read_full(f, buf, *len, NULL), APR_SUCCESS);
    buf[*len] = '\0';
    apr_file_close(f);
    return buf;
}

static const char *rv_name(apr_status_t rv)
{
    return rv == APR_SUCCESS ? "APR_SUCCESS" : rv == APR_EINVAL ? "APR_EINVAL"
         : rv == APR_ENOSPC ? "APR_ENOSPC" : rv == APR_NOTFOUND ? "APR_NOTFOUND" : "other";
}

/* ---- the fixture documents ---------------------------------------------- */

static const struct doc_case {
    const char *file, *email;
    apr_status_t rv;
    const char *host;
    int port;
    const char *security, *username;
} doc_cases[] = {
    /* SSL preferred over STARTTLS listed first; POP3 ignored */
    {"ac-good.test.xml", "Ann.B@ac-good.test", APR_SUCCESS, "imap.ac-good.test", 993,
     CN_SECURITY_SSL, "Ann.B"},
    /* STARTTLS when there is nothing else; the host in lowercase */
    {"ac-starttls.test.xml", "bob@ac-starttls.test", APR_SUCCESS, "mail.ac-starttls.test", 143,
     CN_SECURITY_STARTTLS, "bob@ac-starttls.test"},
    {"ac-pop3.test.xml", "a@ac-pop3.test", APR_NOTFOUND, NULL, 0, NULL, NULL},
    {"ac-plain.test.xml", "a@ac-plain.test", APR_NOTFOUND, NULL, 0, NULL, NULL},
    /* %EMAILDOMAIN% in the host; the per-address host skipped; every
     * placeholder in the username (an unknown one kept); ISO-8859-1 read */
    {"ac-placeholders.test.xml", "ann@ac-placeholders.test", APR_SUCCESS,
     "mail.ac-placeholders.test", 993, CN_SECURITY_SSL,
     "ann+ac-placeholders.test/ann@ac-placeholders.test/%UNKNOWN%"},
    /* bad host, port 0, 65536, -993, a label ending in '-': each skipped */
    {"ac-badvalues.test.xml", "a@ac-badvalues.test", APR_SUCCESS, "good.ac-badvalues.test",
     10993, CN_SECURITY_SSL, "a@ac-badvalues.test"},
    {"ac-malformed.test.xml", "a@ac-malformed.test", APR_EINVAL, NULL, 0, NULL, NULL},
    {"ac-laughs.test.xml", "a@ac-laughs.test", APR_EINVAL, NULL, 0, NULL, NULL},
    {"ac-xxe.test.xml", "a@ac-xxe.test", APR_EINVAL, NULL, 0, NULL, NULL},
    {"ac-encoding.test.xml", "a@ac-encoding.test", APR_EINVAL, NULL, 0, NULL, NULL},
    {"ac-utf16.test.xml", "a@ac-utf16.test", APR_EINVAL, NULL, 0, NULL, NULL},
    {"mailhost.test.xml", "c@hosted.test", APR_SUCCESS, "imap.mailhost.test", 993,
     CN_SECURITY_SSL, "c"},
};

START_TEST(test_fixture)
{
    const struct doc_case *c = &doc_cases[_i];
    apr_size_t len;
    const char *doc = fixture(c->file, &len);
    cn_mail_settings_t *ms = (cn_mail_settings_t *)1;
    apr_status_t rv = cn_autoconfig_parse(pool, doc, len, c->email, &ms);
    ck_assert_msg(rv == c->rv, "%s: %s, expected %s", c->file, rv_name(rv), rv_name(c->rv));
    if (c->rv != APR_SUCCESS) {
        ck_assert_msg(ms == NULL, "%s: settings handed out on failure", c->file);
        return;
    }
    ck_assert_ptr_nonnull(ms);
    ck_assert_str_eq(ms->imap_host, c->host);
    ck_assert_int_eq(ms->imap_port, c->port);
    ck_assert_str_eq(ms->security, c->security);
    ck_assert_str_eq(ms->username, c->username);
    ck_assert_str_eq(ms->provider, "imap");
    ck_assert_str_eq(ms->type, "imap");
    ck_assert_str_eq(ms->source, "autoconfig");
    ck_assert_ptr_null(ms->hint_url);
}
END_TEST

/* Refusals say why, in words fit for a log line; the hostile documents are
 * refused for what they are, not for some later symptom. */
static const struct why_case {
    const char *file;
    const char *why;
} why_cases[] = {
    {"ac-laughs.test.xml", "the document has a DOCTYPE (DTDs and entities are refused)"},
    {"ac-xxe.test.xml", "the document has a DOCTYPE (DTDs and entities are refused)"},
    {"ac-encoding.test.xml", "the document's encoding is not UTF-8, US-ASCII or ISO-8859-1"},
    {"ac-utf16.test.xml", "the document is UTF-16 (a byte-order mark)"},
    {"ac-malformed.test.xml", "the document is not well-formed XML"},
    {"ac-pop3.test.xml", "no IMAP server over SSL or STARTTLS in the document"},
};

START_TEST(test_fixture_why)
{
    const struct why_case *c = &why_cases[_i];
    apr_size_t len;
    const char *doc = fixture(c->file, &len), *why = NULL;
    cn_mail_settings_t *ms;
    ck_assert_int_ne(cn_autoconfig_parse_domain(pool, doc, len, "x.test", &ms, &why),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(why);
    ck_assert_str_eq(why, c->why);
}
END_TEST

/* The domain form keeps the username's placeholders (what the cache keeps). */
START_TEST(test_domain_keeps_template)
{
    apr_size_t len;
    const char *doc = fixture("ac-good.test.xml", &len);
    cn_mail_settings_t *ms = NULL;
    ck_assert_int_eq(cn_autoconfig_parse_domain(pool, doc, len, "ac-good.test", &ms, NULL),
                     APR_SUCCESS);
    ck_assert_str_eq(ms->username, "%EMAILLOCALPART%");
    ck_assert_str_eq(cn_autoconfig_substitute(pool, ms->username, "zoe@ac-good.test"), "zoe");
}
END_TEST

/* ---- vectors ---------------------------------------------------------------- */

#define SERVER(host, port, socket, user)                                                        \
    "<incomingServer type=\"imap\"><hostname>" host "</hostname><port>" port "</port>"         \
    "<socketType>" socket "</socketType>" user "</incomingServer>"
#define DOC(servers) "<clientConfig version=\"1.1\"><emailProvider id=\"v.test\">" servers      \
                     "</emailProvider></clientConfig>"
#define GOOD SERVER("imap.v.test", "993", "SSL", "")

static const struct vec_case {
    const char *name, *doc;
    apr_size_t len; /* 0: strlen */
    apr_status_t rv;
    const char *host;
    int port;
    const char *username;
} vec_cases[] = {
    {"minimal", DOC(GOOD), 0, APR_SUCCESS, "imap.v.test", 993, "u@v.test"},
    {"with an XML declaration", "<?xml version=\"1.0\"?>" DOC(GOOD), 0, APR_SUCCESS,
     "imap.v.test", 993, "u@v.test"},
    {"encoding in single quotes", "<?xml version='1.0' encoding='us-ascii'?>" DOC(GOOD), 0,
     APR_SUCCESS, "imap.v.test", 993, "u@v.test"},
    {"a UTF-8 byte-order mark", "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
     DOC(GOOD), 0, APR_SUCCESS, "imap.v.test", 993, "u@v.test"},
    {"white space before the root", "\n\t " DOC(GOOD), 0, APR_SUCCESS, "imap.v.test", 993,
     "u@v.test"},
    {"socketType in lower case", DOC(SERVER("imap.v.test", "993", "ssl", "")), 0, APR_SUCCESS,
     "imap.v.test", 993, "u@v.test"},
    {"a leading zero in the port", DOC(SERVER("imap.v.test", "0993", "SSL", "")), 0,
     APR_SUCCESS, "imap.v.test", 993, "u@v.test"},
    {"port 65535", DOC(SERVER("imap.v.test", "65535", "SSL", "")), 0, APR_SUCCESS,
     "imap.v.test", 65535, "u@v.test"},
    {"port 1", DOC(SERVER("imap.v.test", "1", "SSL", "")), 0, APR_SUCCESS, "imap.v.test", 1,
     "u@v.test"},
    {"a predefined entity in the username",
     DOC(SERVER("imap.v.test", "993", "SSL", "<username>a&amp;b</username>")), 0, APR_SUCCESS,
     "imap.v.test", 993, "a&b"},
    {"a character reference in the host", DOC(SERVER("&#105;map.v.test", "993", "SSL", "")), 0,
     APR_SUCCESS, "imap.v.test", 993, "u@v.test"},
    {"CDATA", DOC(SERVER("<![CDATA[imap.v.test]]>", "993", "SSL", "")), 0, APR_SUCCESS,
     "imap.v.test", 993, "u@v.test"},
    {"an empty username is the address", DOC(SERVER("imap.v.test", "993", "SSL",
                                                    "<username></username>")), 0,
     APR_SUCCESS, "imap.v.test", 993, "u@v.test"},
    {"SSL in a later provider beats STARTTLS in the first",
     "<clientConfig><emailProvider>" SERVER("starttls.v.test", "143", "STARTTLS", "")
     "</emailProvider><emailProvider>" SERVER("ssl.v.test", "993", "SSL", "")
     "</emailProvider></clientConfig>", 0, APR_SUCCESS, "ssl.v.test", 993, "u@v.test"},
    {"the first SSL server of several", DOC(SERVER("one.v.test", "993", "SSL", "")
                                            SERVER("two.v.test", "993", "SSL", "")),
     0, APR_SUCCESS, "one.v.test", 993, "u@v.test"},
    /* refused before parsing, or by libxml2 */
    {"empty", "", 0, APR_EINVAL, NULL, 0, NULL},
    {"plain text", "imap.v.test:993", 0, APR_EINVAL, NULL, 0, NULL},
    {"JSON", "{\"hostname\":\"imap.v.test\"}", 0, APR_EINVAL, NULL, 0, NULL},
    {"an HTML page", "<!doctype html><html><body>Not found</body></html>", 0, APR_EINVAL, NULL,
     0, NULL},
    {"a DOCTYPE without a subset", "<!DOCTYPE clientConfig>" DOC(GOOD), 0, APR_EINVAL, NULL, 0,
     NULL},
    {"a DOCTYPE after a comment", "<!-- hi --><!DOCTYPE clientConfig [<!ENTITY a \"b\">]>"
     DOC(GOOD), 0, APR_EINVAL, NULL, 0, NULL},
    {"an entity declared in lower case", "<!entity a \"b\">" DOC(GOOD), 0, APR_EINVAL, NULL, 0,
     NULL},
    {"a NUL byte", DOC(GOOD) "\0<x/>", sizeof(DOC(GOOD) "\0<x/>") - 1, APR_EINVAL, NULL, 0,
     NULL},
    {"UTF-16 without a byte-order mark", "<\0c\0l\0i\0", 8, APR_EINVAL, NULL, 0, NULL},
    {"EBCDIC", "\x4c\x6f\xa7\x94\x93", 5, APR_EINVAL, NULL, 0, NULL},
    {"UTF-16 declared over ASCII bytes", "<?xml version=\"1.0\" encoding=\"UTF-16\"?>" DOC(GOOD),
     0, APR_EINVAL, NULL, 0, NULL},
    {"Shift_JIS", "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>" DOC(GOOD), 0, APR_EINVAL,
     NULL, 0, NULL},
    {"an unquoted encoding", "<?xml version=\"1.0\" encoding=UTF-8?>" DOC(GOOD), 0, APR_EINVAL,
     NULL, 0, NULL},
    {"an XML declaration that does not end", "<?xml version=\"1.0\" encoding=\"UTF-8\"" DOC(GOOD),
     0, APR_EINVAL, NULL, 0, NULL},
    {"bytes that are not UTF-8", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
     DOC(SERVER("imap.v.test", "993", "SSL", "<username>\xff\xfe</username>")), 0, APR_EINVAL,
     NULL, 0, NULL},
    {"another root", "<emailProvider>" GOOD "</emailProvider>", 0, APR_EINVAL, NULL, 0, NULL},
    {"an undeclared entity", DOC(SERVER("&host;", "993", "SSL", "")), 0, APR_EINVAL, NULL, 0,
     NULL},
    {"an XInclude", "<clientConfig xmlns:xi=\"http://www.w3.org/2001/XInclude\"><emailProvider>"
     "<incomingServer type=\"imap\"><hostname><xi:include href=\"file:///etc/hostname\" "
     "parse=\"text\"/></hostname><port>993</port><socketType>SSL</socketType>"
     "</incomingServer></emailProvider></clientConfig>", 0, APR_NOTFOUND, NULL, 0, NULL},
    /* well-formed, but no usable server */
    {"no provider", "<clientConfig/>", 0, APR_NOTFOUND, NULL, 0, NULL},
    {"no type", DOC("<incomingServer><hostname>imap.v.test</hostname><port>993</port>"
                    "<socketType>SSL</socketType></incomingServer>"), 0, APR_NOTFOUND, NULL, 0,
     NULL},
    {"no socketType", DOC("<incomingServer type=\"imap\"><hostname>imap.v.test</hostname>"
                          "<port>993</port></incomingServer>"), 0, APR_NOTFOUND, NULL, 0, NULL},
    {"no port", DOC("<incomingServer type=\"imap\"><hostname>imap.v.test</hostname>"
                    "<socketType>SSL</socketType></incomingServer>"), 0, APR_NOTFOUND, NULL, 0,
     NULL},
    {"a port with a sign", DOC(SERVER("imap.v.test", "+993", "SSL", "")), 0, APR_NOTFOUND, NULL,
     0, NULL},
    {"a port of six digits", DOC(SERVER("imap.v.test", "000993", "SSL", "")), 0, APR_NOTFOUND,
     NULL, 0, NULL},
    {"a port in hex", DOC(SERVER("imap.v.test", "0x3e1", "SSL", "")), 0, APR_NOTFOUND, NULL, 0,
     NULL},
    {"an empty host", DOC(SERVER("", "993", "SSL", "")), 0, APR_NOTFOUND, NULL, 0, NULL},
    {"a URL as the host", DOC(SERVER("https://imap.v.test/", "993", "SSL", "")), 0,
     APR_NOTFOUND, NULL, 0, NULL},
    {"a host with a port", DOC(SERVER("imap.v.test:993", "993", "SSL", "")), 0, APR_NOTFOUND,
     NULL, 0, NULL},
    {"a host with a trailing dot", DOC(SERVER("imap.v.test.", "993", "SSL", "")), 0,
     APR_NOTFOUND, NULL, 0, NULL},
    {"a host with an empty label", DOC(SERVER("imap..v.test", "993", "SSL", "")), 0,
     APR_NOTFOUND, NULL, 0, NULL},
    {"a host with a CR LF", DOC(SERVER("imap.v.test&#13;&#10;X: y", "993", "SSL", "")), 0,
     APR_NOTFOUND, NULL, 0, NULL},
    {"a username with a tab", DOC(SERVER("imap.v.test", "993", "SSL",
                                         "<username>a&#9;b</username>")), 0, APR_NOTFOUND,
     NULL, 0, NULL},
    {"socketType plain", DOC(SERVER("imap.v.test", "143", "plain", "")), 0, APR_NOTFOUND,
     NULL, 0, NULL},
    {"socketType TLS (no such value)", DOC(SERVER("imap.v.test", "993", "TLS", "")), 0,
     APR_NOTFOUND, NULL, 0, NULL},
};

START_TEST(test_vector)
{
    const struct vec_case *c = &vec_cases[_i];
    apr_size_t len = c->len ? c->len : strlen(c->doc);
    cn_mail_settings_t *ms = NULL;
    apr_status_t rv = cn_autoconfig_parse(pool, c->doc, len, "u@v.test", &ms);
    ck_assert_msg(rv == c->rv, "%s: %s, expected %s", c->name, rv_name(rv), rv_name(c->rv));
    if (rv == APR_SUCCESS) {
        ck_assert_msg(!strcmp(ms->imap_host, c->host), "%s: host %s", c->name, ms->imap_host);
        ck_assert_int_eq(ms->imap_port, c->port);
        ck_assert_msg(!strcmp(ms->username, c->username), "%s: username %s", c->name,
                      ms->username);
    }
    else {
        ck_assert_ptr_null(ms);
    }
}
END_TEST

/* A username longer than 254 bytes is no login name. */
START_TEST(test_username_length)
{
    char user[300];
    const char *doc;
    cn_mail_settings_t *ms = NULL;
    memset(user, 'u', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    doc = apr_psprintf(pool, DOC("<incomingServer type=\"imap\"><hostname>imap.v.test</hostname>"
                                 "<port>993</port><socketType>SSL</socketType><username>%s"
                                 "</username></incomingServer>"), user);
    ck_assert_int_eq(cn_autoconfig_parse(pool, doc, strlen(doc), "u@v.test", &ms), APR_NOTFOUND);
    user[254] = '\0';
    doc = apr_psprintf(pool, DOC("<incomingServer type=\"imap\"><hostname>imap.v.test</hostname>"
                                 "<port>993</port><socketType>SSL</socketType><username>%s"
                                 "</username></incomingServer>"), user);
    ck_assert_int_eq(cn_autoconfig_parse(pool, doc, strlen(doc), "u@v.test", &ms), APR_SUCCESS);
    ck_assert_str_eq(ms->username, user);
}
END_TEST

/* The size cap: a document of exactly CN_AUTOCONFIG_MAX bytes is read, one
 * byte more is refused before parsing (APR_ENOSPC), however well-formed. */
START_TEST(test_size_cap)
{
    static const char head[] = DOC(GOOD) "<!--";
    static const char tail[] = "-->";
    char *doc = apr_palloc(pool, CN_AUTOCONFIG_MAX + 2);
    cn_mail_settings_t *ms = NULL;
    const char *why = NULL;
    apr_size_t pad = CN_AUTOCONFIG_MAX - (sizeof(head) - 1) - (sizeof(tail) - 1);
    memcpy(doc, head, sizeof(head) - 1);
    memset(doc + sizeof(head) - 1, 'x', pad);
    memcpy(doc + sizeof(head) - 1 + pad, tail, sizeof(tail));
    ck_assert_uint_eq(strlen(doc), CN_AUTOCONFIG_MAX);
    ck_assert_int_eq(cn_autoconfig_parse(pool, doc, CN_AUTOCONFIG_MAX, "u@v.test", &ms),
                     APR_SUCCESS);
    /* one more byte of comment */
    memset(doc + sizeof(head) - 1, 'x', pad + 1);
    memcpy(doc + sizeof(head) - 1 + pad + 1, tail, sizeof(tail));
    ck_assert_int_eq(cn_autoconfig_parse_domain(pool, doc, CN_AUTOCONFIG_MAX + 1, "v.test", &ms,
                                                &why), APR_ENOSPC);
    ck_assert_ptr_null(ms);
    ck_assert_str_eq(why, "the document is larger than 64 KiB");
}
END_TEST

/* 10 MB, as the fake server sends one: refused at once, nothing parsed. */
START_TEST(test_huge_is_quick)
{
    apr_size_t n = 10 * 1024 * 1024;
    char *doc = apr_palloc(pool, n);
    cn_mail_settings_t *ms = NULL;
    apr_time_t t0;
    memset(doc, ' ', n);
    memcpy(doc, DOC(GOOD), sizeof(DOC(GOOD)) - 1);
    t0 = apr_time_now();
    ck_assert_int_eq(cn_autoconfig_parse(pool, doc, n, "u@v.test", &ms), APR_ENOSPC);
    ck_assert_msg(apr_time_now() - t0 < apr_time_from_msec(100), "the cap was not checked first");
}
END_TEST

/* A billion laughs is refused before libxml2 could expand anything. */
START_TEST(test_laughs_are_quick)
{
    apr_size_t len;
    const char *doc = fixture("ac-laughs.test.xml", &len);
    cn_mail_settings_t *ms = NULL;
    apr_time_t t0 = apr_time_now();
    int i;
    for (i = 0; i < 100; ++i) {
        ck_assert_int_eq(cn_autoconfig_parse(pool, doc, len, "u@v.test", &ms), APR_EINVAL);
    }
    ck_assert_msg(apr_time_now() - t0 < apr_time_from_sec(1), "100 refusals took over a second");
}
END_TEST

START_TEST(test_bad_arguments)
{
    cn_mail_settings_t *ms = (cn_mail_settings_t *)1;
    ck_assert_int_eq(cn_autoconfig_parse(pool, DOC(GOOD), strlen(DOC(GOOD)), "no-at-sign", &ms),
                     APR_EINVAL);
    ck_assert_ptr_null(ms);
    ck_assert_int_eq(cn_autoconfig_parse(pool, NULL, 0, "u@v.test", &ms), APR_EINVAL);
    ck_assert_int_eq(cn_autoconfig_parse(pool, DOC(GOOD), strlen(DOC(GOOD)), NULL, &ms),
                     APR_EINVAL);
}
END_TEST

/* ---- placeholders ---------------------------------------------------------- */

static const struct subst_case {
    const char *tmpl, *email, *out;
} subst_cases[] = {
    {"%EMAILADDRESS%", "Ann@Example.COM", "Ann@Example.COM"},
    {"%EMAILLOCALPART%", "ann.b+x@example.com", "ann.b+x"},
    {"%EMAILDOMAIN%", "ann@example.com", "example.com"},
    {"%EMAILLOCALPART%@%EMAILDOMAIN%", "a@b.test", "a@b.test"},
    {"%EMAILLOCALPART%%EMAILLOCALPART%", "ab@c.test", "abab"},
    {"user-%EMAILLOCALPART%-x", "ab@c.test", "user-ab-x"},
    {"100%", "a@b.test", "100%"},
    {"%%EMAILADDRESS%%", "a@b.test", "%a@b.test%"},
    {"%emailaddress%", "a@b.test", "%emailaddress%"},
    {"%EMAILADDRESS", "a@b.test", "%EMAILADDRESS"},
    {"%UNKNOWN%", "a@b.test", "%UNKNOWN%"},
    {"", "a@b.test", ""},
    {"plain", "a@b.test", "plain"},
    /* a value is not substituted again */
    {"%EMAILLOCALPART%", "%EMAILDOMAIN%@b.test", "%EMAILDOMAIN%"},
};

START_TEST(test_substitute)
{
    const struct subst_case *c = &subst_cases[_i];
    ck_assert_str_eq(cn_autoconfig_substitute(pool, c->tmpl, c->email), c->out);
}
END_TEST

/* ---- URL templates ------------------------------------------------------------ */

static const struct url_case {
    const char *tmpl, *domain, *email, *url;
} url_cases[] = {
    {CN_AUTOCONFIG_URL_DEFAULT_1, "Example.COM", "Ann@Example.COM",
     "https://autoconfig.example.com/mail/config-v1.1.xml?emailaddress=Ann%40Example.COM"},
    {CN_AUTOCONFIG_URL_DEFAULT_2, "example.com", "a@example.com",
     "https://example.com/.well-known/autoconfig/mail/config-v1.1.xml"},
    {"https://127.0.0.1:8443/autoconfig/%{domain}/config-v1.1.xml?emailaddress=%{email}",
     "mailhost.test", "c@hosted.test",
     "https://127.0.0.1:8443/autoconfig/mailhost.test/config-v1.1.xml?emailaddress=c%40hosted.test"},
    /* what an address may hold is encoded: no new query parameter, no fragment */
    {"https://x.test/?e=%{email}", "b.test", "a&x=1#f@b.test",
     "https://x.test/?e=a%26x%3d1%23f%40b.test"},
    {"https://x.test/%{email}/%{email}", "b.test", "a/b@b.test",
     "https://x.test/a%2fb%40b.test/a%2fb%40b.test"},
    /* other %{...} are text */
    {"https://x.test/%{other}", "b.test", "a@b.test", "https://x.test/%{other}"},
};

START_TEST(test_url)
{
    const struct url_case *c = &url_cases[_i];
    ck_assert_str_eq(cn_autoconfig_url(pool, c->tmpl, c->domain, c->email), c->url);
}
END_TEST

static const struct tmpl_case {
    const char *tmpl;
    int ok;
} tmpl_cases[] = {
    {CN_AUTOCONFIG_URL_DEFAULT_1, 1},
    {CN_AUTOCONFIG_URL_DEFAULT_2, 1},
    {"https://127.0.0.1:8443/autoconfig/%{domain}/config-v1.1.xml?emailaddress=%{email}", 1},
    {"https://autoconfig.example.net/v1.1/%{domain}", 1},
    {"HTTPS://example.net/x", 1},
    {"http://autoconfig.%{domain}/mail/config-v1.1.xml", 0},
    {"ftp://example.net/x", 0},
    {"file:///etc/passwd", 0},
    {"https://%{domain}/%{user}", 0},
    {"https://%{domain}/%{DOMAIN}", 0},
    {"https:///path/only", 0},
    {"/relative/%{domain}", 0},
    {"https://example.net/x#frag", 0},
    {"https://example.net/a b", 0},
    {"https://example.net/\x01", 0},
    {"https://example.net/caf\xc3\xa9", 0},
    {"", 0},
};

START_TEST(test_template_check)
{
    const struct tmpl_case *c = &tmpl_cases[_i];
    const char *why = NULL;
    apr_status_t rv = cn_autoconfig_template_check(pool, c->tmpl, &why);
    ck_assert_msg((rv == APR_SUCCESS) == c->ok, "'%s': %s", c->tmpl,
                  c->ok ? why : "accepted");
    if (!c->ok) {
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

/* Whose choice a template's host is: the operator's when it is the same
 * for every address, else the address's (and the address rule applies). */
static const struct host_case {
    const char *tmpl;
    int fixed;
} host_cases[] = {
    {CN_AUTOCONFIG_URL_DEFAULT_1, 0},
    {CN_AUTOCONFIG_URL_DEFAULT_2, 0},
    {"https://autoconfig.example.net/%{domain}.xml", 1},
    {"https://ac.example.net/mail/config-v1.1.xml?emailaddress=%{email}&d=%{domain}", 1},
    {"https://127.0.0.1:8443/autoconfig/%{domain}/config-v1.1.xml", 1},
    {"https://[::1]:8443/%{domain}", 1},
    {"https://%{domain}.autoconfig.example.net/x.xml", 0},
    {"https://autoconfig.example.net:%{domain}/x.xml", 0},
    {"https://%{email}@autoconfig.example.net/x.xml", 0},
    {"https://autoconfig.%{domain}:8443/mail/config-v1.1.xml", 0},
    {"https://x%{email}y/", 0},
    {"not a url", 0},
};

START_TEST(test_template_host_fixed)
{
    const struct host_case *c = &host_cases[_i];
    ck_assert_msg(cn_autoconfig_template_host_fixed(pool, c->tmpl) == c->fixed, "%s", c->tmpl);
}
END_TEST

static Suite *autoconfig_suite(void)
{
    Suite *s = suite_create("autoconfig");
    TCase *tc;

    tc = cn_tcase("documents");
    tcase_add_loop_test(tc, test_fixture, 0, N(doc_cases));
    tcase_add_loop_test(tc, test_fixture_why, 0, N(why_cases));
    tcase_add_test(tc, test_domain_keeps_template);
    tcase_add_loop_test(tc, test_vector, 0, N(vec_cases));
    tcase_add_test(tc, test_username_length);
    tcase_add_test(tc, test_size_cap);
    tcase_add_test(tc, test_huge_is_quick);
    tcase_add_test(tc, test_laughs_are_quick);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);

    tc = cn_tcase("placeholders");
    tcase_add_loop_test(tc, test_substitute, 0, N(subst_cases));
    tcase_add_loop_test(tc, test_url, 0, N(url_cases));
    tcase_add_loop_test(tc, test_template_check, 0, N(tmpl_cases));
    tcase_add_loop_test(tc, test_template_host_fixed, 0, N(host_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (cn_discover_global_init() != APR_SUCCESS) {
        fprintf(stderr, "cn_discover_global_init failed\n");
        return 2;
    }
    return cn_test_main(autoconfig_suite());
}
