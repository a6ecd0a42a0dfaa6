/* Unit tests of the libcurl IMAP client (src/core/proto/imap_curl.c)
 * without a server: the test links with ld --wrap around the libcurl calls
 * the client makes (t/unit/Makefile), so it sees every option a LOGIN sets,
 * can make one fail, and answers in place of the server with any CURLcode.
 * What a LOGIN asks of libcurl (the credentials never in the URL, TLS
 * verified, STARTTLS required, the timeouts, a fresh connection), what each
 * libcurl outcome becomes, and that the handle goes with its pool. The real
 * conversation is t/native_imap.t's, with Dovecot. */
#include <stdarg.h>
#include <apr_strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <curl/curl.h>

#include "cn_proto.h"
#include "cn_test.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define NO_OPTION ((CURLoption)-1)

/* ---- the wrapped libcurl ------------------------------------------------ */

CURL *__real_curl_easy_init(void);
void __real_curl_easy_cleanup(CURL *c);
CURLcode __real_curl_easy_setopt(CURL *c, CURLoption option, ...);

typedef void (*any_fn)(void);

static struct fake_t {
    CURLoption fail_option;  /* this option's setting fails */
    int fail_init;           /* curl_easy_init returns NULL */
    CURLcode perform_rc;     /* what the "server" makes of the LOGIN */
    const char *errmsg;      /* written to the error buffer when it fails */
    apr_size_t answer_len;   /* bytes handed to the write callback first */
    int inits, cleanups, performs;
    const char *url, *protocols, *cainfo, *username, *password, *login_options, *custom;
    long use_ssl, sslversion, verifypeer, verifyhost, fresh, forbid_reuse, nosignal;
    long connect_ms, timeout_ms;
    int use_ssl_set;
    curl_write_callback write;
    void *write_data;
    char *errbuf;
    curl_opensocket_callback opensocket; /* the address rule */
    void *opensocket_data;
    const char *proxy;
    const char *resolve;     /* the first entry of CURLOPT_RESOLVE, or NULL */
    const char *connect_to;  /* the address the "server" is at (numeric), or NULL */
    int sockets;             /* sockets the rule let the LOGIN open */
} fake;

CURL *__wrap_curl_easy_init(void)
{
    if (fake.fail_init) {
        return NULL;
    }
    fake.inits++;
    return __real_curl_easy_init();
}

void __wrap_curl_easy_cleanup(CURL *c)
{
    fake.cleanups++;
    __real_curl_easy_cleanup(c);
}

static const char *copy(const char *s)
{
    return s ? apr_pstrdup(pool, s) : NULL;
}

