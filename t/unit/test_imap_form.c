/* Unit tests of the hosted IMAP form (src/core/flow/imap_form.c), the
 * upstream step of IMAP sign-ins, without a database or a network: a fake
 * IMAP client in ctx->imap and a fake shared cache in ctx->cache
 * (cn_fakes.h), discovery from the bundled table only (ctx->discover NULL).
 * What a submission must hold and what discovery fills in
 * (cn_flow_imap_read), what the form shows (cn_flow_imap_values), and the
 * step itself: where it sends the browser, and each outcome of a submission
 * with the wrong passwords counted per flow in the shared cache. */
#include <apr_strings.h>

#include "cn_flow.h"
#include "cn_proto.h"
#include "cn_discover.h"
#include "cn_test.h"
#include "cn_fakes.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define NOW 1700000000
#define LIFETIME 600 /* the flow's deadline, seconds from NOW */
#define BASE_URL "https://connect.example/c"
#define STATE "Zm9ybS1zdGF0ZS0wMTIzNDU2Nzg5YWJjZGVmZ2hpamtsbW4"
#define ANN_PW "ann's pw: p@ss/w0rd%20 x"
#define CAROL_PW "yahoo-app-password"
#define WRONG_PW "wrong-pw"

static const cn_fake_mailbox_t mailboxes[] = {
    {"imap.example.org", 993, "ann@example.org", ANN_PW},
    {"imap.example.org", 143, "ann@example.org", ANN_PW},
    {"imap.mail.yahoo.com", 993, "carol@yahoo.com", CAROL_PW},
};

static struct form_world {
    cn_ctx_t ctx;
    cn_fake_cache_t cache;
    cn_fake_imap_t imap;
    apr_array_header_t *log;
    cn_flow_t flow;
} fw;

static void log_write(void *baton, int level, const char *line)
{
    (void)baton;
    APR_ARRAY_PUSH(fw.log, const char *) = apr_psprintf(pool, "%d %s", level, line);
}

static int logged(const char *what)
{
    int i, n = 0;
    for (i = 0; i < fw.log->nelts; ++i) {
        n += strstr(APR_ARRAY_IDX(fw.log, i, const char *), what) != NULL;
    }
    return n;
}

static void world_setup(void)
{
    cn_test_pool_setup();
    memset(&fw, 0, sizeof(fw));
    cn_fake_cache_init(&fw.cache);
    cn_fake_imap_init(&fw.imap, mailboxes, N(mailboxes), &fw.ctx);
    fw.log = apr_array_make(pool, 8, sizeof(const char *));
    fw.ctx.pool = pool;
    fw.ctx.log.write = log_write;
    fw.ctx.now = NOW;
    fw.ctx.request_id = "req-1";
    fw.ctx.base_url = BASE_URL;
    fw.ctx.imap = &fw.imap.client;
    fw.ctx.cache = &fw.cache.seam;
    fw.ctx.discover = NULL; /* discovery asks the bundled table only */
    fw.flow.kind = "hosted";
    fw.flow.app_id = "app-1";
    fw.flow.integration_id = "int-1";
    fw.flow.provider = "imap";
    fw.flow.state = STATE;
    fw.flow.verifier = "verifier-0123456789";
    fw.flow.created = NOW;
    fw.flow.deadline = NOW + LIFETIME;
}

static TCase *world_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, world_setup, cn_test_pool_teardown);
    tcase_set_timeout(tc, 60);
    return tc;
}

/* After every call: no LOGIN with a database handle held, no password in a
 * log line or in ctx->res, discovery never went past the table. */
#define CHECK_WORLD() check_world(__LINE__)
static void check_world(int line)
{
    static const char *const secrets[] = {ANN_PW, CAROL_PW, WRONG_PW};
    int i, j;
    ck_assert_msg(fw.ctx.db == NULL, "line %d: a database handle", line);
    for (i = 0; i < fw.imap.calls->nelts; ++i) {
        ck_assert_msg(!APR_ARRAY_IDX(fw.imap.calls, i, cn_fake_imap_call_t).db_held,
                      "line %d: a LOGIN with a database handle held", line);
    }
    for (j = 0; j < N(secrets); ++j) {
        for (i = 0; i < fw.log->nelts; ++i) {
            ck_assert_msg(!strstr(APR_ARRAY_IDX(fw.log, i, const char *), secrets[j]),
                          "line %d: a password in the log", line);
        }
        ck_assert_msg(!fw.ctx.res.description || !strstr(fw.ctx.res.description, secrets[j]),
                      "line %d: a password in the result", line);
    }
    ck_assert_msg(fw.cache.gets == 0 && fw.cache.puts == 0,
                  "line %d: discovery used the cache without ctx->discover", line);
}

