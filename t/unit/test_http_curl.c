/* Unit tests of the libcurl client (src/core/proto/http_curl.c) without a
 * network: the test links with ld --wrap around the libcurl calls the
 * client makes (t/unit/Makefile), so a test can make any option or header
 * fail, count header lists and handles, and answer in place of a server.
 * What a request sets, what an answer becomes, and that a failure to set
 * up a request fails it cleanly: resp->error, no header list left, the
 * handle not handed out again. */
#include <stdarg.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "cn_proto.h"
#include "cn_test.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define NO_OPTION ((CURLoption)-1)
#define MAX_HEADERS 8

/* ---- the wrapped libcurl ------------------------------------------------ */

CURL *__real_curl_easy_init(void);
void __real_curl_easy_cleanup(CURL *c);
CURLcode __real_curl_easy_setopt(CURL *c, CURLoption option, ...);
struct curl_slist *__real_curl_slist_append(struct curl_slist *list, const char *s);
void __real_curl_slist_free_all(struct curl_slist *list);

typedef void (*any_fn)(void);

static struct fake_t {
    /* what to break */
    CURLoption fail_option; /* make the FAIL_NTH call setting this option fail */
    int fail_nth;
    int fail_append_nth;    /* make this curl_slist_append fail (1-based; 0: none) */
    /* what the "server" answers */
    CURLcode perform_rc;
    const char *body;
    long status;
    const char *content_type;
    const char *errmsg;     /* written to the error buffer when perform fails */
    /* what happened */
    int inits, cleanups, performs, lists_alive, appends;
    int option_calls;       /* calls setting fail_option */
    const char *url, *protocols, *cainfo, *useragent, *postfields;
    long followlocation, nosignal, verifypeer, verifyhost, post, connect_ms, timeout_ms;
    curl_off_t postsize;
    int postsize_set;
    char *headers[MAX_HEADERS]; /* as CURLOPT_HTTPHEADER last named them (not NULL) */
    int nheaders;
    int header_list_cleared;    /* CURLOPT_HTTPHEADER set to NULL after the last list */
    int errbuf_cleared;
    curl_write_callback write;
    void *write_data;
    char *errbuf;
    /* a host a user chose: the address rule, and where the transfer "connects" */
    curl_opensocket_callback opensocket;
    void *opensocket_data;
    const char *proxy, *resolve;
    const char *connect_to; /* the address the fake transfer connects to (numeric) */
    int sockets;            /* sockets the rule let the transfer open */
} fake;

CURL *__wrap_curl_easy_init(void)
{
    fake.inits++;
    return __real_curl_easy_init();
}

void __wrap_curl_easy_cleanup(CURL *c)
{
    fake.cleanups++;
    __real_curl_easy_cleanup(c);
}

struct curl_slist *__wrap_curl_slist_append(struct curl_slist *list, const char *s)
{
    struct curl_slist *l;
    if (++fake.appends == fake.fail_append_nth) {
        return NULL; /* as libcurl on a failed allocation: LIST untouched */
    }
    l = __real_curl_slist_append(list, s);
    if (l && !list) {
        fake.lists_alive++;
    }
    return l;
}

void __wrap_curl_slist_free_all(struct curl_slist *list)
{
    if (list) {
        fake.lists_alive--;
    }
    __real_curl_slist_free_all(list);
}

static void note_headers(const struct curl_slist *l)
{
    int i;
    for (i = 0; i < fake.nheaders; ++i) {
        free(fake.headers[i]);
    }
    fake.nheaders = 0;
    for (; l && fake.nheaders < MAX_HEADERS; l = l->next) {
        fake.headers[fake.nheaders++] = strdup(l->data);
    }
}

static const char *copy(const char *s)
{
    return s ? apr_pstrdup(pool, s) : NULL;
}

