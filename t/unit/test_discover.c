/* Unit tests of include/cn_discover.h without a database: the bundled
 * provider table (every row, domains in any case, the gmx.* row), what
 * counts as an address, host names, MX hosts and registrable domains, SRV
 * records, and the discovery chain's own logic (table, shared cache,
 * autoconfig through the HTTP seam, the database rule) with fakes in place
 * of the cache and the HTTP client and a name server that refuses. */
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_file_io.h>

#include "cn_proto.h"

#include "cn_discover.h"
#include "cn_test.h"
#include "cn_fakes.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A string of N copies of C. */
static char *repeat(char c, apr_size_t n)
{
    char *s = apr_palloc(pool, n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---- the bundled table, row by row ------------------------------------ */

static const struct row_case {
    const char *email;
    const char *domain, *provider, *type, *imap_host; /* the row expected */
    int imap_port;
} row_cases[] = {
    {"ann@gmail.com", "gmail.com", "google", "google", NULL, 0},
    {"ann@googlemail.com", "googlemail.com", "google", "google", NULL, 0},
    {"ann@outlook.com", "outlook.com", "microsoft", "microsoft", NULL, 0},
    {"ann@hotmail.com", "hotmail.com", "microsoft", "microsoft", NULL, 0},
    {"ann@hotmail.co.uk", "hotmail.co.uk", "microsoft", "microsoft", NULL, 0},
    {"ann@live.com", "live.com", "microsoft", "microsoft", NULL, 0},
    {"ann@msn.com", "msn.com", "microsoft", "microsoft", NULL, 0},
    {"ann@yahoo.com", "yahoo.com", "imap", "yahoo", "imap.mail.yahoo.com", 993},
    {"ann@ymail.com", "ymail.com", "imap", "yahoo", "imap.mail.yahoo.com", 993},
    {"ann@rocketmail.com", "rocketmail.com", "imap", "yahoo", "imap.mail.yahoo.com", 993},
    {"ann@icloud.com", "icloud.com", "imap", "icloud", "imap.mail.me.com", 993},
    {"ann@me.com", "me.com", "imap", "icloud", "imap.mail.me.com", 993},
    {"ann@mac.com", "mac.com", "imap", "icloud", "imap.mail.me.com", 993},
    {"ann@aol.com", "aol.com", "imap", "aol", "imap.aol.com", 993},
    {"ann@fastmail.com", "fastmail.com", "imap", "fastmail", "imap.fastmail.com", 993},
    {"ann@fastmail.fm", "fastmail.fm", "imap", "fastmail", "imap.fastmail.com", 993},
    {"ann@gmx.de", "gmx.de", "imap", "gmx", "imap.gmx.net", 993},
    {"ann@gmx.net", "gmx.net", "imap", "gmx", "imap.gmx.net", 993},
    {"ann@gmx.at", "gmx.at", "imap", "gmx", "imap.gmx.net", 993},
    {"ann@gmx.ch", "gmx.ch", "imap", "gmx", "imap.gmx.net", 993},
    {"ann@gmx.fr", "gmx.*", "imap", "gmx", "imap.gmx.com", 993},
    {"ann@zoho.com", "zoho.com", "imap", "zoho", "imap.zoho.com", 993},
    {"ann@zohomail.com", "zohomail.com", "imap", "zoho", "imap.zoho.com", 993},
    {"ann@yandex.com", "yandex.com", "imap", "yandex", "imap.yandex.com", 993},
    {"ann@yandex.ru", "yandex.ru", "imap", "yandex", "imap.yandex.com", 993},
    /* domains in any case, the local part as it is */
    {"Ann@GMAIL.COM", "gmail.com", "google", "google", NULL, 0},
    {"ANN.B+tag@GoogleMail.Com", "googlemail.com", "google", "google", NULL, 0},
    {"x@Hotmail.Co.UK", "hotmail.co.uk", "microsoft", "microsoft", NULL, 0},
    {"x@ICLOUD.com", "icloud.com", "imap", "icloud", "imap.mail.me.com", 993},
    {"x@GMX.De", "gmx.de", "imap", "gmx", "imap.gmx.net", 993},
    /* gmx.* is any gmx.TLD the table does not name */
    {"x@gmx.com", "gmx.*", "imap", "gmx", "imap.gmx.com", 993},
    {"x@gmx.es", "gmx.*", "imap", "gmx", "imap.gmx.com", 993},
    {"x@GMX.FR", "gmx.*", "imap", "gmx", "imap.gmx.com", 993},
    {"x@gmx.x", "gmx.*", "imap", "gmx", "imap.gmx.com", 993},
};

START_TEST(test_lookup_row)
{
    const struct row_case *c = &row_cases[_i];
    const cn_known_domain_t *k = cn_providers_lookup(pool, c->email);
    ck_assert_msg(k != NULL, "%s: not found", c->email);
    ck_assert_msg(!strcmp(k->domain, c->domain), "%s: row %s, expected %s", c->email, k->domain,
                  c->domain);
    ck_assert_str_eq(k->provider, c->provider);
    ck_assert_str_eq(k->type, c->type);
    if (c->imap_host) {
        ck_assert_msg(k->imap_host && !strcmp(k->imap_host, c->imap_host), "%s: imap_host %s",
                      c->email, k->imap_host ? k->imap_host : "NULL");
    }
    else {
        ck_assert_msg(k->imap_host == NULL, "%s: imap_host %s", c->email, k->imap_host);
    }
    ck_assert_int_eq(k->imap_port, c->imap_port);
}
END_TEST

/* Every provider is one the module supports, and every IMAP row says where. */
START_TEST(test_lookup_rows_consistent)
{
    int i;
    for (i = 0; i < N(row_cases); ++i) {
        const cn_known_domain_t *k = cn_providers_lookup(pool, row_cases[i].email);
        ck_assert_ptr_nonnull(k);
        ck_assert_msg(cn_provider(k->provider) != NULL, "%s: provider %s is not supported",
                      k->domain, k->provider);
        ck_assert_msg(!strcmp(k->provider, "imap") == (k->imap_host != NULL && k->imap_port > 0),
                      "%s: provider %s with imap_host %s", k->domain, k->provider,
                      k->imap_host ? k->imap_host : "NULL");
    }
}
END_TEST

/* Domains the table does not have, and look-alikes of those it has. */
static const char *const unknown_emails[] = {
    "x@example.com",
    "x@gmail.co",
    "x@gmail.com.",          /* a trailing dot is another spelling */
    "x@gmail.com.evil.example",
    "x@xgmail.com",
    "x@mail.gmail.com",      /* subdomains are not the domain */
    "x@gmailcom",
    "x@yahoo.co.jp",
    "x@gmx",                 /* gmx.*: no TLD */
    "x@gmx.",                /* gmx.*: an empty TLD */
    "x@gmx.co.uk",           /* gmx.*: one label after gmx. only */
    "x@gmx.de.evil.example",
    "x@xgmx.de",
    "x@xgmx.fr",
    "x@mail.gmx.fr",
    "x@gmxfr",
    "x@gmx..fr",
    "x@gmx-fr.example",
    "x@gmx.*",               /* the pattern is no address */
    "x@gmx.f_r",             /* nor a TLD with what no DNS label has */
    "x@gmx.<b>",
};

START_TEST(test_lookup_unknown)
{
    const char *email = unknown_emails[_i];
    const cn_known_domain_t *k = cn_providers_lookup(pool, email);
    ck_assert_msg(k == NULL, "%s: matched row %s", email, k ? k->domain : "");
}
END_TEST

/* ---- addresses --------------------------------------------------------- */

static const struct email_case {
    const char *email;
    int valid;
} email_cases[] = {
    {"a@b", 1},
    {"ann@gmail.com", 1},
    {"first.last+tag@sub.example.co.uk", 1},
    {"o'brien@gmail.com", 1},
    {"\"quoted\"@gmail.com", 1},
    {"jos\xc3\xa9@gmail.com", 1},
    {"a@b.", 1},
    {"", 0},
    {"ann", 0},
    {"gmail.com", 0},
    {"@", 0},
    {"@gmail.com", 0},
    {"ann@", 0},
    {"ann@@gmail.com", 0},
    {"ann@gmail.com@gmail.com", 0},
    {"a@b@c", 0},
    {"@@", 0},
    {"ann@.gmail.com", 0},
    {" ann@gmail.com", 0},
    {"ann@gmail.com ", 0},
    {"ann @gmail.com", 0},
    {"ann@gm ail.com", 0},
    {"ann\t@gmail.com", 0},
    {"ann@gmail.com\n", 0},
    {"ann@gmail.com\r\nBcc: b@gmail.com", 0},
    {"ann\v@gmail.com", 0},
    {"ann\f@gmail.com", 0},
    {"ann\x01@gmail.com", 0},
    {"ann@gmail\x7f.com", 0},
    {"ann\x1b[31m@gmail.com", 0},
};

START_TEST(test_email_valid)
{
    const struct email_case *c = &email_cases[_i];
    ck_assert_msg(cn_email_valid(c->email) == c->valid, "\"%s\": expected %s", c->email,
                  c->valid ? "valid" : "refused");
    /* an address that is none has no provider, even at a known domain */
    if (!c->valid) {
        ck_assert_msg(cn_providers_lookup(pool, c->email) == NULL, "\"%s\": a row found",
                      c->email);
    }
    else if (strlen(c->email) > 10 && !strcmp(c->email + strlen(c->email) - 10, "@gmail.com")) {
        ck_assert_msg(cn_providers_lookup(pool, c->email) != NULL, "\"%s\": no row", c->email);
    }
}
END_TEST

/* Each ASCII byte but '@' in the local part and in the domain: white space
 * and control characters (below 0x21, and DEL) are refused, the rest kept. */
START_TEST(test_email_every_byte)
{
    int b;
    for (b = 1; b < 0x80; ++b) {
        int valid = b > 0x20 && b != 0x7f;
        const char *local = apr_psprintf(pool, "a%cb@example.com", b);
        const char *domain = apr_psprintf(pool, "ab@exa%cmple.com", b);
        if (b == '@') {
            continue;
        }
        ck_assert_msg(cn_email_valid(local) == valid, "byte 0x%02x in the local part: %s", b,
                      valid ? "refused" : "accepted");
        ck_assert_msg(cn_email_valid(domain) == valid, "byte 0x%02x in the domain: %s", b,
                      valid ? "refused" : "accepted");
    }
}
END_TEST

/* At most 254 bytes (RFC 5321's path limit less the angle brackets). */
START_TEST(test_email_length)
{
    static const char domain[] = "@gmail.com";
    const apr_size_t dlen = sizeof(domain) - 1;
    const char *at254 = apr_pstrcat(pool, repeat('a', 254 - dlen), domain, NULL);
    const char *at255 = apr_pstrcat(pool, repeat('a', 255 - dlen), domain, NULL);
    const char *huge = apr_pstrcat(pool, repeat('a', 1 << 20), domain, NULL);
    const char *long_domain = apr_pstrcat(pool, "a@", repeat('b', 252), NULL);
    ck_assert_uint_eq(strlen(at254), 254);
    ck_assert_int_eq(cn_email_valid(at254), 1);
    ck_assert_ptr_nonnull(cn_providers_lookup(pool, at254));
    ck_assert_int_eq(cn_email_valid(at255), 0);
    ck_assert_ptr_null(cn_providers_lookup(pool, at255));
    ck_assert_int_eq(cn_email_valid(huge), 0);
    ck_assert_ptr_null(cn_providers_lookup(pool, huge));
    ck_assert_uint_eq(strlen(long_domain), 254);
    ck_assert_int_eq(cn_email_valid(long_domain), 1);
    ck_assert_int_eq(cn_email_valid(apr_pstrcat(pool, long_domain, "b", NULL)), 0);
}
END_TEST

START_TEST(test_email_null)
{
    ck_assert_int_eq(cn_email_valid(NULL), 0);
    ck_assert_ptr_null(cn_providers_lookup(pool, NULL));
}
END_TEST

/* ---- host names --------------------------------------------------------- */

static const struct name_case {
    const char *name;
    int valid;
} name_cases[] = {
    {"example.com", 1},
    {"imap.mail.example.co.uk", 1},
    {"a", 1},
    {"x-1.example", 1},
    {"IMAP.Example.COM", 1},
    {"127.0.0.1", 1},
    {"xn--bcher-kva.example", 1},
    {"", 0},
    {".", 0},
    {"example.com.", 0},
    {".example.com", 0},
    {"a..b", 0},
    {"-a.example", 0},
    {"a-.example", 0},
    {"a_b.example", 0},
    {"a b.example", 0},
    {"a.example:993", 0},
    {"a/b", 0},
    {"b\xc3\xbc" "cher.example", 0},
    {"a.example\r\n", 0},
};

START_TEST(test_dns_name)
{
    const struct name_case *c = &name_cases[_i];
    ck_assert_msg(cn_dns_name_valid(c->name) == c->valid, "\"%s\": expected %s", c->name,
                  c->valid ? "valid" : "refused");
}
END_TEST

START_TEST(test_dns_name_lengths)
{
    char label63[64], label64[65];
    const char *name;
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    ck_assert_int_eq(cn_dns_name_valid(label63), 1);
    ck_assert_int_eq(cn_dns_name_valid(label64), 0);
    /* 253 bytes in all, not one more */
    name = apr_psprintf(pool, "%s.%s.%s.%s", label63, label63, label63, repeat('b', 61));
    ck_assert_uint_eq(strlen(name), 253);
    ck_assert_int_eq(cn_dns_name_valid(name), 1);
    ck_assert_int_eq(cn_dns_name_valid(apr_pstrcat(pool, name, "b", NULL)), 0);
    ck_assert_int_eq(cn_dns_name_valid(NULL), 0);
}
END_TEST

/* ---- MX hosts ------------------------------------------------------------ */

static const struct mx_case {
    const char *host, *provider;
} mx_cases[] = {
    {"aspmx.l.google.com", "google"},
    {"ASPMX.L.GOOGLE.COM.", "google"},
    {"alt1.aspmx.l.google.com", "google"},
    {"alt4.aspmx.l.google.com.", "google"},
    {"aspmx2.googlemail.com", "google"},
    {"aspmx5.googlemail.com", "google"},
    {"smtp.google.com", "google"},
    {"contoso-com.mail.protection.outlook.com", "microsoft"},
    {"contoso-com.mail.protection.outlook.com.", "microsoft"},
    {"Contoso-Com.Mail.Protection.Outlook.Com", "microsoft"},
    {"contoso-com.l-v1.mx.microsoft", "microsoft"},
    /* the domains themselves, look-alikes, and others */
    {"google.com", NULL},
    {"googlemail.com", NULL},
    {"mail.protection.outlook.com", NULL},
    {"aspmx.l.google.com.evil.example", NULL},
    {"evilgoogle.com", NULL},
    {"x.evilgooglemail.com", NULL},
    {"contoso.mail.protection.outlook.com.evil.example", NULL},
    {"contoso.mailprotection.outlook.com", NULL},
    {"outlook.com", NULL},
    {"mx1.mailhost.test", NULL},
    {"in1-smtp.messagingengine.com", NULL},
    {"", NULL},
    {".", NULL},
};

START_TEST(test_mx_provider)
{
    const struct mx_case *c = &mx_cases[_i];
    const char *p = cn_discover_mx_provider(c->host);
    ck_assert_msg(c->provider ? p && !strcmp(p, c->provider) : !p, "%s: %s, expected %s",
                  c->host, p ? p : "NULL", c->provider ? c->provider : "NULL");
}
END_TEST

static const struct reg_case {
    const char *host, *domain;
} reg_cases[] = {
    {"mx1.mailhost.test", "mailhost.test"},
    {"in1-smtp.messagingengine.com", "messagingengine.com"},
    {"mta5.am0.yahoodns.net.", "yahoodns.net"},
    {"MX.Zoho.COM", "zoho.com"},
    {"example.com", "example.com"},
    {"mail.example.co.uk", "example.co.uk"},
    {"a.b.example.co.uk", "example.co.uk"},
    {"example.co.uk", "example.co.uk"},
    {"mx.example.com.au", "example.com.au"},
    {"co.uk", NULL},
    {"com.au", NULL},
    {"localhost", NULL},
    {"", NULL},
    {"bad host.example", NULL},
};

START_TEST(test_registrable_domain)
{
    const struct reg_case *c = &reg_cases[_i];
    const char *d = cn_registrable_domain(pool, c->host);
    ck_assert_msg(c->domain ? d && !strcmp(d, c->domain) : !d, "%s: %s, expected %s", c->host,
                  d ? d : "NULL", c->domain ? c->domain : "NULL");
}
END_TEST

/* ---- SRV records ----------------------------------------------------------- */

static apr_array_header_t *srv_records(const char *spec)
{
    /* "target:port:priority:weight target:port:..." */
    apr_array_header_t *a = apr_array_make(pool, 4, sizeof(cn_dns_srv_t));
    char *copy = apr_pstrdup(pool, spec), *tok, *state = NULL;
    for (tok = apr_strtok(copy, " ", &state); tok; tok = apr_strtok(NULL, " ", &state)) {
        cn_dns_srv_t *s = apr_array_push(a);
        char *f[4], *st2 = NULL;
        int i;
        for (i = 0; i < 4; ++i) {
            f[i] = apr_strtok(i ? NULL : tok, ":", &st2);
        }
        s->target = f[0];
        s->port = atoi(f[1]);
        s->priority = atoi(f[2]);
        s->weight = atoi(f[3]);
    }
    return a;
}

static const struct srv_case {
    const char *records, *target;
} srv_cases[] = {
    {"imap.a.test:993:0:0", "imap.a.test"},
    {"b.test:993:20:0 a.test:993:10:0", "a.test"},
    {"a.test:993:10:1 b.test:993:10:5 c.test:993:10:5", "b.test"},
    {"a.test:993:10:0 b.test:993:10:0", "a.test"},
    {".:0:0:0", "."},
    {"", NULL},
};

START_TEST(test_srv_pick)
{
    const struct srv_case *c = &srv_cases[_i];
    const cn_dns_srv_t *s = cn_dns_srv_pick(srv_records(c->records));
    if (!c->target) {
        ck_assert_ptr_null(s);
        return;
    }
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->target, c->target);
    ck_assert_ptr_null(cn_dns_srv_pick(NULL));
}
END_TEST

/* ---- the chain, with fakes ------------------------------------------------- */

/* The HTTP client: https://ac.test/<domain>.xml answers the fixture of
 * that domain (t/fake/autoconfig/<domain>.xml), "big.test" more than the
 * cap, anything else 404. */
typedef struct fake_http_t {
    int calls;
    cn_http_request_t last;
} fake_http_t;

static apr_status_t http_perform(cn_http_t *http, apr_pool_t *p, const cn_http_request_t *req,
                                 cn_http_response_t *resp)
{
    fake_http_t *f = http->baton;
    const char *name, *end;
    apr_file_t *file;
    apr_finfo_t fi;
    f->calls++;
    f->last = *req;
    memset(resp, 0, sizeof(*resp));
    if (strncmp(req->url, "https://ac.test/", 16) || !(end = strstr(req->url, ".xml?"))) {
        resp->status = 404;
        resp->body = "";
        return APR_SUCCESS;
    }
    name = apr_pstrndup(p, req->url + 16, (apr_size_t)(end - req->url - 16));
    if (!strcmp(name, "big.test")) {
        resp->error = "the answer exceeds the size limit";
        return APR_ENOSPC;
    }
    if (apr_file_open(&file, apr_pstrcat(p, "../fake/autoconfig/", name, ".xml", NULL),
                      APR_FOPEN_READ | APR_FOPEN_BINARY, 0, p) != APR_SUCCESS) {
        resp->status = 404;
        resp->body = "";
        return APR_SUCCESS;
    }
    ck_assert_int_eq(apr_file_info_get(&fi, APR_FINFO_SIZE, file), APR_SUCCESS);
    resp->body_len = (apr_size_t)fi.size;
    resp->body = apr_palloc(p, resp->body_len + 1);
    ck_assert_int_eq(apr_file_read_full(file, (char *)resp->body, resp->body_len, NULL),
                     APR_SUCCESS);
    ((char *)resp->body)[resp->body_len] = '\0';
    apr_file_close(file);
    resp->status = 200;
    return APR_SUCCESS;
}

static struct chain_world {
    cn_ctx_t ctx;
    cn_fake_cache_t cache;
    fake_http_t fake;
    cn_http_t http;
    cn_discover_conf_t conf;
    apr_array_header_t *urls, *log;
} cw;

static void chain_log(void *baton, int level, const char *line)
{
    (void)baton;
    APR_ARRAY_PUSH(cw.log, const char *) = apr_psprintf(pool, "%d %s", level, line);
}

static int chain_logged(const char *what)
{
    int i, n = 0;
    for (i = 0; i < cw.log->nelts; ++i) {
        n += strstr(APR_ARRAY_IDX(cw.log, i, const char *), what) != NULL;
    }
    return n;
}

static void chain_setup(void)
{
    cn_test_pool_setup();
    memset(&cw, 0, sizeof(cw));
    cn_fake_cache_init(&cw.cache);
    cw.http.perform = http_perform;
    cw.http.baton = &cw.fake;
    cw.urls = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(cw.urls, const char *) = "https://ac.test/%{domain}.xml?e=%{email}";
    cw.log = apr_array_make(pool, 8, sizeof(const char *));
    /* a name server that is not there: every lookup fails at once, so the
     * outcome of the network steps is inconclusive */
    cw.conf.dns_server = "127.0.0.1:1";
    cw.conf.autoconfig_urls = cw.urls;
    cw.conf.guess_port = 993;
    cw.conf.timeout_ms = 5000;
    cw.ctx.pool = pool;
    cw.ctx.log.write = chain_log;
    cw.ctx.http = &cw.http;
    cw.ctx.cache = &cw.cache.seam;
    cw.ctx.discover = &cw.conf;
}

static TCase *chain_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, chain_setup, cn_test_pool_teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

/* The table answers without the network or the cache. */
START_TEST(test_chain_table)
{
    cn_mail_settings_t *ms = NULL;
    ck_assert_int_eq(cn_discover(&cw.ctx, "Ann@Yahoo.COM", &ms), APR_SUCCESS);
    ck_assert_str_eq(ms->provider, "imap");
    ck_assert_str_eq(ms->type, "yahoo");
    ck_assert_str_eq(ms->imap_host, "imap.mail.yahoo.com");
    ck_assert_int_eq(ms->imap_port, 993);
    ck_assert_str_eq(ms->security, CN_SECURITY_SSL);
    ck_assert_str_eq(ms->username, "Ann@Yahoo.COM");
    ck_assert_str_eq(ms->source, "table");
    ck_assert_ptr_nonnull(ms->hint_url);
    ck_assert_int_eq(strncmp(ms->hint_url, "https://", 8), 0);
    ck_assert_int_eq(cn_discover(&cw.ctx, "bob@gmail.com", &ms), APR_SUCCESS);
    ck_assert_str_eq(ms->provider, "google");
    ck_assert_ptr_null(ms->imap_host);
    ck_assert_ptr_null(ms->security);
    ck_assert_ptr_null(ms->hint_url);
    ck_assert_int_eq(cw.fake.calls + cw.cache.gets + cw.cache.puts, 0);
}
END_TEST

/* Every IMAP row whose provider wants an app password links an https guide. */
START_TEST(test_chain_table_hints)
{
    static const char *const need[] = {"a@yahoo.com", "a@icloud.com", "a@me.com", "a@aol.com",
                                       "a@gmx.de", "a@gmx.com", "a@web.de", "a@fastmail.com",
                                       "a@zoho.com", "a@yandex.ru", "a@mail.ru"};
    int i;
    for (i = 0; i < N(need); ++i) {
        const cn_known_domain_t *k = cn_providers_lookup(pool, need[i]);
        ck_assert_msg(k && k->hint_url && !strncmp(k->hint_url, "https://", 8),
                      "%s: no app-password guide", need[i]);
    }
}
END_TEST

START_TEST(test_chain_refusals)
{
    cn_mail_settings_t *ms = (cn_mail_settings_t *)1;
    cn_db_t held;
    ck_assert_int_eq(cn_discover(&cw.ctx, "not-an-address", &ms), APR_EINVAL);
    ck_assert_ptr_null(ms);
    ck_assert_ptr_nonnull(cw.ctx.res.event);
    ck_assert_str_eq(cw.ctx.res.event->type, "bad_request");
    /* no network for what is no DNS name of two labels */
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@localhost", &ms), APR_NOTFOUND);
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@exa_mple.test", &ms), APR_NOTFOUND);
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@example.test.", &ms), APR_NOTFOUND);
    ck_assert_int_eq(cw.fake.calls + cw.cache.gets, 0);
    /* no discover settings: the table only */
    cw.ctx.discover = NULL;
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@mailhost.test", &ms), APR_NOTFOUND);
    ck_assert_int_eq(cw.fake.calls + cw.cache.gets, 0);
    cw.ctx.discover = &cw.conf;
    /* a database handle held: refused before any network call */
    memset(&cw.ctx.res, 0, sizeof(cw.ctx.res));
    cw.ctx.db = &held;
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@mailhost.test", &ms), APR_EBUSY);
    ck_assert_str_eq(cw.ctx.res.event->type, "internal_error");
    ck_assert_int_eq(chain_logged("CN00601: "), 1);
    ck_assert_int_eq(cw.fake.calls + cw.cache.gets, 0);
    /* ... but the table still answers */
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@gmail.com", &ms), APR_SUCCESS);
    cw.ctx.db = NULL;
}
END_TEST

/* Autoconfig through the HTTP seam: capped, https, asking for XML; the
 * result cached for the domain with the username as a template, and the
 * next address of the domain served from the cache. */
START_TEST(test_chain_autoconfig_cached)
{
    cn_mail_settings_t *ms = NULL;
    ck_assert_int_eq(cn_discover(&cw.ctx, "ann@mailhost.test", &ms), APR_SUCCESS);
    ck_assert_str_eq(ms->source, "autoconfig");
    ck_assert_str_eq(ms->imap_host, "imap.mailhost.test");
    ck_assert_str_eq(ms->username, "ann");
    ck_assert_int_eq(cw.fake.calls, 1);
    ck_assert_str_eq(cw.fake.last.url, "https://ac.test/mailhost.test.xml?e=ann%40mailhost.test");
    ck_assert_str_eq(cw.fake.last.method, "GET");
    ck_assert_uint_eq(cw.fake.last.max_response, CN_AUTOCONFIG_MAX);
    ck_assert(cw.fake.last.timeout_ms > 0 && cw.fake.last.timeout_ms <= CN_DISCOVER_HTTP_MS);
    ck_assert_ptr_nonnull(strstr(cw.fake.last.accept, "xml"));
    ck_assert_int_eq(cw.cache.puts, 1);
    ck_assert_int_eq((int)cw.cache.last_ttl, CN_DISCOVER_TTL_FOUND);
    ck_assert_ptr_nonnull(strstr(cw.cache.last_val, "%EMAILLOCALPART%"));
    ck_assert_ptr_null(strstr(cw.cache.last_val, "ann"));

    ck_assert_int_eq(cn_discover(&cw.ctx, "Bob@MailHost.test", &ms), APR_SUCCESS);
    ck_assert_str_eq(ms->source, "autoconfig");
    ck_assert_str_eq(ms->imap_host, "imap.mailhost.test");
    ck_assert_str_eq(ms->username, "Bob");
    ck_assert_int_eq(cw.fake.calls, 1);
    ck_assert_int_eq(cw.cache.puts, 1);
    ck_assert_int_eq(chain_logged("CN00612: "), 1);
}
END_TEST

/* Nothing found while the resolver failed: not remembered. */
START_TEST(test_chain_inconclusive_not_cached)
{
    cn_mail_settings_t *ms = NULL;
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@nothing.test", &ms), APR_NOTFOUND);
    ck_assert_ptr_null(ms);
    ck_assert_int_eq(cw.fake.calls, 1);
    ck_assert_int_eq(cw.cache.puts, 0);
    ck_assert_int_ge(chain_logged("CN00605: "), 1);
    ck_assert_int_eq(chain_logged("(inconclusive: not cached)"), 1);
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@nothing.test", &ms), APR_NOTFOUND);
    ck_assert_int_eq(cw.fake.calls, 2);
}
END_TEST

/* A template whose host is the address's domain is asked only where our
 * resolver finds that host: with no answer (the name server here is not
 * there), nothing is fetched, and the lookup's failure is logged. */
START_TEST(test_chain_autoconfig_domain_host_needs_resolver)
{
    cn_mail_settings_t *ms = NULL;
    apr_array_clear(cw.urls);
    APR_ARRAY_PUSH(cw.urls, const char *) = "https://autoconfig.%{domain}/mail/config-v1.1.xml";
    ck_assert_int_eq(cn_discover(&cw.ctx, "ann@mailhost.test", &ms), APR_NOTFOUND);
    ck_assert_int_eq(cw.fake.calls, 0);
    ck_assert_int_eq(chain_logged("CN00605: discovery: address lookup of "
                                  "autoconfig.mailhost.test failed"), 1);
    /* the operator's own host is asked as it is */
    apr_array_clear(cw.urls);
    APR_ARRAY_PUSH(cw.urls, const char *) = "https://ac.test/%{domain}.xml?e=%{email}";
    ck_assert_int_eq(cn_discover(&cw.ctx, "ann@mailhost.test", &ms), APR_SUCCESS);
    ck_assert_int_eq(cw.fake.calls, 1);
    ck_assert_int_eq(cw.fake.last.user_chosen, 0);
    ck_assert_ptr_null(cw.fake.last.pinned);
}
END_TEST

/* Hostile or over-size documents are refused and logged; the chain goes on. */
START_TEST(test_chain_hostile)
{
    static const char *const emails[] = {"a@ac-laughs.test", "a@ac-xxe.test", "a@ac-utf16.test",
                                         "a@ac-malformed.test"};
    cn_mail_settings_t *ms = NULL;
    int i;
    for (i = 0; i < N(emails); ++i) {
        ck_assert_int_eq(cn_discover(&cw.ctx, emails[i], &ms), APR_NOTFOUND);
    }
    ck_assert_int_eq(chain_logged("CN00609: discovery: autoconfig 1 of ac-laughs.test refused: "
                                  "the document has a DOCTYPE"), 1);
    ck_assert_int_eq(chain_logged("CN00609: discovery: autoconfig 1 of ac-xxe.test refused: "
                                  "the document has a DOCTYPE"), 1);
    ck_assert_int_eq(chain_logged("CN00609: discovery: autoconfig 1 of ac-utf16.test refused"), 1);
    ck_assert_int_eq(chain_logged("CN00609: discovery: autoconfig 1 of ac-malformed.test "
                                  "refused: the document is not well-formed XML"), 1);
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@big.test", &ms), APR_NOTFOUND);
    ck_assert_int_eq(chain_logged("CN00603: discovery: autoconfig 1 of big.test refused"), 1);
}
END_TEST

/* The cache's answers: a remembered "nothing", and entries that are not
 * ours or not sane (ignored: the chain runs). */
START_TEST(test_chain_cache_entries)
{
    static const char *const bad[] = {
        "not json",
        "{\"v\":2,\"none\":true}",
        "{\"v\":1,\"provider\":\"imap\",\"type\":\"imap\",\"host\":\"evil host\",\"port\":993,"
        "\"security\":\"ssl\",\"username\":\"%EMAILADDRESS%\",\"source\":\"srv\"}",
        "{\"v\":1,\"provider\":\"imap\",\"type\":\"imap\",\"host\":\"a.test\",\"port\":0,"
        "\"security\":\"ssl\",\"username\":\"%EMAILADDRESS%\",\"source\":\"srv\"}",
        "{\"v\":1,\"provider\":\"imap\",\"type\":\"imap\",\"host\":\"a.test\",\"port\":993,"
        "\"security\":\"plain\",\"username\":\"%EMAILADDRESS%\",\"source\":\"srv\"}",
        "{\"v\":1,\"provider\":\"nosuch\",\"type\":\"x\",\"username\":\"u\",\"source\":\"mx\"}",
    };
    cn_mail_settings_t *ms = NULL;
    int i;
    apr_hash_set(cw.cache.map, "discover:neg.test", APR_HASH_KEY_STRING, "{\"v\":1,\"none\":true}");
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@neg.test", &ms), APR_NOTFOUND);
    ck_assert_int_eq(cw.fake.calls, 0);
    apr_hash_set(cw.cache.map, "discover:pos.test", APR_HASH_KEY_STRING,
                 "{\"v\":1,\"provider\":\"google\",\"type\":\"google\",\"username\":"
                 "\"%EMAILADDRESS%\",\"source\":\"mx\"}");
    ck_assert_int_eq(cn_discover(&cw.ctx, "a@pos.test", &ms), APR_SUCCESS);
    ck_assert_str_eq(ms->provider, "google");
    ck_assert_str_eq(ms->source, "mx");
    ck_assert_str_eq(ms->username, "a@pos.test");
    ck_assert_int_eq(cw.fake.calls, 0);
    for (i = 0; i < N(bad); ++i) {
        apr_hash_set(cw.cache.map, "discover:bad.test", APR_HASH_KEY_STRING, bad[i]);
        ck_assert_int_eq(cn_discover(&cw.ctx, "a@bad.test", &ms), APR_NOTFOUND);
        ck_assert_msg(cw.fake.calls == i + 1, "entry %d was taken", i);
    }
}
END_TEST

static Suite *discover_suite(void)
{
    Suite *s = suite_create("discover");
    TCase *tc;

    tc = cn_tcase("providers");
    tcase_add_loop_test(tc, test_lookup_row, 0, N(row_cases));
    tcase_add_test(tc, test_lookup_rows_consistent);
    tcase_add_loop_test(tc, test_lookup_unknown, 0, N(unknown_emails));
    suite_add_tcase(s, tc);

    tc = cn_tcase("email");
    tcase_add_loop_test(tc, test_email_valid, 0, N(email_cases));
    tcase_add_test(tc, test_email_every_byte);
    tcase_add_test(tc, test_email_length);
    tcase_add_test(tc, test_email_null);
    suite_add_tcase(s, tc);

    tc = cn_tcase("names");
    tcase_add_loop_test(tc, test_dns_name, 0, N(name_cases));
    tcase_add_test(tc, test_dns_name_lengths);
    tcase_add_loop_test(tc, test_mx_provider, 0, N(mx_cases));
    tcase_add_loop_test(tc, test_registrable_domain, 0, N(reg_cases));
    tcase_add_loop_test(tc, test_srv_pick, 0, N(srv_cases));
    suite_add_tcase(s, tc);

    tc = chain_tcase("chain");
    tcase_add_test(tc, test_chain_table);
    tcase_add_test(tc, test_chain_table_hints);
    tcase_add_test(tc, test_chain_refusals);
    tcase_add_test(tc, test_chain_autoconfig_cached);
    tcase_add_test(tc, test_chain_inconclusive_not_cached);
    tcase_add_test(tc, test_chain_hostile);
    tcase_add_test(tc, test_chain_autoconfig_domain_host_needs_resolver);
    tcase_add_test(tc, test_chain_cache_entries);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (cn_discover_global_init() != APR_SUCCESS) {
        fprintf(stderr, "cn_discover_global_init failed\n");
        return 2;
    }
    return cn_test_main(discover_suite());
}