/* A string of N copies of C, then SUFFIX. */
static const char *repeat(char c, apr_size_t n, const char *suffix)
{
    char *s = apr_palloc(pool, n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return apr_pstrcat(pool, s, suffix, NULL);
}

/* The submitted form: the fields of F that are not NULL. */
typedef struct fields_t {
    const char *email, *password, *username, *host, *port, *security;
} fields_t;

static apr_table_t *form_of(const fields_t *f)
{
    apr_table_t *t = apr_table_make(pool, 8);
    if (f->email) {
        apr_table_setn(t, "email", f->email);
    }
    if (f->password) {
        apr_table_setn(t, "password", f->password);
    }
    if (f->username) {
        apr_table_setn(t, "username", f->username);
    }
    if (f->host) {
        apr_table_setn(t, "host", f->host);
    }
    if (f->port) {
        apr_table_setn(t, "port", f->port);
    }
    if (f->security) {
        apr_table_setn(t, "security", f->security);
    }
    apr_table_setn(t, "csrf", "token");
    apr_table_setn(t, "state", STATE);
    return t;
}

/* A message for the user: a sentence, and nothing of the module's insides
 * (a setting's name, a C or APR word, a printf directive). */
static void assert_user_message(const char *what, const char *msg)
{
    static const char *const internal[] = {
        "imap_", "NULL", "(null)", "ctx", "APR", "errno", "cn_", "provider_", "invalid_", "%",
        "\n", "Connect", "LOGIN", "_",
    };
    const char *p;
    int i;
    ck_assert_msg(msg && *msg, "%s: no message", what);
    ck_assert_msg(msg[0] != ' ' && msg[strlen(msg) - 1] == '.', "%s: '%s' is not a sentence",
                  what, msg);
    for (i = 0; i < N(internal); ++i) {
        ck_assert_msg(!strstr(msg, internal[i]), "%s: '%s' says '%s'", what, msg, internal[i]);
    }
    /* "settings." may end a sentence, never name a setting (settings.type) */
    for (p = msg; (p = strstr(p, "settings.")) != NULL; p += 9) {
        ck_assert_msg(p[9] == '\0' || p[9] == ' ', "%s: '%s' names a setting", what, msg);
    }
}

/* ---- cn_flow_imap_read: each field's rules ------------------------------- */

static const struct read_case {
    const char *name;
    fields_t in;
    const char *mail_type;
    /* a failure: the field at fault, its event, a word of its message */
    const char *fault, *event, *says;
    /* else what was read */
    const char *username, *host, *security, *type;
    int port;
} read_cases[] = {
    {"everything given", {"ann@example.org", ANN_PW, "ann", "imap.example.org", "993", "ssl"},
     NULL, NULL, NULL, NULL, "ann", "imap.example.org", "ssl", NULL, 993},
    {"username defaults to the email", {"ann@example.org", ANN_PW, NULL, "imap.example.org",
     "993", "ssl"}, NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl",
     NULL, 993},
    {"empty fields are not given", {"ann@example.org", ANN_PW, "", "imap.example.org", "", ""},
     NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl", NULL, 993},
    {"the host as typed", {"ann@example.org", ANN_PW, NULL, "IMAP.Example.ORG", NULL, NULL},
     NULL, NULL, NULL, NULL, "ann@example.org", "IMAP.Example.ORG", "ssl", NULL, 993},

    /* the address */
    {"no email", {NULL, ANN_PW, NULL, "imap.example.org", NULL, NULL}, NULL,
     "email", "invalid_request", "email address", NULL, NULL, NULL, NULL, 0},
    {"an empty email", {"", ANN_PW, NULL, "imap.example.org", NULL, NULL}, NULL,
     "email", "invalid_request", "email address", NULL, NULL, NULL, NULL, 0},
    {"no @", {"ann.example.org", ANN_PW, NULL, "imap.example.org", NULL, NULL}, NULL,
     "email", "invalid_request", "email address", NULL, NULL, NULL, NULL, 0},
    {"two @", {"ann@b@example.org", ANN_PW, NULL, "imap.example.org", NULL, NULL}, NULL,
     "email", "invalid_request", "email address", NULL, NULL, NULL, NULL, 0},
    {"a space", {"ann @example.org", ANN_PW, NULL, "imap.example.org", NULL, NULL}, NULL,
     "email", "invalid_request", "email address", NULL, NULL, NULL, NULL, 0},
    {"a header injected", {"ann@example.org\r\nBcc: x@y.z", ANN_PW, NULL, "imap.example.org",
     NULL, NULL}, NULL, "email", "invalid_request", "email address", NULL, NULL, NULL, NULL, 0},
    {"no local part", {"@example.org", ANN_PW, NULL, "imap.example.org", NULL, NULL}, NULL,
     "email", "invalid_request", "email address", NULL, NULL, NULL, NULL, 0},
    {"the email before the password", {"ann", NULL, NULL, NULL, NULL, NULL}, NULL,
     "email", "invalid_request", "email address", NULL, NULL, NULL, NULL, 0},

    /* the password */
    {"no password", {"ann@example.org", NULL, NULL, "imap.example.org", NULL, NULL}, NULL,
     "password", "invalid_request", "password", NULL, NULL, NULL, NULL, 0},
    {"an empty password", {"ann@example.org", "", NULL, "imap.example.org", NULL, NULL}, NULL,
     "password", "invalid_request", "password", NULL, NULL, NULL, NULL, 0},
    {"the password before the host", {"ann@example.org", "", NULL, NULL, NULL, NULL}, NULL,
     "password", "invalid_request", "password", NULL, NULL, NULL, NULL, 0},
    {"a password of spaces is a password", {"ann@example.org", "   ", NULL, "imap.example.org",
     NULL, NULL}, NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl", NULL,
     993},

    /* the host, and the table where none is given */
    {"a table domain", {"someone@yahoo.com", CAROL_PW, NULL, NULL, NULL, NULL}, NULL,
     NULL, NULL, NULL, "someone@yahoo.com", "imap.mail.yahoo.com", "ssl", "yahoo", 993},
    {"a table domain in capitals", {"Someone@YAHOO.com", CAROL_PW, NULL, NULL, NULL, NULL},
     NULL, NULL, NULL, NULL, "Someone@YAHOO.com", "imap.mail.yahoo.com", "ssl", "yahoo", 993},
    {"a table domain, the username given", {"someone@icloud.com", "pw", "someone", NULL, NULL,
     "ssl"}, NULL, NULL, NULL, NULL, "someone", "imap.mail.me.com", "ssl", "icloud", 993},
    {"a table domain, the host given", {"someone@yahoo.com", "pw", NULL, "imap.other.example",
     NULL, NULL}, NULL, NULL, NULL, NULL, "someone@yahoo.com", "imap.other.example", "ssl",
     NULL, 993},
    {"a table domain, the flow's type kept", {"someone@yahoo.com", "pw", NULL, NULL, NULL,
     NULL}, "yahoo", NULL, NULL, NULL, "someone@yahoo.com", "imap.mail.yahoo.com", "ssl",
     "yahoo", 993},
    {"an unknown domain", {"ann@example.org", ANN_PW, NULL, NULL, "993", "ssl"}, NULL,
     "host", "provider_settings_invalid", "Advanced settings", NULL, NULL, NULL, NULL, 0},
    {"an OAuth domain", {"ann@gmail.com", "pw", NULL, NULL, NULL, NULL}, NULL,
     "host", "provider_settings_invalid", "Enter it", NULL, NULL, NULL, NULL, 0},
    {"a host with a space", {"ann@example.org", ANN_PW, NULL, "imap example.org", NULL, NULL},
     NULL, "host", "provider_settings_invalid", "host name", NULL, NULL, NULL, NULL, 0},
    {"a host with a port", {"ann@example.org", ANN_PW, NULL, "imap.example.org:993", NULL,
     NULL}, NULL, "host", "provider_settings_invalid", "host name", NULL, NULL, NULL, NULL, 0},
    {"a host with a user", {"ann@example.org", ANN_PW, NULL, "ann@imap.example.org", NULL,
     NULL}, NULL, "host", "provider_settings_invalid", "host name", NULL, NULL, NULL, NULL, 0},
    {"a URL for a host", {"ann@example.org", ANN_PW, NULL, "imaps://imap.example.org", NULL,
     NULL}, NULL, "host", "provider_settings_invalid", "host name", NULL, NULL, NULL, NULL, 0},
    {"a host with a line break", {"ann@example.org", ANN_PW, NULL, "imap.example.org\r\n", NULL,
     NULL}, NULL, "host", "provider_settings_invalid", "host name", NULL, NULL, NULL, NULL, 0},
    {"an IPv6 host", {"ann@example.org", ANN_PW, NULL, "[::1]", NULL, NULL}, NULL,
     "host", "provider_settings_invalid", "host name", NULL, NULL, NULL, NULL, 0},
    {"an IPv4 host", {"ann@example.org", ANN_PW, NULL, "192.0.2.1", NULL, NULL}, NULL,
     NULL, NULL, NULL, "ann@example.org", "192.0.2.1", "ssl", NULL, 993},

    /* the security */
    {"tls is no choice", {"ann@example.org", ANN_PW, NULL, "imap.example.org", NULL, "tls"},
     NULL, "security", "provider_settings_invalid", "STARTTLS", NULL, NULL, NULL, NULL, 0},
    {"SSL in capitals", {"ann@example.org", ANN_PW, NULL, "imap.example.org", NULL, "SSL"},
     NULL, "security", "provider_settings_invalid", "STARTTLS", NULL, NULL, NULL, NULL, 0},
    {"plain is not offered", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "143",
     "plain"}, NULL, "security", "provider_settings_invalid", "STARTTLS", NULL, NULL, NULL, NULL,
     0},
    {"starttls", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "143", "starttls"},
     NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "starttls", NULL, 143},

    /* the port */
    {"ssl: port 993", {"ann@example.org", ANN_PW, NULL, "imap.example.org", NULL, "ssl"},
     NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl", NULL, 993},
    {"no security: ssl, port 993", {"ann@example.org", ANN_PW, NULL, "imap.example.org", NULL,
     NULL}, NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl", NULL, 993},
    {"starttls: port 143", {"ann@example.org", ANN_PW, NULL, "imap.example.org", NULL,
     "starttls"}, NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "starttls",
     NULL, 143},
    {"another port", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "10993", "ssl"},
     NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl", NULL, 10993},
    {"port 1", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "1", "ssl"},
     NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl", NULL, 1},
    {"port 65535", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "65535", "ssl"},
     NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl", NULL, 65535},
    {"five digits with zeros", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "00993",
     "ssl"}, NULL, NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl", NULL, 993},
    {"port 0", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "0", NULL}, NULL,
     "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"port 65536", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "65536", NULL}, NULL,
     "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"a negative port", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "-1", NULL}, NULL,
     "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"a port of letters", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "imaps", NULL},
     NULL, "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"a port and letters", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "993x", NULL},
     NULL, "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"a port and a space", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "993 ", NULL},
     NULL, "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"a hexadecimal port", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "0x3e1", NULL},
     NULL, "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"a decimal point", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "993.0", NULL},
     NULL, "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"six digits", {"ann@example.org", ANN_PW, NULL, "imap.example.org", "000993", NULL}, NULL,
     "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"a port past a long", {"ann@example.org", ANN_PW, NULL, "imap.example.org",
     "99999999999999999999999", NULL}, NULL, "port", "provider_settings_invalid", "1 to 65535",
     NULL, NULL, NULL, NULL, 0},
    {"a table domain, a bad port", {"someone@yahoo.com", "pw", NULL, NULL, "99999", NULL}, NULL,
     "port", "provider_settings_invalid", "1 to 65535", NULL, NULL, NULL, NULL, 0},
    {"a table domain, the port given", {"someone@yahoo.com", "pw", NULL, NULL, "1993", NULL},
     NULL, NULL, NULL, NULL, "someone@yahoo.com", "imap.mail.yahoo.com", "ssl", "yahoo", 1993},

    /* the flow's kind of mailbox */
    {"the flow's type", {"ann@example.org", ANN_PW, NULL, "imap.example.org", NULL, NULL},
     "yahoo", NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl", "yahoo", 993},
    {"the flow's type, generic", {"ann@example.org", ANN_PW, NULL, "imap.example.org", NULL,
     NULL}, "generic", NULL, NULL, NULL, "ann@example.org", "imap.example.org", "ssl",
     "generic", 993},
};

START_TEST(test_read)
{
    const struct read_case *c = &read_cases[_i];
    cn_imap_form_t in;
    apr_status_t rv;
    fw.flow.mail_type = c->mail_type;
    rv = cn_flow_imap_read(&fw.ctx, &fw.flow, form_of(&c->in), &in);
    CHECK_WORLD();
    ck_assert_int_eq(fw.imap.calls->nelts, 0);
    if (c->fault) {
        ck_assert_msg(rv != APR_SUCCESS, "%s: read", c->name);
        ck_assert_msg(in.fault && !strcmp(in.fault, c->fault), "%s: fault %s, expected %s",
                      c->name, in.fault ? in.fault : "NULL", c->fault);
        ck_assert_ptr_nonnull(fw.ctx.res.event);
        ck_assert_msg(!strcmp(fw.ctx.res.event->type, c->event), "%s: event %s, expected %s",
                      c->name, fw.ctx.res.event->type, c->event);
        assert_user_message(c->name, fw.ctx.res.description);
        ck_assert_msg(strstr(fw.ctx.res.description, c->says), "%s: '%s' does not say '%s'",
                      c->name, fw.ctx.res.description, c->says);
        return;
    }
    ck_assert_msg(rv == APR_SUCCESS, "%s: %s (%s)", c->name, in.fault ? in.fault : "-",
                  fw.ctx.res.description ? fw.ctx.res.description : "-");
    ck_assert_ptr_null(in.fault);
    ck_assert_ptr_null(fw.ctx.res.event);
    ck_assert_str_eq(in.email, c->in.email);
    ck_assert_str_eq(in.password, c->in.password);
    ck_assert_msg(!strcmp(in.username, c->username), "%s: username %s", c->name, in.username);
    ck_assert_msg(!strcmp(in.host, c->host), "%s: host %s", c->name, in.host);
    ck_assert_msg(!strcmp(in.security, c->security), "%s: security %s", c->name, in.security);
    ck_assert_msg(in.port == c->port, "%s: port %d, expected %d", c->name, in.port, c->port);
    if (c->type) {
        ck_assert_msg(in.type && !strcmp(in.type, c->type), "%s: type %s", c->name,
                      in.type ? in.type : "NULL");
    }
    else {
        ck_assert_msg(!in.type, "%s: type %s", c->name, in.type);
    }
}
END_TEST

/* The longest values a mailbox takes are read; one byte more is the field's
 * fault. What the form reads must pass the LOGIN's own checks
 * (cn_imap_login_check): else the user would hear of an internal setting. */
static const struct length_case {
    const char *name;
    apr_size_t username, password; /* bytes; 0: the address as the username */
    const char *fault;
} length_cases[] = {
    {"the longest password", 0, CN_IMAP_PASSWORD_MAX, NULL},
    {"a password too long", 0, CN_IMAP_PASSWORD_MAX + 1, "password"},
    {"a password far too long", 0, 1 << 16, "password"},
    {"the longest username", CN_IMAP_USERNAME_MAX, 8, NULL},
    {"a username too long", CN_IMAP_USERNAME_MAX + 1, 8, "username"},
    {"a username of 1024 bytes", 1024, 8, "username"},
    {"a username of 1025 bytes", 1025, 8, "username"},
    {"both too long", 1025, CN_IMAP_PASSWORD_MAX + 1, "username"},
};

START_TEST(test_read_lengths)
{
    const struct length_case *c = &length_cases[_i];
    fields_t f = {"ann@example.org", NULL, NULL, "imap.example.org", NULL, NULL};
    cn_imap_form_t in;
    apr_status_t rv;
    f.password = repeat('p', c->password, "");
    f.username = c->username ? repeat('u', c->username, "") : NULL;
    rv = cn_flow_imap_read(&fw.ctx, &fw.flow, form_of(&f), &in);
    if (c->fault) {
        ck_assert_msg(rv != APR_SUCCESS, "%s: read", c->name);
        ck_assert_msg(in.fault && !strcmp(in.fault, c->fault), "%s: fault %s", c->name,
                      in.fault ? in.fault : "NULL");
        ck_assert_str_eq(fw.ctx.res.event->type, "invalid_request");
        assert_user_message(c->name, fw.ctx.res.description);
        ck_assert_ptr_nonnull(strstr(fw.ctx.res.description, "longer"));
        return;
    }
    ck_assert_msg(rv == APR_SUCCESS, "%s: %s", c->name, fw.ctx.res.description);
    {
        cn_imap_login_t l = {in.email, in.username, in.password, in.host, in.security, in.port,
                             in.type};
        ck_assert_msg(cn_imap_login_check(&fw.ctx, &l) == APR_SUCCESS, "%s: read, then %s",
                      c->name, fw.ctx.res.description);
    }
}
END_TEST

/* The longest address is read; a longer one is the email's fault. */
START_TEST(test_read_email_length)
{
    fields_t f = {NULL, "pw", NULL, "imap.example.org", NULL, NULL};
    cn_imap_form_t in;
    f.email = repeat('a', 254 - strlen("@example.org"), "@example.org");
    ck_assert_int_eq(cn_flow_imap_read(&fw.ctx, &fw.flow, form_of(&f), &in), APR_SUCCESS);
    ck_assert_str_eq(in.username, f.email);
    f.email = repeat('a', 255 - strlen("@example.org"), "@example.org");
    ck_assert_int_ne(cn_flow_imap_read(&fw.ctx, &fw.flow, form_of(&f), &in), APR_SUCCESS);
    ck_assert_str_eq(in.fault, "email");
}
END_TEST

/* What the user cannot type in a text field is the field's fault, said in
 * the form's words (not the LOGIN's, which name its settings). */
START_TEST(test_read_username_controls)
{
    static const char *const bad[] = {"ann\r\nA1 LOGOUT", "ann\x01", "\x7f" "ann", "ann\t"};
    fields_t f = {"ann@example.org", "pw", NULL, "imap.example.org", NULL, NULL};
    cn_imap_form_t in;
    int i;
    for (i = 0; i < N(bad); ++i) {
        f.username = bad[i];
        ck_assert_msg(cn_flow_imap_read(&fw.ctx, &fw.flow, form_of(&f), &in) != APR_SUCCESS,
                      "username %d read", i);
        ck_assert_str_eq(in.fault, "username");
        assert_user_message("a username with control characters", fw.ctx.res.description);
    }
}
END_TEST

/* ---- cn_flow_imap_values: what the form shows ------------------------------ */

static const char *str_of(json_t *v, const char *key)
{
    json_t *s = json_object_get(v, key);
    ck_assert_msg(json_is_string(s), "%s is not a string", key);
    return json_string_value(s);
}

static int bool_of(json_t *v, const char *key)
{
    json_t *b = json_object_get(v, key);
    ck_assert_msg(json_is_boolean(b), "%s is not a boolean", key);
    return json_is_true(b);
}

/* No key "password" at any depth, and none of the passwords anywhere. */
static void assert_no_password(json_t *v)
{
    const char *key;
    json_t *sub;
    char *text;
    if (json_is_object(v)) {
        json_object_foreach(v, key, sub) {
            ck_assert_msg(strcmp(key, "password") != 0, "a password key");
            assert_no_password(sub);
        }
    }
    text = json_dumps(v, JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(!strstr(text, "\"password\""), "a password key: %s", text);
    ck_assert_msg(!strstr(text, ANN_PW) && !strstr(text, CAROL_PW) && !strstr(text, WRONG_PW)
                  && !strstr(text, "s3cret"), "a password in %s", text);
    free(text);
}

/* The template's values: every field a string, the booleans booleans. */
static void assert_shape(json_t *v)
{
    static const char *const strings[] = {"email", "username", "host", "port"};
    int i;
    ck_assert(json_is_object(v));
    for (i = 0; i < N(strings); ++i) {
        (void)str_of(v, strings[i]);
    }
    ck_assert_int_ne(bool_of(v, "security_ssl"), bool_of(v, "security_starttls"));
    (void)bool_of(v, "advanced_open");
    assert_no_password(v);
}

static const struct first_case {
    const char *name, *hint, *mail_type;
    const char *email, *host, *port, *username; /* shown */
    int advanced_open;
    const char *hint_name, *guide_of; /* the hint's provider, the address of its table row */
} first_cases[] = {
    {"a Yahoo address", "someone@yahoo.com", NULL, "someone@yahoo.com", "imap.mail.yahoo.com",
     "993", "", 0, "Yahoo Mail", "x@yahoo.com"},
    {"a Yahoo address in capitals", "Someone@YAHOO.COM", NULL, "Someone@YAHOO.COM",
     "imap.mail.yahoo.com", "993", "", 0, "Yahoo Mail", "x@yahoo.com"},
    {"an iCloud address", "someone@me.com", NULL, "someone@me.com", "imap.mail.me.com", "993",
     "", 0, "iCloud Mail", "x@icloud.com"},
    {"a GMX address", "someone@gmx.de", NULL, "someone@gmx.de", "imap.gmx.net", "993", "", 0,
     "GMX", "x@gmx.de"},
    {"a table address, another type named", "someone@yahoo.com", "icloud", "someone@yahoo.com",
     "imap.mail.yahoo.com", "993", "", 0, "Yahoo Mail", "x@yahoo.com"},
    {"the flow's type, no hint", NULL, "yahoo", "", "imap.mail.yahoo.com", "993", "", 0,
     "Yahoo Mail", "x@yahoo.com"},
    {"the flow's type, an unknown address", "ann@example.org", "aol", "ann@example.org",
     "imap.aol.com", "993", "", 0, "AOL Mail", "x@aol.com"},
    {"an unknown address", "ann@example.org", NULL, "ann@example.org", "", "", "", 1, NULL,
     NULL},
    {"an unknown type", "ann@example.org", "generic", "ann@example.org", "", "", "", 1, NULL,
     NULL},
    {"not an address", "not-an-address", NULL, "not-an-address", "", "", "", 1, NULL, NULL},
    {"nothing", NULL, NULL, "", "", "", "", 0, NULL, NULL},
    {"an unknown type, nothing else", NULL, "generic", "", "", "", "", 0, NULL, NULL},
};

/* The first showing: the login hint, and where the table says it lives. */
START_TEST(test_values_first)
{
    const struct first_case *c = &first_cases[_i];
    json_t *v, *hint;
    fw.flow.login_hint = c->hint;
    fw.flow.mail_type = c->mail_type;
    v = cn_flow_imap_values(&fw.ctx, &fw.flow, NULL);
    CHECK_WORLD();
    assert_shape(v);
    ck_assert_msg(!strcmp(str_of(v, "email"), c->email), "%s: email %s", c->name,
                  str_of(v, "email"));
    ck_assert_msg(!strcmp(str_of(v, "host"), c->host), "%s: host %s", c->name,
                  str_of(v, "host"));
    ck_assert_msg(!strcmp(str_of(v, "port"), c->port), "%s: port %s", c->name,
                  str_of(v, "port"));
    ck_assert_msg(!strcmp(str_of(v, "username"), c->username), "%s: username %s", c->name,
                  str_of(v, "username"));
    ck_assert_msg(bool_of(v, "security_ssl"), "%s: not ssl", c->name);
    ck_assert_msg(bool_of(v, "advanced_open") == c->advanced_open, "%s: advanced_open %d",
                  c->name, bool_of(v, "advanced_open"));
    hint = json_object_get(v, "hint");
    if (!c->hint_name) {
        ck_assert_msg(hint == NULL, "%s: a hint", c->name);
        return;
    }
    ck_assert_msg(json_is_object(hint), "%s: no hint", c->name);
    ck_assert_msg(strstr(str_of(hint, "text"), c->hint_name), "%s: '%s' does not name %s",
                  c->name, str_of(hint, "text"), c->hint_name);
    ck_assert_ptr_nonnull(strstr(str_of(hint, "text"), "app password"));
    assert_user_message(c->name, str_of(hint, "text"));
    ck_assert_str_eq(str_of(hint, "url"), cn_providers_lookup(pool, c->guide_of)->hint_url);
    ck_assert_int_eq(strncmp(str_of(hint, "url"), "https://", 8), 0);
}
END_TEST

static const struct again_case {
    const char *name;
    fields_t in;
    const char *mail_type;
    const char *host, *port, *username; /* shown */
    int ssl, starttls, advanced_open;
    const char *hint_name;
} again_cases[] = {
    {"everything given", {"ann@example.org", "s3cret", "ann", "imap.example.org", "143",
     "starttls"}, NULL, "imap.example.org", "143", "ann", 0, 1, 1, NULL},
    {"a host given", {"ann@example.org", "s3cret", NULL, "imap.example.org", NULL, "ssl"}, NULL,
     "imap.example.org", "", "", 1, 0, 1, NULL},
    {"a username given", {"someone@yahoo.com", "s3cret", "someone", NULL, NULL, "ssl"}, NULL,
     "", "", "someone", 1, 0, 1, "Yahoo Mail"},
    {"a table address, nothing else", {"someone@yahoo.com", "s3cret", NULL, NULL, NULL, "ssl"},
     NULL, "", "", "", 1, 0, 0, "Yahoo Mail"},
    {"a table address, empty fields", {"someone@yahoo.com", "s3cret", "", "", "", "ssl"}, NULL,
     "", "", "", 1, 0, 0, "Yahoo Mail"},
    {"an unknown address, no host", {"ann@example.org", "s3cret", NULL, NULL, "993", "ssl"},
     NULL, "", "993", "", 1, 0, 1, NULL},
    {"the flow's type, no host", {"ann@example.org", "s3cret", NULL, NULL, NULL, "ssl"},
     "yahoo", "", "", "", 1, 0, 1, "Yahoo Mail"},
    {"a security that is none", {"ann@example.org", "s3cret", NULL, "imap.example.org", NULL,
     "tls"}, NULL, "imap.example.org", "", "", 0, 0, 1, NULL},
    {"no email", {NULL, "s3cret", NULL, NULL, NULL, NULL}, NULL, "", "", "", 1, 0, 0, NULL},
    {"an empty form", {NULL, NULL, NULL, NULL, NULL, NULL}, "yahoo", "", "", "", 1, 0, 0,
     "Yahoo Mail"},
};

/* A submission shown again: what the user typed, never the password; the
 * login hint no longer counts. */
START_TEST(test_values_again)
{
    const struct again_case *c = &again_cases[_i];
    json_t *v, *hint;
    fw.flow.login_hint = "hint@aol.com";
    fw.flow.mail_type = c->mail_type;
    v = cn_flow_imap_values(&fw.ctx, &fw.flow, form_of(&c->in));
    CHECK_WORLD();
    ck_assert(json_is_object(v));
    assert_no_password(v);
    ck_assert_str_eq(str_of(v, "email"), c->in.email ? c->in.email : "");
    ck_assert_msg(!strcmp(str_of(v, "host"), c->host), "%s: host %s", c->name,
                  str_of(v, "host"));
    ck_assert_msg(!strcmp(str_of(v, "port"), c->port), "%s: port %s", c->name,
                  str_of(v, "port"));
    ck_assert_msg(!strcmp(str_of(v, "username"), c->username), "%s: username %s", c->name,
                  str_of(v, "username"));
    ck_assert_msg(bool_of(v, "security_ssl") == c->ssl, "%s: ssl", c->name);
    ck_assert_msg(bool_of(v, "security_starttls") == c->starttls, "%s: starttls", c->name);
    ck_assert_msg(bool_of(v, "advanced_open") == c->advanced_open, "%s: advanced_open %d",
                  c->name, bool_of(v, "advanced_open"));
    hint = json_object_get(v, "hint");
    if (c->hint_name) {
        ck_assert_msg(hint && strstr(str_of(hint, "text"), c->hint_name), "%s: no hint",
                      c->name);
    }
    else {
        ck_assert_msg(hint == NULL, "%s: a hint", c->name);
    }
}
END_TEST

/* The form's error is in ctx->res when the form is shown again: building
 * its values must leave it as it was, whatever discovery finds or refuses. */
START_TEST(test_values_keep_result)
{
    static const fields_t forms[] = {
        {"someone@yahoo.com", "s3cret", NULL, NULL, NULL, "ssl"},
        {"ann@example.org", "s3cret", NULL, NULL, NULL, NULL},
        {"not-an-address", "s3cret", NULL, NULL, NULL, NULL},
        {"a@b@c", "s3cret", NULL, NULL, NULL, NULL},
        {"ann@gmail.com", "s3cret", NULL, NULL, NULL, NULL},
        {NULL, NULL, NULL, NULL, NULL, NULL},
    };
    static const char *const hints[] = {"someone@yahoo.com", "ann@example.org", "not-an-address",
                                        "ann@gmail.com", NULL};
    cn_result_t before;
    int i;
    cn_fail(pool, &fw.ctx.res, CN_EV_INVALID_AUTHENTICATION, "the form's own error");
    before = fw.ctx.res;
    fw.flow.mail_type = "yahoo";
    for (i = 0; i < N(forms) + N(hints); ++i) {
        if (i < N(forms)) {
            (void)cn_flow_imap_values(&fw.ctx, &fw.flow, form_of(&forms[i]));
        }
        else {
            fw.flow.login_hint = hints[i - N(forms)];
            (void)cn_flow_imap_values(&fw.ctx, &fw.flow, NULL);
        }
        ck_assert_msg(fw.ctx.res.event == before.event && fw.ctx.res.status == before.status
                      && fw.ctx.res.description == before.description,
                      "values %d: ctx->res is now %s (%s)", i,
                      fw.ctx.res.event ? fw.ctx.res.event->type : "none",
                      fw.ctx.res.description ? fw.ctx.res.description : "-");
    }
    /* discovery that refuses (here: a database handle held, which it finds
     * before any network call) is no failure of the form either */
    {
        cn_discover_conf_t conf = {0};
        cn_db_t held;
        conf.dns_server = "127.0.0.1:1";
        conf.timeout_ms = 1000;
        fw.ctx.discover = &conf;
        fw.ctx.db = &held;
        fw.flow.login_hint = "ann@example.org";
        (void)cn_flow_imap_values(&fw.ctx, &fw.flow, NULL);
        (void)cn_flow_imap_values(&fw.ctx, &fw.flow, form_of(&forms[1]));
        fw.ctx.db = NULL;
        fw.ctx.discover = NULL;
        ck_assert_int_eq(logged("CN00601: "), 2);
        ck_assert_msg(fw.ctx.res.event == before.event && fw.ctx.res.description
                      == before.description, "ctx->res is now %s (%s)",
                      fw.ctx.res.event ? fw.ctx.res.event->type : "none",
                      fw.ctx.res.description ? fw.ctx.res.description : "-");
    }
    /* ... and no failure appears where there was none */
    memset(&fw.ctx.res, 0, sizeof(fw.ctx.res));
    fw.flow.login_hint = "not-an-address";
    (void)cn_flow_imap_values(&fw.ctx, &fw.flow, NULL);
    (void)cn_flow_imap_values(&fw.ctx, &fw.flow, form_of(&forms[3]));
    ck_assert_ptr_null(fw.ctx.res.event);
    ck_assert_ptr_null(fw.ctx.res.description);
    CHECK_WORLD();
}
END_TEST

/* ---- the step: where it starts ------------------------------------------- */

START_TEST(test_step_row)
{
    const cn_flow_step_t *step = cn_flow_step_for("imap");
    ck_assert_ptr_nonnull(step);
    ck_assert_str_eq(step->name, "imap");
    ck_assert_int_eq(step->form, 1);
    ck_assert_ptr_nonnull(step->start);
    ck_assert_ptr_nonnull(step->finish);
    ck_assert_ptr_eq(cn_flow_step_of(&fw.flow), step);
    ck_assert(cn_flow_step_for("google") != step);
    ck_assert(cn_flow_step_for("microsoft") != step);
}
END_TEST

static const struct start_case {
    const char *state, *encoded;
} start_cases[] = {
    {STATE, STATE},
    {"abc-_.XYZ019", "abc-_.XYZ019"},
    {"a b", "a+b"},
    {"a+b/c=d&e?f#g%h", "a%2bb%2fc%3dd%26e%3ff%23g%25h"},
    {"\xc3\xa9", "%c3%a9"},
};

START_TEST(test_start)
{
    const struct start_case *c = &start_cases[_i];
    const cn_flow_step_t *step = cn_flow_step_for("imap");
    cn_flow_origin_t origin = {0};
    const char *location = NULL;
    fw.flow.state = c->state;
    ck_assert_int_eq(step->start(&fw.ctx, &fw.flow, &origin, &location), APR_SUCCESS);
    ck_assert_ptr_nonnull(location);
    ck_assert_str_eq(location, apr_pstrcat(pool, BASE_URL "/imap?state=", c->encoded, NULL));
    ck_assert_int_eq(strncmp(location, BASE_URL CN_FLOW_IMAP_FORM_PATH "?state=",
                             strlen(BASE_URL CN_FLOW_IMAP_FORM_PATH "?state=")), 0);
    CHECK_WORLD();
}
END_TEST

/* A real flow's state (cn_flow_new) is carried as it is. */
START_TEST(test_start_new_flow)
{
    const cn_flow_step_t *step = cn_flow_step_for("imap");
    cn_flow_origin_t origin = {0};
    cn_flow_t *flow = NULL;
    const char *location = NULL;
    ck_assert_int_eq(cn_flow_new(&fw.ctx, "hosted", &flow), APR_SUCCESS);
    flow->provider = "imap";
    ck_assert_int_eq(step->start(&fw.ctx, flow, &origin, &location), APR_SUCCESS);
    ck_assert_str_eq(location, apr_pstrcat(pool, BASE_URL "/imap?state=", flow->state, NULL));
}
END_TEST

/* ---- the step: each submission -------------------------------------------- */

/* One submission of FIELDS to the step's finish. */
static apr_status_t submit(const fields_t *fields, cn_flow_proof_t *proof)
{
    const cn_flow_step_t *step = cn_flow_step_for("imap");
    cn_flow_origin_t origin = {0};
    apr_status_t rv;
    origin.login_hint = fw.flow.login_hint;
    memset(proof, 0, sizeof(*proof));
    memset(&fw.ctx.res, 0, sizeof(fw.ctx.res));
    rv = step->finish(&fw.ctx, &fw.flow, &origin, form_of(fields), proof);
    CHECK_WORLD();
    return rv;
}

static const fields_t ann_right = {"ann@example.org", ANN_PW, NULL, "imap.example.org", NULL,
                                   "ssl"};
static const fields_t ann_wrong = {"ann@example.org", WRONG_PW, NULL, "imap.example.org", NULL,
                                   "ssl"};

/* The key of the counter: what the last increment used. */
static const char *counter_key(void)
{
    ck_assert_ptr_nonnull(fw.cache.last_key);
    return fw.cache.last_key;
}

START_TEST(test_finish_right_password)
{
    cn_flow_proof_t proof;
    json_t *s;
    ck_assert_msg(submit(&ann_right, &proof) == APR_SUCCESS, "%s", fw.ctx.res.description);
    ck_assert_ptr_null(proof.retry_field);
    ck_assert_ptr_null(proof.tokens);
    ck_assert_str_eq(proof.password, ANN_PW);
    ck_assert_ptr_nonnull(proof.id);
    ck_assert_str_eq(proof.id->subject, "imap.example.org/ann@example.org");
    ck_assert_str_eq(proof.id->email, "ann@example.org");
    s = proof.settings;
    ck_assert_str_eq(json_string_value(json_object_get(s, "imap_host")), "imap.example.org");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "imap_port")), 993);
    ck_assert_str_eq(json_string_value(json_object_get(s, "imap_security")), "ssl");
    ck_assert_str_eq(json_string_value(json_object_get(s, "imap_username")), "ann@example.org");
    ck_assert_ptr_null(strstr(cn_json_dump(pool, s), ANN_PW));
    ck_assert_int_eq(fw.imap.calls->nelts, 1);
    ck_assert_str_eq(cn_fake_imap_last(&fw.imap)->req.username, "ann@example.org");
    ck_assert_str_eq(cn_fake_imap_last(&fw.imap)->req.password, ANN_PW);
    ck_assert_int_eq(fw.cache.incrs, 0);
}
END_TEST