/* Remembers what each option was set to, fails where the test says, and
 * sets it on the real handle otherwise. */
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

    if (option == fake.fail_option && ++fake.option_calls == fake.fail_nth) {
        return CURLE_OUT_OF_MEMORY;
    }
    switch (option) {
    case CURLOPT_URL: fake.url = copy(p); break;
    case CURLOPT_PROTOCOLS_STR: fake.protocols = copy(p); break;
    case CURLOPT_CAINFO: fake.cainfo = copy(p); break;
    case CURLOPT_USERAGENT: fake.useragent = copy(p); break;
    case CURLOPT_POSTFIELDS: fake.postfields = copy(p); break;
    case CURLOPT_FOLLOWLOCATION: fake.followlocation = n; break;
    case CURLOPT_NOSIGNAL: fake.nosignal = n; break;
    case CURLOPT_SSL_VERIFYPEER: fake.verifypeer = n; break;
    case CURLOPT_SSL_VERIFYHOST: fake.verifyhost = n; break;
    case CURLOPT_POST: fake.post = n; break;
    case CURLOPT_CONNECTTIMEOUT_MS: fake.connect_ms = n; break;
    case CURLOPT_TIMEOUT_MS: fake.timeout_ms = n; break;
    case CURLOPT_POSTFIELDSIZE_LARGE: fake.postsize = off; fake.postsize_set = 1; break;
    case CURLOPT_WRITEFUNCTION: fake.write = (curl_write_callback)fn; break;
    case CURLOPT_WRITEDATA: fake.write_data = p; break;
    case CURLOPT_ERRORBUFFER:
        fake.errbuf = p;
        fake.errbuf_cleared = p == NULL;
        break;
    case CURLOPT_OPENSOCKETFUNCTION: fake.opensocket = (curl_opensocket_callback)fn; break;
    case CURLOPT_OPENSOCKETDATA: fake.opensocket_data = p; break;
    case CURLOPT_PROXY: fake.proxy = copy(p); break;
    case CURLOPT_RESOLVE:
        fake.resolve = p ? copy(((struct curl_slist *)p)->data) : NULL;
        break;
    case CURLOPT_HTTPHEADER:
        if (p) {
            note_headers(p);
        }
        fake.header_list_cleared = p == NULL;
        break;
    default: break;
    }
    switch (kind) {
    case 0: return __real_curl_easy_setopt(c, option, n);
    case 1: return __real_curl_easy_setopt(c, option, p);
    case 2: return __real_curl_easy_setopt(c, option, fn);
    default: return __real_curl_easy_setopt(c, option, off);
    }
}

/* The socket libcurl would open for the address fake.connect_to, through
 * the client's opensocket callback: 0 when the callback refused it. */
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

/* The "server": the body in small pieces through the write callback, as
 * libcurl would hand it over, then the scripted result. With an address to
 * connect to, the client's address rule decides first. */
CURLcode __wrap_curl_easy_perform(CURL *c)
{
    const char *b = fake.body ? fake.body : "";
    size_t left = strlen(b);
    (void)c;
    fake.performs++;
    if (fake.connect_to && fake.opensocket && !fake_connect()) {
        return CURLE_COULDNT_CONNECT;
    }
    while (left) {
        size_t n = left < 5 ? left : 5;
        if (fake.write((char *)b, 1, n, fake.write_data) != n) {
            return CURLE_WRITE_ERROR;
        }
        b += n;
        left -= n;
    }
    if (fake.perform_rc != CURLE_OK && fake.errmsg && fake.errbuf) {
        apr_cpystrn(fake.errbuf, fake.errmsg, CURL_ERROR_SIZE);
    }
    return fake.perform_rc;
}

CURLcode __wrap_curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
    va_list ap;
    void *out;
    (void)c;
    va_start(ap, info);
    out = va_arg(ap, void *);
    va_end(ap);
    if (info == CURLINFO_RESPONSE_CODE) {
        *(long *)out = fake.perform_rc == CURLE_OK ? fake.status : 0;
    }
    else if (info == CURLINFO_CONTENT_TYPE) {
        *(const char **)out = fake.perform_rc == CURLE_OK ? fake.content_type : NULL;
    }
    return CURLE_OK;
}

static void fake_reset(void)
{
    int i;
    for (i = 0; i < fake.nheaders; ++i) {
        free(fake.headers[i]);
    }
    memset(&fake, 0, sizeof(fake));
    fake.fail_option = NO_OPTION;
}

static void curl_setup(void)
{
    fake_reset();
    ck_assert_int_eq(cn_http_global_init(), APR_SUCCESS);
}