CURLcode __wrap_curl_easy_setopt(CURL *c, CURLoption option, ...)
{
    va_list ap;
    long n = 0;
    void *p = NULL;
    any_fn fn = NULL;
    curl_off_t off = 0;
    int kind;

    va_start(ap, option);
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        n = va_arg(ap, long);
        kind = 0;
    }
    else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
        p = va_arg(ap, void *);
        kind = 1;
    }
    else if (option < CURLOPTTYPE_OFF_T) {
        fn = va_arg(ap, any_fn);
        kind = 2;
    }
    else {
        off = va_arg(ap, curl_off_t);
        kind = 3;
    }
    va_end(ap);

    if (option == fake.fail_option) {
        return CURLE_OUT_OF_MEMORY;
    }
    switch (option) {
    case CURLOPT_URL: fake.url = copy(p); break;
    case CURLOPT_PROTOCOLS_STR: fake.protocols = copy(p); break;
    case CURLOPT_CAINFO: fake.cainfo = copy(p); break;
    case CURLOPT_USERNAME: fake.username = copy(p); break;
    case CURLOPT_PASSWORD: fake.password = copy(p); break;
    case CURLOPT_LOGIN_OPTIONS: fake.login_options = copy(p); break;
    case CURLOPT_CUSTOMREQUEST: fake.custom = copy(p); break;
    case CURLOPT_USE_SSL: fake.use_ssl = n; fake.use_ssl_set = 1; break;
    case CURLOPT_SSLVERSION: fake.sslversion = n; break;
    case CURLOPT_SSL_VERIFYPEER: fake.verifypeer = n; break;
    case CURLOPT_SSL_VERIFYHOST: fake.verifyhost = n; break;
    case CURLOPT_FRESH_CONNECT: fake.fresh = n; break;
    case CURLOPT_FORBID_REUSE: fake.forbid_reuse = n; break;
    case CURLOPT_NOSIGNAL: fake.nosignal = n; break;
    case CURLOPT_CONNECTTIMEOUT_MS: fake.connect_ms = n; break;
    case CURLOPT_TIMEOUT_MS: fake.timeout_ms = n; break;
    case CURLOPT_WRITEFUNCTION: fake.write = (curl_write_callback)fn; break;
    case CURLOPT_WRITEDATA: fake.write_data = p; break;
    case CURLOPT_ERRORBUFFER: fake.errbuf = p; break;
    case CURLOPT_OPENSOCKETFUNCTION: fake.opensocket = (curl_opensocket_callback)fn; break;
    case CURLOPT_OPENSOCKETDATA: fake.opensocket_data = p; break;
    case CURLOPT_PROXY: fake.proxy = copy(p); break;
    case CURLOPT_RESOLVE: fake.resolve = p ? copy(((struct curl_slist *)p)->data) : NULL; break;
    default: break;
    }
    switch (kind) {
    case 0: return __real_curl_easy_setopt(c, option, n);
    case 1: return __real_curl_easy_setopt(c, option, p);
    case 2: return __real_curl_easy_setopt(c, option, fn);
    default: return __real_curl_easy_setopt(c, option, off);
    }
}

/* The socket libcurl would open for fake.connect_to, through the client's
 * opensocket callback: 0 when the rule refused it. */
static int fake_connect(void)
{
    struct {
        struct curl_sockaddr a;
        struct sockaddr_in6 room; /* libcurl's address is as long as its family needs */
    } sa;
    curl_socket_t fd;
    memset(&sa, 0, sizeof(sa));
    sa.a.socktype = SOCK_STREAM;
    sa.a.protocol = IPPROTO_TCP;
    if (strchr(fake.connect_to, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa.a.addr;
        sa.a.family = AF_INET6;
        sa.a.addrlen = sizeof(*in6);
        in6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, fake.connect_to, &in6->sin6_addr), 1);
    }
    else {
        struct sockaddr_in *in = (struct sockaddr_in *)&sa.a.addr;
        sa.a.family = AF_INET;
        sa.a.addrlen = sizeof(*in);
        in->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, fake.connect_to, &in->sin_addr), 1);
    }
    fd = fake.opensocket(fake.opensocket_data, CURLSOCKTYPE_IPCXN, &sa.a);
    if (fd == CURL_SOCKET_BAD) {
        return 0;
    }
    close(fd);
    fake.sockets++;
    return 1;
}

/* The "server": at fake.connect_to (when set) if the client's address rule
 * lets it connect there; what it says after the LOGIN, in 1 KiB pieces,
 * then the scripted result. */
CURLcode __wrap_curl_easy_perform(CURL *c)
{
    static char chunk[1024];
    apr_size_t left = fake.answer_len;
    (void)c;
    fake.performs++;
    if (fake.connect_to && !fake_connect()) {
        if (fake.errbuf) {
            apr_cpystrn(fake.errbuf, "Failed to connect to imap.example.org port 993",
                        CURL_ERROR_SIZE);
        }
        return CURLE_COULDNT_CONNECT;
    }
    memset(chunk, '*', sizeof(chunk));
    while (left) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
        if (fake.write(chunk, 1, n, fake.write_data) != n) {
            return CURLE_WRITE_ERROR;
        }
        left -= n;
    }
    if (fake.perform_rc != CURLE_OK && fake.errmsg && fake.errbuf) {
        apr_cpystrn(fake.errbuf, fake.errmsg, CURL_ERROR_SIZE);
    }
    return fake.perform_rc;
}