/* The host, the port and the kind of mailbox from the table, the host as
 * typed lowercased for the LOGIN, STARTTLS on 143. */
START_TEST(test_finish_filled)
{
    static const fields_t carol = {"carol@yahoo.com", CAROL_PW, NULL, NULL, NULL, "ssl"};
    static const fields_t ann_starttls = {"ann@example.org", ANN_PW, NULL, "IMAP.Example.ORG",
                                          NULL, "starttls"};
    cn_flow_proof_t proof;
    ck_assert_msg(submit(&carol, &proof) == APR_SUCCESS, "%s", fw.ctx.res.description);
    ck_assert_str_eq(cn_fake_imap_last(&fw.imap)->req.host, "imap.mail.yahoo.com");
    ck_assert_int_eq(cn_fake_imap_last(&fw.imap)->req.port, 993);
    ck_assert_str_eq(json_string_value(json_object_get(proof.settings, "type")), "yahoo");
    ck_assert_str_eq(proof.id->subject, "imap.mail.yahoo.com/carol@yahoo.com");

    fw.flow.mail_type = "generic";
    ck_assert_msg(submit(&ann_starttls, &proof) == APR_SUCCESS, "%s", fw.ctx.res.description);
    ck_assert_str_eq(cn_fake_imap_last(&fw.imap)->req.host, "imap.example.org");
    ck_assert_int_eq(cn_fake_imap_last(&fw.imap)->req.port, 143);
    ck_assert_str_eq(cn_fake_imap_last(&fw.imap)->req.security, CN_IMAP_STARTTLS);
    ck_assert_str_eq(json_string_value(json_object_get(proof.settings, "type")), "generic");
    ck_assert_int_eq(fw.cache.incrs, 0);
}
END_TEST