static void curl_teardown(void)
{
    fake_reset();
    curl_global_cleanup();
}

/* A client in the test's pool (its one idle handle made now). */
static cn_http_t *client(apr_size_t max_response)
{
    cn_http_options_t opts = {0};
    cn_http_t *http = NULL;
    opts.ca_file = "/etc/mod_connect/test-ca.pem";
    opts.connect_timeout_ms = 5000;
    opts.timeout_ms = 15000;
    opts.max_response = max_response;
    ck_assert_int_eq(cn_http_curl_make(pool, &opts, &http), APR_SUCCESS);
    ck_assert_int_eq(fake.inits, 1);
    return http;
}

/* ---- a request that cannot be set up fails, and leaves nothing --------- */

static const struct setup_case {
    const char *name;
    const char *method, *bearer;
    CURLoption option; /* the option whose first setting fails, or NO_OPTION */
    int append;        /* the curl_slist_append that fails, or 0 */
} setup_cases[] = {
    {"CURLOPT_URL", "GET", NULL, CURLOPT_URL, 0},
    {"CURLOPT_PROTOCOLS_STR", "GET", NULL, CURLOPT_PROTOCOLS_STR, 0},
    {"CURLOPT_FOLLOWLOCATION", "GET", NULL, CURLOPT_FOLLOWLOCATION, 0},
    {"CURLOPT_NOSIGNAL", "GET", NULL, CURLOPT_NOSIGNAL, 0},
    {"CURLOPT_CONNECTTIMEOUT_MS", "GET", NULL, CURLOPT_CONNECTTIMEOUT_MS, 0},
    {"CURLOPT_TIMEOUT_MS", "GET", NULL, CURLOPT_TIMEOUT_MS, 0},
    {"CURLOPT_SSL_VERIFYPEER", "GET", NULL, CURLOPT_SSL_VERIFYPEER, 0},
    {"CURLOPT_SSL_VERIFYHOST", "GET", NULL, CURLOPT_SSL_VERIFYHOST, 0},
    {"CURLOPT_CAINFO", "GET", NULL, CURLOPT_CAINFO, 0},
    {"CURLOPT_WRITEFUNCTION", "GET", NULL, CURLOPT_WRITEFUNCTION, 0},
    {"CURLOPT_WRITEDATA", "GET", NULL, CURLOPT_WRITEDATA, 0},
    {"CURLOPT_ERRORBUFFER", "GET", NULL, CURLOPT_ERRORBUFFER, 0},
    {"CURLOPT_USERAGENT", "GET", NULL, CURLOPT_USERAGENT, 0},
    {"CURLOPT_HTTPHEADER, GET", "GET", "tok", CURLOPT_HTTPHEADER, 0},
    {"CURLOPT_HTTPHEADER, POST", "POST", "tok", CURLOPT_HTTPHEADER, 0},
    {"CURLOPT_POST", "POST", NULL, CURLOPT_POST, 0},
    {"CURLOPT_POSTFIELDS", "POST", "tok", CURLOPT_POSTFIELDS, 0},
    {"CURLOPT_POSTFIELDSIZE_LARGE", "POST", NULL, CURLOPT_POSTFIELDSIZE_LARGE, 0},
    {"the Accept header", "GET", "tok", NO_OPTION, 1},
    {"the Authorization header", "GET", "tok", NO_OPTION, 2},
    {"the Content-Type header", "POST", NULL, NO_OPTION, 2},
    {"the Content-Type header after Authorization", "POST", "tok", NO_OPTION, 3},
};

