/* Unit tests of include/cn_discover.h without a database: the bundled
 * provider table (every row, domains in any case, the gmx.* row) and what
 * counts as an address. */
#include <apr_strings.h>

#include "cn_discover.h"
#include "cn_test.h"

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
    return s;
}

int main(void)
{
    return cn_test_main(discover_suite());
}