START_TEST(test_finish_wrong_password)
{
    cn_flow_proof_t proof;
    const char *key;
    ck_assert_int_eq(submit(&ann_wrong, &proof), APR_EAGAIN);
    ck_assert_str_eq(proof.retry_field, "password");
    ck_assert_ptr_null(proof.password);
    ck_assert_str_eq(fw.ctx.res.event->type, "invalid_authentication");
    ck_assert_int_eq(fw.imap.calls->nelts, 1);
    ck_assert_int_eq(fw.cache.incrs, 1);
    key = counter_key();
    ck_assert_int_eq(cn_fake_cache_count(&fw.cache, key), 1);
    /* the state is the flow's secret: not in the clear, nor a part of it */
    ck_assert_ptr_null(strstr(key, STATE));
    ck_assert_ptr_null(strstr(key, apr_pstrndup(pool, STATE, 16)));
    ck_assert_ptr_null(strstr(key, cn_flow_session_key(pool, STATE)));
    /* the next wrong password counts under the same key */
    ck_assert_int_eq(submit(&ann_wrong, &proof), APR_EAGAIN);
    ck_assert_str_eq(counter_key(), key);
    ck_assert_int_eq(cn_fake_cache_count(&fw.cache, key), 2);
    /* another flow has its own count */
    fw.flow.state = "another-state-0123456789";
    ck_assert_int_eq(submit(&ann_wrong, &proof), APR_EAGAIN);
    ck_assert_str_ne(counter_key(), key);
    ck_assert_int_eq(cn_fake_cache_count(&fw.cache, counter_key()), 1);
    ck_assert_int_eq(cn_fake_cache_count(&fw.cache, key), 2);
}
END_TEST