START_TEST(test_setup_fails)
{
    const struct setup_case *c = &setup_cases[_i];
    cn_http_t *http = client(1024);
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    apr_status_t rv;

    req.method = c->method;
    req.url = "https://provider.example/token";
    req.bearer = c->bearer;
    req.body = "grant_type=refresh_token";
    req.body_len = strlen(req.body);
    fake.body = "{}";
    fake.status = 200;
    fake.fail_option = c->option;
    fake.fail_nth = 1;
    fake.fail_append_nth = c->append;
    rv = http->perform(http, pool, &req, &resp);
    ck_assert_msg(rv == APR_EGENERAL, "%s: rv %d", c->name, rv);
    ck_assert_msg(resp.error && !strcmp(resp.error, "cannot configure the HTTP client"),
                  "%s: error %s", c->name, resp.error ? resp.error : "NULL");
    ck_assert_int_eq(resp.status, 0);
    ck_assert_ptr_null(resp.body);
    ck_assert_msg(c->option == NO_OPTION || fake.option_calls == 1, "%s: option set %d times",
                  c->name, fake.option_calls);
    ck_assert_msg(!c->append || fake.appends == c->append, "%s: %d appends", c->name,
                  fake.appends);
    ck_assert_msg(fake.performs == 0, "%s: performed", c->name);
    ck_assert_msg(fake.lists_alive == 0, "%s: a header list left behind", c->name);
    ck_assert_msg(fake.cleanups == 1, "%s: the handle was kept (%d cleanups)", c->name,
                  fake.cleanups);

    /* the next request takes a fresh handle and goes through */
    fake.fail_option = NO_OPTION;
    fake.fail_append_nth = 0;
    rv = http->perform(http, pool, &req, &resp);
    ck_assert_msg(rv == APR_SUCCESS, "%s: the next request failed: %s", c->name,
                  resp.error ? resp.error : "?");
    ck_assert_int_eq(resp.status, 200);
    ck_assert_int_eq(fake.inits, 2);
    ck_assert_int_eq(fake.lists_alive, 0);
}
END_TEST

/* A handle that cannot let go of the header list or the error buffer after
 * the transfer is not handed out again; the answer still counts. */
static const struct detach_case {
    const char *name;
    CURLoption option;
    int nth;
} detach_cases[] = {
    {"CURLOPT_HTTPHEADER to NULL", CURLOPT_HTTPHEADER, 2},
    {"CURLOPT_ERRORBUFFER to NULL", CURLOPT_ERRORBUFFER, 2},
};

START_TEST(test_detach_fails)
{
    const struct detach_case *c = &detach_cases[_i];
    cn_http_t *http = client(1024);
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    apr_status_t rv;

    req.method = "GET";
    req.url = "https://provider.example/userinfo";
    req.bearer = "tok";
    fake.body = "{\"sub\":\"1\"}";
    fake.status = 200;
    fake.fail_option = c->option;
    fake.fail_nth = c->nth;
    rv = http->perform(http, pool, &req, &resp);
    ck_assert_msg(rv == APR_SUCCESS, "%s: rv %d", c->name, rv);
    ck_assert_int_eq(fake.option_calls, 2);
    ck_assert_str_eq(resp.body, "{\"sub\":\"1\"}");
    ck_assert_msg(fake.lists_alive == 0, "%s: a header list left behind", c->name);
    ck_assert_msg(fake.cleanups == 1, "%s: the handle was kept", c->name);
}
END_TEST

/* A caller's own headers (a webhook's signature) go after Accept and
 * Authorization, in order; one that cannot be appended fails the request
 * like any other, leaving nothing behind. */
START_TEST(test_extra_headers)
{
    static const char *const extra[] = {"X-Connect-Signature: t=1,v1=ab", "Expect:", NULL};
    cn_http_t *http = client(1024);
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    req.method = "POST";
    req.url = "https://hooks.example/in";
    req.content_type = "application/json";
    req.body = "{}";
    req.body_len = 2;
    req.headers = extra;
    fake.body = "";
    fake.status = 200;
    ck_assert_int_eq(http->perform(http, pool, &req, &resp), APR_SUCCESS);
    ck_assert_int_eq(fake.nheaders, 4);
    ck_assert_str_eq(fake.headers[0], "Accept: application/json");
    ck_assert_str_eq(fake.headers[1], "X-Connect-Signature: t=1,v1=ab");
    ck_assert_str_eq(fake.headers[2], "Expect:");
    ck_assert_str_eq(fake.headers[3], "Content-Type: application/json");
    ck_assert_int_eq(fake.lists_alive, 0);

    fake.fail_append_nth = fake.appends + 3; /* the second of the caller's */
    ck_assert_int_eq(http->perform(http, pool, &req, &resp), APR_EGENERAL);
    ck_assert_str_eq(resp.error, "cannot configure the HTTP client");
    ck_assert_int_eq(fake.performs, 1);
    ck_assert_int_eq(fake.lists_alive, 0);
}
END_TEST