/* ---- the client under test ----------------------------------------------- */

#define PASSWORD "pw with spaces: @/:%\"\\"
#define USERNAME "ann@example.org"

static void setup(void)
{
    cn_test_pool_setup();
    memset(&fake, 0, sizeof(fake));
    fake.fail_option = NO_OPTION;
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
}

static void teardown(void)
{
    cn_test_pool_teardown();
    curl_global_cleanup();
}

static cn_imap_t *client_allowing(int allow_plain, const cn_addr_allow_t *allow)
{
    cn_imap_options_t o = {"/etc/test-ca.pem", 2500, allow_plain, allow};
    cn_imap_t *imap = NULL;
    ck_assert_int_eq(cn_imap_curl_make(pool, &o, &imap), APR_SUCCESS);
    ck_assert_ptr_nonnull(imap);
    ck_assert_int_eq(imap->allow_plain, allow_plain);
    ck_assert_int_eq(imap->timeout_ms, 2500);
    return imap;
}

static cn_imap_t *client(int allow_plain)
{
    return client_allowing(allow_plain, NULL);
}

static cn_imap_request_t request(const char *security, int port)
{
    cn_imap_request_t r;
    r.host = "imap.example.org";
    r.port = port;
    r.security = security;
    r.username = USERNAME;
    r.password = PASSWORD;
    return r;
}

/* A LOGIN in a pool of its own, destroyed before the checks: the handle
 * must go with it. */
static apr_status_t login(cn_imap_t *imap, const cn_imap_request_t *req,
                          cn_imap_outcome_t *outcome, const char **error)
{
    apr_pool_t *sub;
    apr_status_t rv;
    ck_assert_int_eq(apr_pool_create(&sub, pool), APR_SUCCESS);
    rv = imap->login(imap, sub, req, outcome, error);
    if (*error) {
        *error = apr_pstrdup(pool, *error);
    }
    apr_pool_destroy(sub);
    ck_assert_int_eq(fake.inits, fake.cleanups);
    return rv;
}

static const struct security_case {
    const char *security;
    int port;
    const char *url;
    long use_ssl;
} security_cases[] = {
    {CN_IMAP_SSL, 993, "imaps://imap.example.org:993/", CURLUSESSL_NONE},
    {CN_IMAP_STARTTLS, 143, "imap://imap.example.org:143/", CURLUSESSL_ALL},
    {CN_IMAP_PLAIN, 143, "imap://imap.example.org:143/", CURLUSESSL_NONE},
    {CN_IMAP_SSL, 10993, "imaps://imap.example.org:10993/", CURLUSESSL_NONE},
};