/* The CN_IMAP_ATTEMPTS-th wrong password ends the flow; before it, the
 * right password still passes. */
START_TEST(test_finish_attempts)
{
    cn_flow_proof_t proof;
    int i;
    for (i = 1; i < CN_IMAP_ATTEMPTS; ++i) {
        ck_assert_msg(submit(&ann_wrong, &proof) == APR_EAGAIN, "attempt %d", i);
        ck_assert_str_eq(proof.retry_field, "password");
    }
    ck_assert_int_eq(submit(&ann_wrong, &proof), APR_EGENERAL);
    ck_assert_str_eq(fw.ctx.res.event->type, "auth_limit_reached");
    ck_assert_ptr_null(proof.password);
    ck_assert_int_eq(fw.imap.calls->nelts, CN_IMAP_ATTEMPTS);
    ck_assert_int_eq(cn_fake_cache_count(&fw.cache, counter_key()), CN_IMAP_ATTEMPTS);
    /* and any later one too (another request of the same flow) */
    ck_assert_int_eq(submit(&ann_wrong, &proof), APR_EGENERAL);
    ck_assert_str_eq(fw.ctx.res.event->type, "auth_limit_reached");
}
END_TEST

START_TEST(test_finish_right_after_wrong)
{
    cn_flow_proof_t proof;
    int i;
    for (i = 1; i < CN_IMAP_ATTEMPTS; ++i) {
        ck_assert_int_eq(submit(&ann_wrong, &proof), APR_EAGAIN);
    }
    ck_assert_msg(submit(&ann_right, &proof) == APR_SUCCESS, "%s", fw.ctx.res.description);
    ck_assert_str_eq(proof.password, ANN_PW);
    ck_assert_int_eq(fw.cache.incrs, CN_IMAP_ATTEMPTS - 1);
}
END_TEST