/* ---- what a request sets, what an answer becomes ------------------------ */

static const struct request_case {
    const char *name;
    const char *method, *bearer, *content_type, *body;
    const char *headers[4];   /* expected, in order */
    const char *postfields;   /* expected; NULL: not a POST */
    CURLcode rc;              /* what the transfer gives */
    const char *answer, *errmsg;
    apr_size_t max;
    apr_status_t rv;
    const char *error;        /* expected resp->error, or NULL */
} request_cases[] = {
    {"GET", "GET", NULL, NULL, NULL, {"Accept: application/json"}, NULL,
     CURLE_OK, "{\"a\":1}", NULL, 1024, APR_SUCCESS, NULL},
    {"GET with a bearer token", "GET", "at-123", NULL, NULL,
     {"Accept: application/json", "Authorization: Bearer at-123"}, NULL,
     CURLE_OK, "{}", NULL, 1024, APR_SUCCESS, NULL},
    {"POST of a form", "POST", NULL, NULL, "a=1&b=2",
     {"Accept: application/json", "Content-Type: application/x-www-form-urlencoded"}, "a=1&b=2",
     CURLE_OK, "{\"ok\":true}", NULL, 1024, APR_SUCCESS, NULL},
    {"POST of JSON with a bearer token", "POST", "at-9", "application/json", "{\"x\":1}",
     {"Accept: application/json", "Authorization: Bearer at-9",
      "Content-Type: application/json"}, "{\"x\":1}",
     CURLE_OK, "", NULL, 1024, APR_SUCCESS, NULL},
    {"POST without a body", "POST", NULL, NULL, NULL,
     {"Accept: application/json", "Content-Type: application/x-www-form-urlencoded"}, "",
     CURLE_OK, "{}", NULL, 1024, APR_SUCCESS, NULL},
    {"an answer of exactly the limit", "GET", NULL, NULL, NULL, {"Accept: application/json"},
     NULL, CURLE_OK, "0123456789abcdef", NULL, 16, APR_SUCCESS, NULL},
    {"an answer over the limit", "GET", NULL, NULL, NULL, {"Accept: application/json"}, NULL,
     CURLE_OK, "0123456789abcdefg", NULL, 16, APR_ENOSPC, "the answer exceeds the size limit"},
    {"a timeout", "POST", NULL, NULL, "a=1",
     {"Accept: application/json", "Content-Type: application/x-www-form-urlencoded"}, "a=1",
     CURLE_OPERATION_TIMEDOUT, NULL, "Operation timed out after 15000 milliseconds", 1024,
     APR_TIMEUP, "timed out"},
    {"no connection, libcurl's message", "GET", NULL, NULL, NULL, {"Accept: application/json"},
     NULL, CURLE_COULDNT_CONNECT, NULL, "Failed to connect to provider.example port 443", 1024,
     APR_EGENERAL, "Failed to connect to provider.example port 443"},
    {"no connection, no message", "GET", NULL, NULL, NULL, {"Accept: application/json"}, NULL,
     CURLE_COULDNT_RESOLVE_HOST, NULL, NULL, 1024, APR_EGENERAL, "Couldn't resolve host name"},
};