START_TEST(test_login_options)
{
    const struct security_case *c = &security_cases[_i];
    cn_imap_request_t req = request(c->security, c->port);
    cn_imap_outcome_t outcome = CN_IMAP_CLIENT_FAILED;
    const char *error = "untouched";
    ck_assert_int_eq(login(client(1), &req, &outcome, &error), APR_SUCCESS);
    ck_assert_int_eq(outcome, CN_IMAP_LOGGED_IN);
    ck_assert_ptr_null(error);
    ck_assert_int_eq(fake.performs, 1);
    ck_assert_str_eq(fake.url, c->url);
    /* the credentials go as options, never in the URL */
    ck_assert_ptr_null(strchr(fake.url + strlen("imaps://"), '@'));
    ck_assert_ptr_null(strstr(fake.url, "ann"));
    ck_assert_str_eq(fake.username, USERNAME);
    ck_assert_str_eq(fake.password, PASSWORD);
    ck_assert_str_eq(fake.protocols, "imap,imaps");
    ck_assert_msg(fake.use_ssl_set && fake.use_ssl == c->use_ssl, "%s: CURLOPT_USE_SSL %ld",
                  c->security, fake.use_ssl);
    ck_assert_int_eq(fake.sslversion, CURL_SSLVERSION_TLSv1_2);
    ck_assert_int_eq(fake.verifypeer, 1);
    ck_assert_int_eq(fake.verifyhost, 2);
    ck_assert_str_eq(fake.cainfo, "/etc/test-ca.pem");
    ck_assert_int_eq(fake.connect_ms, 2500);
    ck_assert_int_eq(fake.timeout_ms, 2500);
    ck_assert_int_eq(fake.fresh, 1);
    ck_assert_int_eq(fake.forbid_reuse, 1);
    ck_assert_int_eq(fake.nosignal, 1);
    ck_assert_str_eq(fake.login_options, "AUTH=PLAIN;AUTH=LOGIN");
    ck_assert_str_eq(fake.custom, "NOOP");
    /* the server is the user's choice: the address rule on the socket, no proxy */
    ck_assert_ptr_nonnull(fake.opensocket);
    ck_assert_ptr_nonnull(fake.opensocket_data);
    ck_assert_str_eq(fake.proxy, "");
    /* no address pinned: libcurl asks the system's resolver */
    ck_assert_ptr_null(fake.resolve);
}
END_TEST

/* A host the module's own resolver found is pinned to its addresses. */
START_TEST(test_pinned)
{
    cn_imap_request_t req = request(CN_IMAP_SSL, 993);
    cn_imap_outcome_t outcome = CN_IMAP_CLIENT_FAILED;
    const char *error = NULL;
    req.pinned = "imap.example.org:993:93.184.215.14,[2a00:1450:4001:80b::200e]";
    ck_assert_int_eq(login(client(1), &req, &outcome, &error), APR_SUCCESS);
    ck_assert_str_eq(fake.resolve, req.pinned);
    /* the address rule still checks the socket */
    ck_assert_ptr_nonnull(fake.opensocket);
}
END_TEST

/* Where the server is decides whether the LOGIN connects at all: a
 * non-public address is refused (CN_IMAP_ADDRESS_REFUSED, saying which in
 * *ERROR for the log) unless ConnectAllowAddresses names it. */
static const struct address_case {
    const char *address, *allow;
    cn_imap_outcome_t outcome;
    const char *error;
} address_cases[] = {
    {"93.184.215.14", NULL, CN_IMAP_LOGGED_IN, NULL},
    {"2a00:1450:4001:80b::200e", NULL, CN_IMAP_LOGGED_IN, NULL},
    {"127.0.0.1", NULL, CN_IMAP_ADDRESS_REFUSED, "127.0.0.1 is not a public address (loopback)"},
    {"169.254.169.254", NULL, CN_IMAP_ADDRESS_REFUSED,
     "169.254.169.254 is not a public address (link-local)"},
    {"192.168.1.10", NULL, CN_IMAP_ADDRESS_REFUSED,
     "192.168.1.10 is not a public address (private)"},
    {"fe80::1", NULL, CN_IMAP_ADDRESS_REFUSED, "fe80::1 is not a public address (link-local)"},
    {"::ffff:10.0.0.5", NULL, CN_IMAP_ADDRESS_REFUSED,
     "::ffff:10.0.0.5 is not a public address (private)"},
    {"127.0.0.1", "127.0.0.0/8", CN_IMAP_LOGGED_IN, NULL},
    {"10.1.2.3", "10.1.2.0/24", CN_IMAP_LOGGED_IN, NULL},
    {"10.1.3.3", "10.1.2.0/24", CN_IMAP_ADDRESS_REFUSED,
     "10.1.3.3 is not a public address (private)"},
};