/* What is not a wrong password: the form again, the server's field at
 * fault, nothing counted, however often. */
static const struct server_case {
    const char *name, *host, *event, *retry;
    int counted;
} server_cases[] = {
    {"no answer", "silent.example", "provider_not_responding", "host", 0},
    {"an untrusted certificate", "untrusted.example", "provider_tls_failed", "host", 0},
    {"a failed handshake", "tlsfail.example", "provider_tls_failed", "host", 0},
    {"no password login offered", "nomech.example", "invalid_authentication", "password", 1},
};

START_TEST(test_finish_server)
{
    const struct server_case *c = &server_cases[_i];
    fields_t f = {"ann@example.org", ANN_PW, NULL, c->host, NULL, "ssl"};
    cn_flow_proof_t proof;
    int i;
    for (i = 0; i < (c->counted ? CN_IMAP_ATTEMPTS - 1 : CN_IMAP_ATTEMPTS + 2); ++i) {
        ck_assert_msg(submit(&f, &proof) == APR_EAGAIN, "%s: submission %d", c->name, i + 1);
        ck_assert_str_eq(proof.retry_field, c->retry);
        ck_assert_msg(!strcmp(fw.ctx.res.event->type, c->event), "%s: %s", c->name,
                      fw.ctx.res.event->type);
        ck_assert_int_eq(fw.cache.incrs, c->counted ? i + 1 : 0);
    }
}
END_TEST