START_TEST(test_request)
{
    const struct request_case *c = &request_cases[_i];
    cn_http_t *http = client(c->max);
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    apr_status_t rv;
    int k, n = 0;

    req.method = c->method;
    req.url = "https://provider.example/x?y=1";
    req.bearer = c->bearer;
    req.content_type = c->content_type;
    req.body = c->body;
    req.body_len = c->body ? strlen(c->body) : 0;
    fake.perform_rc = c->rc;
    fake.body = c->answer;
    fake.errmsg = c->errmsg;
    fake.status = 201;
    fake.content_type = "application/json; charset=utf-8";
    rv = http->perform(http, pool, &req, &resp);
    ck_assert_msg(rv == c->rv, "%s: rv %d, expected %d", c->name, rv, c->rv);

    /* what the request set */
    ck_assert_str_eq(fake.url, "https://provider.example/x?y=1");
    ck_assert_str_eq(fake.protocols, "http,https");
    ck_assert_int_eq(fake.followlocation, 0);
    ck_assert_int_eq(fake.nosignal, 1);
    ck_assert_int_eq(fake.verifypeer, 1);
    ck_assert_int_eq(fake.verifyhost, 2);
    ck_assert_int_eq(fake.connect_ms, 5000);
    ck_assert_int_eq(fake.timeout_ms, 15000);
    ck_assert_str_eq(fake.cainfo, "/etc/mod_connect/test-ca.pem");
    ck_assert_str_eq(fake.useragent, "mod_connect");
    for (k = 0; k < 4 && c->headers[k]; ++k, ++n) {
        ck_assert_msg(k < fake.nheaders && !strcmp(fake.headers[k], c->headers[k]),
                      "%s: header %d is %s, expected %s", c->name, k,
                      k < fake.nheaders ? fake.headers[k] : "missing", c->headers[k]);
    }
    ck_assert_msg(fake.nheaders == n, "%s: %d headers, expected %d", c->name, fake.nheaders, n);
    if (c->postfields) {
        ck_assert_int_eq(fake.post, 1);
        ck_assert_str_eq(fake.postfields, c->postfields);
        ck_assert(fake.postsize_set && fake.postsize == (curl_off_t)strlen(c->postfields));
    }
    else {
        ck_assert_msg(!fake.post && !fake.postfields && !fake.postsize_set, "%s: POST options",
                      c->name);
    }

    /* what the answer became */
    if (c->rv == APR_SUCCESS) {
        ck_assert_ptr_null(resp.error);
        ck_assert_int_eq(resp.status, 201);
        ck_assert_str_eq(resp.body, c->answer);
        ck_assert_uint_eq(resp.body_len, strlen(c->answer));
        ck_assert_str_eq(resp.content_type, "application/json; charset=utf-8");
    }
    else {
        ck_assert_int_eq(resp.status, 0);
        ck_assert_ptr_null(resp.body);
        ck_assert_msg(resp.error && !strcmp(resp.error, c->error), "%s: error %s, expected %s",
                      c->name, resp.error ? resp.error : "NULL", c->error);
    }

    /* the handle goes back clean, and is kept */
    ck_assert_msg(fake.header_list_cleared, "%s: the handle still points at the headers", c->name);
    ck_assert_msg(fake.errbuf_cleared, "%s: the handle still points at the error buffer", c->name);
    ck_assert_int_eq(fake.lists_alive, 0);
    ck_assert_int_eq(fake.cleanups, 0);
    rv = http->perform(http, pool, &req, &resp);
    ck_assert_int_eq(fake.inits, 1); /* the same handle again */
    ck_assert_int_eq(fake.lists_alive, 0);
}
END_TEST

/* A request may ask for less than the client allows (a smaller answer, a
 * shorter time, another Accept header: autoconfig documents), never more. */
static const struct cap_case {
    const char *name;
    apr_size_t req_max;
    long req_timeout;
    const char *accept;
    const char *answer;
    apr_status_t rv;
    long timeout_ms, connect_ms;
    const char *accept_header;
} cap_cases[] = {
    {"a smaller size cap, met", 16, 0, NULL, "0123456789abcdef", APR_SUCCESS, 15000, 5000,
     "Accept: application/json"},
    {"a smaller size cap, exceeded", 16, 0, NULL, "0123456789abcdefg", APR_ENOSPC, 15000, 5000,
     "Accept: application/json"},
    {"a larger size cap is the client's", 4096, 0, NULL,
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefX", APR_ENOSPC, 15000,
     5000, "Accept: application/json"},
    {"a shorter time, the connection within it", 0, 3000, NULL, "{}", APR_SUCCESS, 3000, 3000,
     "Accept: application/json"},
    {"a shorter time, longer than the connection's", 0, 8000, NULL, "{}", APR_SUCCESS, 8000,
     5000, "Accept: application/json"},
    {"a longer time is the client's", 0, 60000, NULL, "{}", APR_SUCCESS, 15000, 5000,
     "Accept: application/json"},
    {"another Accept header", 0, 0, "application/xml, text/xml", "<a/>", APR_SUCCESS, 15000,
     5000, "Accept: application/xml, text/xml"},
};