START_TEST(test_address_rule)
{
    const struct address_case *c = &address_cases[_i];
    cn_imap_request_t req = request(CN_IMAP_SSL, 993);
    cn_imap_outcome_t outcome = CN_IMAP_CLIENT_FAILED;
    const char *error = NULL;
    cn_addr_allow_t *allow = NULL;
    if (c->allow) {
        apr_array_header_t *cidrs = apr_array_make(pool, 1, sizeof(const char *));
        APR_ARRAY_PUSH(cidrs, const char *) = c->allow;
        ck_assert_int_eq(cn_addr_allow_make(pool, cidrs, &allow, NULL), APR_SUCCESS);
    }
    fake.connect_to = c->address;
    ck_assert_int_eq(login(client_allowing(0, allow), &req, &outcome, &error),
                     c->outcome == CN_IMAP_LOGGED_IN ? APR_SUCCESS : APR_EGENERAL);
    ck_assert_msg(outcome == c->outcome, "%s: outcome %d", c->address, outcome);
    ck_assert_int_eq(fake.sockets, c->outcome == CN_IMAP_LOGGED_IN);
    if (c->error) {
        ck_assert_msg(error && !strcmp(error, c->error), "%s: %s", c->address,
                      error ? error : "NULL");
    }
    else {
        ck_assert_ptr_null(error);
    }
}
END_TEST

/* What the server made of it, as the client tells. */
static const struct perform_case {
    CURLcode rc;
    const char *errmsg;
    cn_imap_outcome_t outcome;
    const char *error; /* what *ERROR says */
} perform_cases[] = {
    {CURLE_LOGIN_DENIED, "Login denied", CN_IMAP_DENIED, "Login denied"},
    {CURLE_LOGIN_DENIED, "No known authentication mechanisms supported!", CN_IMAP_NO_MECHANISM,
     "No known authentication mechanisms supported!"},
    {CURLE_COULDNT_CONNECT, "Failed to connect to imap.example.org port 993",
     CN_IMAP_NO_ANSWER, "Failed to connect to imap.example.org port 993"},
    {CURLE_OPERATION_TIMEDOUT, NULL, CN_IMAP_NO_ANSWER, "Timeout was reached"},
    {CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem: unable to get local issuer "
     "certificate", CN_IMAP_TLS_UNTRUSTED, "SSL certificate problem: unable to get local "
     "issuer certificate"},
    {CURLE_USE_SSL_FAILED, "STARTTLS denied", CN_IMAP_TLS_FAILED, "STARTTLS denied"},
    {CURLE_SSL_CONNECT_ERROR, "wrong version number", CN_IMAP_TLS_FAILED, "wrong version number"},
    {CURLE_SSL_CACERT_BADFILE, "error setting certificate file", CN_IMAP_CLIENT_FAILED,
     "error setting certificate file"},
};

START_TEST(test_perform_outcomes)
{
    const struct perform_case *c = &perform_cases[_i];
    cn_imap_request_t req = request(CN_IMAP_SSL, 993);
    cn_imap_outcome_t outcome = CN_IMAP_LOGGED_IN;
    const char *error = NULL;
    fake.perform_rc = c->rc;
    fake.errmsg = c->errmsg;
    ck_assert_int_ne(login(client(0), &req, &outcome, &error), APR_SUCCESS);
    ck_assert_int_eq(outcome, c->outcome);
    ck_assert_str_eq(error, c->error);
    ck_assert_ptr_null(strstr(error, PASSWORD));
}
END_TEST

/* A server that talks on and on after the LOGIN is cut off. */
START_TEST(test_answer_capped)
{
    cn_imap_request_t req = request(CN_IMAP_SSL, 993);
    cn_imap_outcome_t outcome = CN_IMAP_LOGGED_IN;
    const char *error = NULL;
    fake.answer_len = 64 * 1024;
    ck_assert_int_eq(login(client(0), &req, &outcome, &error), APR_SUCCESS);
    fake.answer_len = 64 * 1024 + 1;
    ck_assert_int_ne(login(client(0), &req, &outcome, &error), APR_SUCCESS);
    ck_assert_int_eq(outcome, CN_IMAP_NO_ANSWER);
}
END_TEST