/* No IMAP client in the process: the form again, nothing counted. */
START_TEST(test_finish_no_client)
{
    cn_flow_proof_t proof;
    fw.ctx.imap = NULL;
    ck_assert_int_eq(submit(&ann_right, &proof), APR_EAGAIN);
    ck_assert_str_eq(fw.ctx.res.event->type, "service_unavailable");
    ck_assert_int_eq(fw.cache.incrs, 0);
}
END_TEST

/* A submission whose fields are not right: the form again on that field,
 * no LOGIN, nothing counted. */
START_TEST(test_finish_fields)
{
    static const struct {
        fields_t in;
        const char *retry;
    } cases[] = {
        {{"ann", ANN_PW, NULL, "imap.example.org", NULL, NULL}, "email"},
        {{"ann@example.org", "", NULL, "imap.example.org", NULL, NULL}, "password"},
        {{"ann@example.org", ANN_PW, NULL, NULL, NULL, NULL}, "host"},
        {{"ann@example.org", ANN_PW, NULL, "imap.example.org", "0", NULL}, "port"},
        {{"ann@example.org", ANN_PW, NULL, "imap.example.org", "143", "plain"}, "security"},
    };
    static const char *const usernames[] = {"ann\r\nA1 LOGOUT", "ann\x01"};
    fields_t f = ann_right;
    cn_flow_proof_t proof;
    int i;
    for (i = 0; i < N(cases); ++i) {
        ck_assert_int_eq(submit(&cases[i].in, &proof), APR_EAGAIN);
        ck_assert_str_eq(proof.retry_field, cases[i].retry);
        assert_user_message(cases[i].retry, fw.ctx.res.description);
    }
    /* a username the LOGIN would refuse is the username's fault, in the form's words */
    for (i = 0; i <= N(usernames); ++i) {
        f.username = i < N(usernames) ? usernames[i] : repeat('u', CN_IMAP_USERNAME_MAX + 1, "");
        ck_assert_int_eq(submit(&f, &proof), APR_EAGAIN);
        ck_assert_str_eq(proof.retry_field, "username");
        ck_assert_str_eq(fw.ctx.res.event->type, "invalid_request");
        assert_user_message("username", fw.ctx.res.description);
    }
    ck_assert_int_eq(fw.imap.calls->nelts, 0);
    ck_assert_int_eq(fw.cache.incrs, 0);
}
END_TEST