START_TEST(test_request_caps)
{
    const struct cap_case *c = &cap_cases[_i];
    cn_http_t *http = client(64);
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    apr_status_t rv;
    req.method = "GET";
    req.url = "https://autoconfig.example/mail/config-v1.1.xml";
    req.max_response = c->req_max;
    req.timeout_ms = c->req_timeout;
    req.accept = c->accept;
    fake.body = c->answer;
    fake.status = 200;
    rv = http->perform(http, pool, &req, &resp);
    ck_assert_msg(rv == c->rv, "%s: rv %d, expected %d", c->name, rv, c->rv);
    ck_assert_int_eq(fake.timeout_ms, c->timeout_ms);
    ck_assert_int_eq(fake.connect_ms, c->connect_ms);
    ck_assert_int_eq(fake.nheaders, 1);
    ck_assert_str_eq(fake.headers[0], c->accept_header);
}
END_TEST

/* ---- a host a user chose ---------------------------------------------------- */

static const struct chosen_case {
    const char *name;
    const char *address;     /* where the transfer connects */
    const char *allow;       /* ConnectAllowAddresses, or NULL */
    apr_status_t rv;
    const char *error;       /* expected resp->error, or NULL */
} chosen_cases[] = {
    {"a public address", "93.184.215.14", NULL, APR_SUCCESS, NULL},
    {"a public IPv6 address", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", NULL, APR_SUCCESS, NULL},
    {"loopback", "127.0.0.1", NULL, APR_EACCES,
     "not connected: 127.0.0.1 is not a public address (loopback)"},
    {"the cloud's metadata service", "169.254.169.254", NULL, APR_EACCES,
     "not connected: 169.254.169.254 is not a public address (link-local)"},
    {"a private network", "10.20.30.40", NULL, APR_EACCES,
     "not connected: 10.20.30.40 is not a public address (private)"},
    {"IPv6 loopback", "::1", NULL, APR_EACCES, "not connected: ::1 is not a public address (loopback)"},
    {"loopback, IPv4-mapped", "::ffff:127.0.0.1", NULL, APR_EACCES,
     "not connected: ::ffff:127.0.0.1 is not a public address (loopback)"},
    {"loopback the operator allows", "127.0.0.1", "127.0.0.0/8", APR_SUCCESS, NULL},
    {"another private address than the one allowed", "10.0.0.1", "127.0.0.0/8", APR_EACCES,
     "not connected: 10.0.0.1 is not a public address (private)"},
};

/* A request to a host a user chose gets a handle of its own (no
 * connection or DNS entry of another request), no proxy, the addresses the
 * caller resolved, and the address rule on its socket: a refused address is
 * APR_EACCES, saying which, and nothing is connected. */
START_TEST(test_user_chosen)
{
    const struct chosen_case *c = &chosen_cases[_i];
    cn_http_t *http = client(1024);
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    apr_status_t rv;

    req.method = "GET";
    req.url = "https://autoconfig.user.example/mail/config-v1.1.xml";
    req.accept = "application/xml";
    req.user_chosen = 1;
    req.pinned = "autoconfig.user.example:443:192.0.2.7";
    if (c->allow) {
        apr_array_header_t *cidrs = apr_array_make(pool, 1, sizeof(const char *));
        cn_addr_allow_t *allow;
        APR_ARRAY_PUSH(cidrs, const char *) = c->allow;
        ck_assert_int_eq(cn_addr_allow_make(pool, cidrs, &allow, NULL), APR_SUCCESS);
        req.allow = allow;
    }
    fake.connect_to = c->address;
    fake.body = "<clientConfig/>";
    fake.status = 200;
    rv = http->perform(http, pool, &req, &resp);
    ck_assert_msg(rv == c->rv, "%s: rv %d, expected %d (%s)", c->name, rv, c->rv,
                  resp.error ? resp.error : "");
    ck_assert_ptr_nonnull(fake.opensocket);
    ck_assert_str_eq(fake.proxy, "");
    ck_assert_str_eq(fake.resolve, "autoconfig.user.example:443:192.0.2.7");
    ck_assert_int_eq(fake.sockets, c->rv == APR_SUCCESS);
    if (c->error) {
        ck_assert_msg(resp.error && !strcmp(resp.error, c->error), "%s: error %s", c->name,
                      resp.error ? resp.error : "NULL");
        ck_assert_int_eq(resp.status, 0);
    }
    else {
        ck_assert_ptr_null(resp.error);
        ck_assert_str_eq(resp.body, "<clientConfig/>");
    }
    /* its own handle, gone with its pinned addresses; the pooled one untouched */
    ck_assert_int_eq(fake.inits, 2);
    ck_assert_int_eq(fake.cleanups, 1);
    ck_assert_int_eq(fake.lists_alive, 0);

    /* the client's next ordinary request: the pooled handle, no address rule */
    fake.opensocket = NULL;
    fake.proxy = fake.resolve = NULL;
    fake.sockets = 0;
    req.user_chosen = 0;
    req.pinned = NULL;
    req.allow = NULL;
    ck_assert_int_eq(http->perform(http, pool, &req, &resp), APR_SUCCESS);
    ck_assert_ptr_null(fake.opensocket);
    ck_assert_ptr_null(fake.proxy);
    ck_assert_ptr_null(fake.resolve);
    ck_assert_int_eq(fake.inits, 2);
}
END_TEST

/* Setting up what a host a user chose adds can fail too: the request fails
 * unsent, its own handle and pinned addresses go, the pool's handle stays. */
static const struct chosen_setup_case {
    const char *name;
    CURLoption option;
    int append;
} chosen_setup_cases[] = {
    {"CURLOPT_OPENSOCKETFUNCTION", CURLOPT_OPENSOCKETFUNCTION, 0},
    {"CURLOPT_OPENSOCKETDATA", CURLOPT_OPENSOCKETDATA, 0},
    {"CURLOPT_PROXY", CURLOPT_PROXY, 0},
    {"CURLOPT_RESOLVE", CURLOPT_RESOLVE, 0},
    {"the pinned addresses' list", NO_OPTION, 2},
};

START_TEST(test_user_chosen_setup_fails)
{
    const struct chosen_setup_case *c = &chosen_setup_cases[_i];
    cn_http_t *http = client(1024);
    cn_http_request_t req = {0};
    cn_http_response_t resp;
    req.method = "GET";
    req.url = "https://autoconfig.user.example/x.xml";
    req.user_chosen = 1;
    req.pinned = "autoconfig.user.example:443:192.0.2.7";
    fake.fail_option = c->option;
    fake.fail_nth = 1;
    fake.fail_append_nth = c->append;
    ck_assert_int_eq(http->perform(http, pool, &req, &resp), APR_EGENERAL);
    ck_assert_str_eq(resp.error, "cannot configure the HTTP client");
    ck_assert_msg(fake.performs == 0, "%s: performed", c->name);
    ck_assert_int_eq(fake.inits, 2);
    ck_assert_msg(fake.cleanups == 1, "%s: %d cleanups", c->name, fake.cleanups);
    ck_assert_msg(fake.lists_alive == 0, "%s: a list left behind", c->name);
}
END_TEST

static Suite *http_curl_suite(void)
{
    Suite *s = suite_create("http_curl");
    TCase *tc;

    tc = cn_tcase("setup");
    tcase_add_checked_fixture(tc, curl_setup, curl_teardown);
    tcase_add_loop_test(tc, test_setup_fails, 0, N(setup_cases));
    tcase_add_loop_test(tc, test_detach_fails, 0, N(detach_cases));
    suite_add_tcase(s, tc);

    tc = cn_tcase("request");
    tcase_add_checked_fixture(tc, curl_setup, curl_teardown);
    tcase_add_loop_test(tc, test_request, 0, N(request_cases));
    tcase_add_test(tc, test_extra_headers);
    tcase_add_loop_test(tc, test_request_caps, 0, N(cap_cases));
    tcase_add_loop_test(tc, test_user_chosen, 0, N(chosen_cases));
    tcase_add_loop_test(tc, test_user_chosen_setup_fails, 0, N(chosen_setup_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(http_curl_suite());
}