/* Plain IMAP is refused by the client too unless allowed, before anything. */
START_TEST(test_plain_refused)
{
    cn_imap_request_t req = request(CN_IMAP_PLAIN, 143);
    cn_imap_outcome_t outcome = CN_IMAP_LOGGED_IN;
    const char *error = NULL;
    ck_assert_int_ne(login(client(0), &req, &outcome, &error), APR_SUCCESS);
    ck_assert_int_eq(outcome, CN_IMAP_PLAIN_REFUSED);
    ck_assert_int_eq(fake.inits, 0);
    ck_assert_int_eq(fake.performs, 0);
}
END_TEST

/* An option that cannot be set, or no handle: the client failed, nothing sent. */
static const CURLoption failing_options[] = {
    CURLOPT_URL, CURLOPT_PROTOCOLS_STR, CURLOPT_USERNAME, CURLOPT_PASSWORD,
    CURLOPT_LOGIN_OPTIONS, CURLOPT_USE_SSL, CURLOPT_SSL_VERIFYPEER, CURLOPT_CAINFO,
    CURLOPT_TIMEOUT_MS, CURLOPT_FORBID_REUSE, CURLOPT_OPENSOCKETFUNCTION,
    CURLOPT_OPENSOCKETDATA, CURLOPT_PROXY,
};

START_TEST(test_setup_failure)
{
    cn_imap_request_t req = request(CN_IMAP_STARTTLS, 143);
    cn_imap_outcome_t outcome = CN_IMAP_LOGGED_IN;
    const char *error = NULL;
    fake.fail_option = failing_options[_i];
    ck_assert_int_ne(login(client(0), &req, &outcome, &error), APR_SUCCESS);
    ck_assert_int_eq(outcome, CN_IMAP_CLIENT_FAILED);
    ck_assert_str_eq(error, "cannot configure the IMAP client");
    ck_assert_int_eq(fake.performs, 0);
    ck_assert_int_eq(fake.inits, 1);
}
END_TEST

START_TEST(test_no_handle)
{
    cn_imap_request_t req = request(CN_IMAP_SSL, 993);
    cn_imap_outcome_t outcome = CN_IMAP_LOGGED_IN;
    const char *error = NULL;
    fake.fail_init = 1;
    ck_assert_int_ne(login(client(0), &req, &outcome, &error), APR_SUCCESS);
    ck_assert_int_eq(outcome, CN_IMAP_CLIENT_FAILED);
    ck_assert_int_eq(fake.performs, 0);
}
END_TEST

/* Requests the client does not take, whoever asks: nothing is sent. */
START_TEST(test_bad_request)
{
    static const char *const hosts[] = {"imap.example.org/x", "user@imap.example.org",
                                        "imap.example.org:993", "", "-imap.example.org"};
    cn_imap_request_t req = request(CN_IMAP_SSL, 993);
    cn_imap_outcome_t outcome = CN_IMAP_LOGGED_IN;
    const char *error = NULL;
    int i;
    for (i = 0; i < N(hosts); ++i) {
        req.host = hosts[i];
        ck_assert_int_ne(login(client(1), &req, &outcome, &error), APR_SUCCESS);
        ck_assert_int_eq(outcome, CN_IMAP_CLIENT_FAILED);
    }
    req = request("tls", 993);
    ck_assert_int_ne(login(client(1), &req, &outcome, &error), APR_SUCCESS);
    req = request(CN_IMAP_SSL, 0);
    ck_assert_int_ne(login(client(1), &req, &outcome, &error), APR_SUCCESS);
    req = request(CN_IMAP_SSL, 65536);
    ck_assert_int_ne(login(client(1), &req, &outcome, &error), APR_SUCCESS);
    ck_assert_int_eq(fake.inits, 0);
}
END_TEST

START_TEST(test_make_needs_timeout)
{
    cn_imap_options_t o = {NULL, 0, 0, NULL};
    cn_imap_t *imap = NULL;
    ck_assert_int_ne(cn_imap_curl_make(pool, &o, &imap), APR_SUCCESS);
}
END_TEST