/* No count can be kept: the first wrong password ends the flow. */
START_TEST(test_finish_no_cache)
{
    cn_flow_proof_t proof;
    fw.ctx.cache = NULL;
    ck_assert_int_eq(submit(&ann_wrong, &proof), APR_EGENERAL);
    ck_assert_str_eq(fw.ctx.res.event->type, "auth_limit_reached");
    ck_assert_int_eq(logged("4 CN00901: "), 1);
    /* the right password still passes, and a silent server is no attempt */
    ck_assert_int_eq(submit(&ann_right, &proof), APR_SUCCESS);
    ck_assert_int_eq(submit(&(fields_t){"ann@example.org", ANN_PW, NULL, "silent.example", NULL,
                                        NULL}, &proof), APR_EAGAIN);
    ck_assert_int_eq(logged("CN00901: "), 1);
}
END_TEST

START_TEST(test_finish_cache_fails)
{
    cn_flow_proof_t proof;
    fw.cache.incr_fails = APR_EGENERAL;
    ck_assert_int_eq(submit(&ann_wrong, &proof), APR_EGENERAL);
    ck_assert_str_eq(fw.ctx.res.event->type, "auth_limit_reached");
    ck_assert_int_eq(fw.cache.incrs, 1);
    ck_assert_int_eq(logged("CN00901: "), 1);
}
END_TEST

/* The counter lives as long as the flow may, at least a minute. */
static const struct ttl_case {
    apr_int64_t left, ttl;
} ttl_cases[] = {
    {LIFETIME, LIFETIME}, {86400, 86400}, {61, 61}, {60, 60}, {59, 60}, {1, 60}, {0, 60},
    {-3600, 60},
};

START_TEST(test_finish_ttl)
{
    const struct ttl_case *c = &ttl_cases[_i];
    cn_flow_proof_t proof;
    fw.flow.deadline = NOW + c->left;
    ck_assert_int_eq(submit(&ann_wrong, &proof), APR_EAGAIN);
    ck_assert_int_eq(fw.cache.incrs, 1);
    ck_assert_msg(fw.cache.last_ttl == c->ttl, "%" APR_INT64_T_FMT " s left: ttl %"
                  APR_INT64_T_FMT ", expected %" APR_INT64_T_FMT, c->left, fw.cache.last_ttl,
                  c->ttl);
}
END_TEST

static Suite *imap_form_suite(void)
{
    Suite *s = suite_create("imap_form");
    TCase *tc = world_tcase("read");
    tcase_add_loop_test(tc, test_read, 0, N(read_cases));
    tcase_add_loop_test(tc, test_read_lengths, 0, N(length_cases));
    tcase_add_test(tc, test_read_email_length);
    tcase_add_test(tc, test_read_username_controls);
    suite_add_tcase(s, tc);

    tc = world_tcase("values");
    tcase_add_loop_test(tc, test_values_first, 0, N(first_cases));
    tcase_add_loop_test(tc, test_values_again, 0, N(again_cases));
    tcase_add_test(tc, test_values_keep_result);
    suite_add_tcase(s, tc);

    tc = world_tcase("step");
    tcase_add_test(tc, test_step_row);
    tcase_add_loop_test(tc, test_start, 0, N(start_cases));
    tcase_add_test(tc, test_start_new_flow);
    tcase_add_test(tc, test_finish_right_password);
    tcase_add_test(tc, test_finish_filled);
    tcase_add_test(tc, test_finish_wrong_password);
    tcase_add_test(tc, test_finish_attempts);
    tcase_add_test(tc, test_finish_right_after_wrong);
    tcase_add_loop_test(tc, test_finish_server, 0, N(server_cases));
    tcase_add_test(tc, test_finish_no_client);
    tcase_add_test(tc, test_finish_fields);
    tcase_add_test(tc, test_finish_no_cache);
    tcase_add_test(tc, test_finish_cache_fails);
    tcase_add_loop_test(tc, test_finish_ttl, 0, N(ttl_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(imap_form_suite());
}