/* libcurl's codes as outcomes, the table without a transfer. */
static const struct code_case {
    CURLcode rc;
    const char *errbuf;
    cn_imap_outcome_t outcome;
} code_cases[] = {
    {CURLE_OK, NULL, CN_IMAP_LOGGED_IN},
    {CURLE_LOGIN_DENIED, NULL, CN_IMAP_DENIED},
    {CURLE_LOGIN_DENIED, "", CN_IMAP_DENIED},
    {CURLE_LOGIN_DENIED, "No known authentication mechanisms supported!", CN_IMAP_NO_MECHANISM},
    {CURLE_COULDNT_RESOLVE_HOST, NULL, CN_IMAP_NO_ANSWER},
    {CURLE_COULDNT_CONNECT, NULL, CN_IMAP_NO_ANSWER},
    {CURLE_OPERATION_TIMEDOUT, NULL, CN_IMAP_NO_ANSWER},
    {CURLE_GOT_NOTHING, NULL, CN_IMAP_NO_ANSWER},
    {CURLE_RECV_ERROR, NULL, CN_IMAP_NO_ANSWER},
    {CURLE_SEND_ERROR, NULL, CN_IMAP_NO_ANSWER},
    {CURLE_WEIRD_SERVER_REPLY, NULL, CN_IMAP_NO_ANSWER},
    {CURLE_QUOTE_ERROR, NULL, CN_IMAP_NO_ANSWER},
    {CURLE_WRITE_ERROR, NULL, CN_IMAP_NO_ANSWER},
    {CURLE_PEER_FAILED_VERIFICATION, NULL, CN_IMAP_TLS_UNTRUSTED},
    {CURLE_SSL_ISSUER_ERROR, NULL, CN_IMAP_TLS_UNTRUSTED},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, NULL, CN_IMAP_TLS_UNTRUSTED},
    {CURLE_USE_SSL_FAILED, NULL, CN_IMAP_TLS_FAILED},
    {CURLE_SSL_CONNECT_ERROR, NULL, CN_IMAP_TLS_FAILED},
    {CURLE_FAILED_INIT, NULL, CN_IMAP_CLIENT_FAILED},
    {CURLE_OUT_OF_MEMORY, NULL, CN_IMAP_CLIENT_FAILED},
    {CURLE_UNSUPPORTED_PROTOCOL, NULL, CN_IMAP_CLIENT_FAILED},
    {CURLE_SSL_CACERT_BADFILE, NULL, CN_IMAP_CLIENT_FAILED},
};

START_TEST(test_curl_outcome)
{
    const struct code_case *c = &code_cases[_i];
    ck_assert_msg(cn_imap_curl_outcome((int)c->rc, c->errbuf) == c->outcome,
                  "CURLcode %d (%s): outcome %d, expected %d", (int)c->rc,
                  curl_easy_strerror(c->rc), (int)cn_imap_curl_outcome((int)c->rc, c->errbuf),
                  (int)c->outcome);
}
END_TEST

static Suite *imap_curl_suite(void)
{
    Suite *s = suite_create("imap_curl");
    TCase *tc = tcase_create("client");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_login_options, 0, N(security_cases));
    tcase_add_test(tc, test_pinned);
    tcase_add_loop_test(tc, test_perform_outcomes, 0, N(perform_cases));
    tcase_add_loop_test(tc, test_address_rule, 0, N(address_cases));
    tcase_add_test(tc, test_answer_capped);
    tcase_add_test(tc, test_plain_refused);
    tcase_add_loop_test(tc, test_setup_failure, 0, N(failing_options));
    tcase_add_test(tc, test_no_handle);
    tcase_add_test(tc, test_bad_request);
    tcase_add_test(tc, test_make_needs_timeout);
    suite_add_tcase(s, tc);
    tc = cn_tcase("outcomes");
    tcase_add_loop_test(tc, test_curl_outcome, 0, N(code_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(imap_curl_suite());
}
