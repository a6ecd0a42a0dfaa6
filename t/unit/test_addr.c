/* Unit tests of the address rule (src/core/util/addr.c, include/cn_util.h):
 * the kind of every special-purpose range of RFC 6890 and IANA's
 * registries, at its edges, IPv4 inside IPv6 (mapped, NAT64, 6to4), the
 * operator's exceptions (ConnectAllowAddresses) and what they permit; and
 * the rule on libcurl's sockets (src/core/proto/curl_guard.c) with real
 * connections to a listener on loopback: refused, nothing reaches it;
 * allowed, it is reached. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "cn_util.h"
#include "cn_proto.h"
#include "cn_test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the kinds of addresses -------------------------------------------------- */

static const struct kind_case {
    const char *addr;
    cn_addr_kind_t kind;
} kind_cases[] = {
    /* IPv4: public, and the edges of each special range */
    {"1.1.1.1", CN_ADDR_PUBLIC},
    {"8.8.8.8", CN_ADDR_PUBLIC},
    {"93.184.215.14", CN_ADDR_PUBLIC},
    {"0.0.0.0", CN_ADDR_UNSPECIFIED},
    {"0.255.255.255", CN_ADDR_UNSPECIFIED},
    {"1.0.0.0", CN_ADDR_PUBLIC},
    {"9.255.255.255", CN_ADDR_PUBLIC},
    {"10.0.0.0", CN_ADDR_PRIVATE},
    {"10.255.255.255", CN_ADDR_PRIVATE},
    {"11.0.0.0", CN_ADDR_PUBLIC},
    {"100.63.255.255", CN_ADDR_PUBLIC},
    {"100.64.0.0", CN_ADDR_SHARED},
    {"100.127.255.255", CN_ADDR_SHARED},
    {"100.128.0.0", CN_ADDR_PUBLIC},
    {"126.255.255.255", CN_ADDR_PUBLIC},
    {"127.0.0.1", CN_ADDR_LOOPBACK},
    {"127.0.0.2", CN_ADDR_LOOPBACK},
    {"127.255.255.254", CN_ADDR_LOOPBACK},
    {"128.0.0.0", CN_ADDR_PUBLIC},
    {"169.253.255.255", CN_ADDR_PUBLIC},
    {"169.254.0.0", CN_ADDR_LINK_LOCAL},
    {"169.254.169.254", CN_ADDR_LINK_LOCAL},
    {"169.255.0.0", CN_ADDR_PUBLIC},
    {"172.15.255.255", CN_ADDR_PUBLIC},
    {"172.16.0.0", CN_ADDR_PRIVATE},
    {"172.31.255.255", CN_ADDR_PRIVATE},
    {"172.32.0.0", CN_ADDR_PUBLIC},
    {"192.0.0.0", CN_ADDR_RESERVED},
    {"192.0.0.255", CN_ADDR_RESERVED},
    {"192.0.1.0", CN_ADDR_PUBLIC},
    {"192.0.2.0", CN_ADDR_DOCUMENTATION},
    {"192.0.2.255", CN_ADDR_DOCUMENTATION},
    {"192.0.3.0", CN_ADDR_PUBLIC},
    {"192.88.99.1", CN_ADDR_RESERVED},
    {"192.167.255.255", CN_ADDR_PUBLIC},
    {"192.168.0.0", CN_ADDR_PRIVATE},
    {"192.168.1.1", CN_ADDR_PRIVATE},
    {"192.168.255.255", CN_ADDR_PRIVATE},
    {"192.169.0.0", CN_ADDR_PUBLIC},
    {"198.17.255.255", CN_ADDR_PUBLIC},
    {"198.18.0.0", CN_ADDR_BENCHMARKING},
    {"198.19.255.255", CN_ADDR_BENCHMARKING},
    {"198.20.0.0", CN_ADDR_PUBLIC},
    {"198.51.100.7", CN_ADDR_DOCUMENTATION},
    {"203.0.113.9", CN_ADDR_DOCUMENTATION},
    {"203.0.114.0", CN_ADDR_PUBLIC},
    {"223.255.255.255", CN_ADDR_PUBLIC},
    {"224.0.0.0", CN_ADDR_MULTICAST},
    {"239.255.255.255", CN_ADDR_MULTICAST},
    {"240.0.0.0", CN_ADDR_RESERVED},
    {"255.255.255.254", CN_ADDR_RESERVED},
    {"255.255.255.255", CN_ADDR_BROADCAST},
    /* IPv6 */
    {"2606:4700:4700::1111", CN_ADDR_PUBLIC},
    {"2a00:1450:4001:80b::200e", CN_ADDR_PUBLIC},
    {"2000::", CN_ADDR_PUBLIC},
    {"3ffe:ffff::1", CN_ADDR_PUBLIC},
    {"::", CN_ADDR_UNSPECIFIED},
    {"::1", CN_ADDR_LOOPBACK},
    {"::2", CN_ADDR_RESERVED},
    {"::7f00:1", CN_ADDR_RESERVED},         /* IPv4-compatible, deprecated */
    {"fc00::", CN_ADDR_PRIVATE},
    {"fd12:3456:789a::1", CN_ADDR_PRIVATE},
    {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", CN_ADDR_PRIVATE},
    {"fe80::", CN_ADDR_LINK_LOCAL},
    {"fe80::1", CN_ADDR_LINK_LOCAL},
    {"febf:ffff::1", CN_ADDR_LINK_LOCAL},
    {"fec0::1", CN_ADDR_PRIVATE},
    {"feff::1", CN_ADDR_PRIVATE},
    {"ff02::1", CN_ADDR_MULTICAST},
    {"ff05::2", CN_ADDR_MULTICAST},
    {"2001:db8::1", CN_ADDR_DOCUMENTATION},
    {"2001:db8:ffff:ffff::", CN_ADDR_DOCUMENTATION},
    {"3fff::1", CN_ADDR_DOCUMENTATION},
    {"3fff:0fff::1", CN_ADDR_DOCUMENTATION},
    {"3fff:1000::1", CN_ADDR_PUBLIC},
    {"2001:2::1", CN_ADDR_BENCHMARKING},
    {"2001::1", CN_ADDR_RESERVED},           /* Teredo */
    {"2001:1ff::1", CN_ADDR_RESERVED},       /* the end of 2001::/23 */
    {"2001:200::1", CN_ADDR_PUBLIC},         /* past it */
    {"100::1", CN_ADDR_RESERVED},            /* discard-only */
    {"64:ff9b:1::1", CN_ADDR_RESERVED},      /* local-use NAT64 */
    {"4000::1", CN_ADDR_RESERVED},           /* outside 2000::/3 */
    {"1fff:ffff::1", CN_ADDR_RESERVED},
    {"5f00::1", CN_ADDR_RESERVED},
    /* IPv4 in IPv6: the IPv4 address's kind */
    {"::ffff:127.0.0.1", CN_ADDR_LOOPBACK},
    {"::ffff:7f00:1", CN_ADDR_LOOPBACK},
    {"::ffff:169.254.169.254", CN_ADDR_LINK_LOCAL},
    {"::ffff:10.1.2.3", CN_ADDR_PRIVATE},
    {"::ffff:0.0.0.0", CN_ADDR_UNSPECIFIED},
    {"::ffff:8.8.8.8", CN_ADDR_PUBLIC},
    {"64:ff9b::127.0.0.1", CN_ADDR_LOOPBACK},
    {"64:ff9b::a9fe:a9fe", CN_ADDR_LINK_LOCAL},
    {"64:ff9b::192.168.0.1", CN_ADDR_PRIVATE},
    {"64:ff9b::8.8.8.8", CN_ADDR_PUBLIC},
    {"2002:7f00:1::", CN_ADDR_LOOPBACK},
    {"2002:a00:1::1", CN_ADDR_PRIVATE},
    {"2002:a9fe:a9fe::1", CN_ADDR_LINK_LOCAL},
    {"2002:808:808::1", CN_ADDR_PUBLIC},
};

START_TEST(test_kind)
{
    const struct kind_case *c = &kind_cases[_i];
    cn_addr_kind_t kind = CN_ADDR_PUBLIC;
    ck_assert_msg(cn_addr_kind(c->addr, &kind) == APR_SUCCESS, "%s: not read", c->addr);
    ck_assert_msg(kind == c->kind, "%s: %s, expected %s", c->addr, cn_addr_kind_name(kind),
                  cn_addr_kind_name(c->kind));
}
END_TEST

/* The same from bytes, and what is neither IPv4 nor IPv6. */
START_TEST(test_kind_of_bytes)
{
    static const unsigned char v4[4] = {169, 254, 169, 254};
    static const unsigned char v6[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char pub[4] = {9, 9, 9, 9};
    ck_assert_int_eq(cn_addr_kind_of(AF_INET, v4), CN_ADDR_LINK_LOCAL);
    ck_assert_int_eq(cn_addr_kind_of(AF_INET6, v6), CN_ADDR_LINK_LOCAL);
    ck_assert_int_eq(cn_addr_kind_of(AF_INET, pub), CN_ADDR_PUBLIC);
    ck_assert_int_eq(cn_addr_kind_of(AF_UNIX, pub), CN_ADDR_RESERVED);
}
END_TEST

/* What is no numeric address: names, brackets, zones, shorthand, ports. */
static const char *const not_addresses[] = {
    "", "localhost", "example.com", "[::1]", "fe80::1%eth0", "127.1", "0x7f.0.0.1",
    "2130706433", "127.0.0.1:80", " 127.0.0.1", "127.0.0.1 ", "1.2.3.4.5", "256.0.0.1", ":::",
};

START_TEST(test_kind_refuses)
{
    cn_addr_kind_t kind;
    const char *why = NULL;
    ck_assert_msg(cn_addr_kind(not_addresses[_i], &kind) == APR_EINVAL, "'%s' was read",
                  not_addresses[_i]);
    ck_assert_int_eq(cn_addr_permitted(pool, NULL, not_addresses[_i], &why), APR_EINVAL);
    ck_assert_str_eq(why, "not a numeric IP address");
}
END_TEST

START_TEST(test_kind_null)
{
    cn_addr_kind_t kind;
    ck_assert_int_eq(cn_addr_kind(NULL, &kind), APR_EINVAL);
    ck_assert_int_eq(cn_addr_permitted(pool, NULL, NULL, NULL), APR_EINVAL);
}
END_TEST

START_TEST(test_kind_names)
{
    static const struct {
        cn_addr_kind_t kind;
        const char *name;
    } names[] = {
        {CN_ADDR_PUBLIC, "public"}, {CN_ADDR_UNSPECIFIED, "unspecified"},
        {CN_ADDR_LOOPBACK, "loopback"}, {CN_ADDR_PRIVATE, "private"},
        {CN_ADDR_SHARED, "shared, carrier-grade NAT"}, {CN_ADDR_LINK_LOCAL, "link-local"},
        {CN_ADDR_MULTICAST, "multicast"}, {CN_ADDR_BROADCAST, "broadcast"},
        {CN_ADDR_DOCUMENTATION, "documentation"}, {CN_ADDR_BENCHMARKING, "benchmarking"},
        {CN_ADDR_RESERVED, "reserved"},
    };
    apr_size_t i;
    for (i = 0; i < N(names); ++i) {
        ck_assert_str_eq(cn_addr_kind_name(names[i].kind), names[i].name);
    }
}
END_TEST

/* ---- the operator's exceptions -------------------------------------------------- */

static cn_addr_allow_t *allow_of(const char *list, apr_status_t want, const char **why)
{
    apr_array_header_t *cidrs = apr_array_make(pool, 4, sizeof(const char *));
    char *copy = apr_pstrdup(pool, list), *last, *tok;
    cn_addr_allow_t *allow = NULL;
    for (tok = apr_strtok(copy, " ", &last); tok; tok = apr_strtok(NULL, " ", &last)) {
        APR_ARRAY_PUSH(cidrs, const char *) = tok;
    }
    ck_assert_msg(cn_addr_allow_make(pool, cidrs, &allow, why) == want, "'%s'", list);
    return allow;
}

static const struct bad_allow_case {
    const char *entry;
    const char *why;
} bad_allow_cases[] = {
    {"localhost", "'localhost' is not ADDRESS[/BITS] (a numeric IPv4 or IPv6 address)"},
    {"10.1/16", "'10.1/16' is not ADDRESS[/BITS] (a numeric IPv4 or IPv6 address)"},
    {"10.0.0.0/", "'10.0.0.0/': the prefix length must be 1-32"},
    {"10.0.0.0/33", "'10.0.0.0/33': the prefix length must be 1-32"},
    {"10.0.0.0/-1", "'10.0.0.0/-1': the prefix length must be 1-32"},
    {"10.0.0.0/+8", "'10.0.0.0/+8': the prefix length must be 1-32"},
    {"10.0.0.0/8x", "'10.0.0.0/8x': the prefix length must be 1-32"},
    {"10.0.0.0/0008", "'10.0.0.0/0008': the prefix length must be 1-32"},
    {"0.0.0.0/0", "'0.0.0.0/0': the prefix length must be 1-32"},
    {"::/0", "'::/0': the prefix length must be 1-128"},
    {"10.0.0.0/255.0.0.0", "'10.0.0.0/255.0.0.0': the prefix length must be 1-32"},
    {"fd00::/129", "'fd00::/129': the prefix length must be 1-128"},
    {"[fd00::]/8", "'[fd00::]/8' is not ADDRESS[/BITS] (a numeric IPv4 or IPv6 address)"},
    {"fe80::1%eth0", "'fe80::1%eth0' is not ADDRESS[/BITS] (a numeric IPv4 or IPv6 address)"},
    {"", "'' is not ADDRESS[/BITS] (a numeric IPv4 or IPv6 address)"},
};

START_TEST(test_allow_refuses)
{
    const struct bad_allow_case *c = &bad_allow_cases[_i];
    const char *why = NULL;
    apr_array_header_t *cidrs = apr_array_make(pool, 2, sizeof(const char *));
    cn_addr_allow_t *allow;
    APR_ARRAY_PUSH(cidrs, const char *) = "127.0.0.0/8";
    APR_ARRAY_PUSH(cidrs, const char *) = c->entry;
    ck_assert_int_eq(cn_addr_allow_make(pool, cidrs, &allow, &why), APR_EINVAL);
    ck_assert_msg(why && !strcmp(why, c->why), "'%s': %s", c->entry, why ? why : "NULL");
}
END_TEST

START_TEST(test_allow_text)
{
    cn_addr_allow_t *allow = allow_of("127.0.0.0/8 10.1.2.0/24 fd00::/8 192.168.7.7", APR_SUCCESS,
                                      NULL);
    ck_assert_str_eq(cn_addr_allow_text(pool, allow), "127.0.0.0/8 10.1.2.0/24 fd00::/8 "
                                                      "192.168.7.7");
    ck_assert_str_eq(cn_addr_allow_text(pool, allow_of("", APR_SUCCESS, NULL)), "");
    ck_assert_str_eq(cn_addr_allow_text(pool, NULL), "");
}
END_TEST

/* What a connection chosen by a user may reach, with the exceptions ALLOW. */
static const struct permit_case {
    const char *allow;
    const char *addr;
    apr_status_t rv;
    const char *why;
} permit_cases[] = {
    {"", "8.8.8.8", APR_SUCCESS, NULL},
    {"", "2606:4700:4700::1111", APR_SUCCESS, NULL},
    {"", "::ffff:8.8.8.8", APR_SUCCESS, NULL},
    {"", "127.0.0.1", APR_EACCES, "127.0.0.1 is not a public address (loopback)"},
    {"", "0.0.0.0", APR_EACCES, "0.0.0.0 is not a public address (unspecified)"},
    {"", "169.254.169.254", APR_EACCES, "169.254.169.254 is not a public address (link-local)"},
    {"", "100.100.100.200", APR_EACCES,
     "100.100.100.200 is not a public address (shared, carrier-grade NAT)"},
    {"", "fd00:ec2::254", APR_EACCES, "fd00:ec2::254 is not a public address (private)"},
    {"", "::ffff:192.168.0.1", APR_EACCES, "::ffff:192.168.0.1 is not a public address (private)"},
    {"", "64:ff9b::7f00:1", APR_EACCES, "64:ff9b::7f00:1 is not a public address (loopback)"},
    {"", "224.0.0.1", APR_EACCES, "224.0.0.1 is not a public address (multicast)"},
    {"127.0.0.0/8", "127.0.0.1", APR_SUCCESS, NULL},
    {"127.0.0.0/8", "127.0.0.2", APR_SUCCESS, NULL},
    {"127.0.0.0/8", "::ffff:127.0.0.1", APR_SUCCESS, NULL},
    {"127.0.0.0/8", "::1", APR_EACCES, "::1 is not a public address (loopback)"},
    {"127.0.0.0/8", "10.0.0.1", APR_EACCES, "10.0.0.1 is not a public address (private)"},
    {"127.0.0.1", "127.0.0.1", APR_SUCCESS, NULL},
    {"127.0.0.1", "127.0.0.2", APR_EACCES, "127.0.0.2 is not a public address (loopback)"},
    {"10.1.2.0/24", "10.1.2.200", APR_SUCCESS, NULL},
    {"10.1.2.0/24", "10.1.3.1", APR_EACCES, "10.1.3.1 is not a public address (private)"},
    {"10.1.2.0/24 192.168.0.0/16", "192.168.44.1", APR_SUCCESS, NULL},
    {"::1", "::1", APR_SUCCESS, NULL},
    {"::1/128", "::2", APR_EACCES, "::2 is not a public address (reserved)"},
    {"fd00::/8", "fd12::1", APR_SUCCESS, NULL},
    {"fd00::/8", "fc00::1", APR_EACCES, "fc00::1 is not a public address (private)"},
    {"::ffff:10.0.0.0/104", "10.9.9.9", APR_SUCCESS, NULL},
    {"::ffff:10.0.0.0/104", "::ffff:10.9.9.9", APR_SUCCESS, NULL},
    {"::ffff:10.0.0.0/104", "11.0.0.1", APR_SUCCESS, NULL}, /* public anyway */
    {"128.0.0.0/1", "169.254.169.254", APR_SUCCESS, NULL},
    {"128.0.0.0/1", "127.0.0.1", APR_EACCES, "127.0.0.1 is not a public address (loopback)"},
    {"128.0.0.0/1", "fe80::1", APR_EACCES, "fe80::1 is not a public address (link-local)"},
};

START_TEST(test_permitted)
{
    const struct permit_case *c = &permit_cases[_i];
    cn_addr_allow_t *allow = allow_of(c->allow, APR_SUCCESS, NULL);
    const char *why = NULL;
    apr_status_t rv = cn_addr_permitted(pool, allow, c->addr, &why);
    ck_assert_msg(rv == c->rv, "%s with '%s': %d, expected %d (%s)", c->addr, c->allow, rv,
                  c->rv, why ? why : "");
    if (c->why) {
        ck_assert_msg(why && !strcmp(why, c->why), "%s: %s", c->addr, why ? why : "NULL");
    }
    /* no exceptions at all: only what is public */
    if (c->rv == APR_EACCES || !*c->allow) {
        ck_assert_int_eq(cn_addr_permitted(pool, NULL, c->addr, NULL), c->rv);
    }
}
END_TEST

/* ---- the rule on libcurl's sockets -------------------------------------------- */

/* A listener on loopback (FAMILY) that nobody accepts from: a connection to
 * it shows as a pending one. -1 when FAMILY is not there. */
static int listener(int family, int *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = socket(family, SOCK_STREAM, 0);
    memset(&ss, 0, sizeof(ss));
    if (fd < 0) {
        return -1;
    }
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*in);
    }
    else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        len = sizeof(*in6);
    }
    if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 8)
        || getsockname(fd, (struct sockaddr *)&ss, &len)) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                    : ((struct sockaddr_in6 *)&ss)->sin6_port);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Connections that reached FD (each accepted and closed). */
static int reached(int fd)
{
    struct pollfd p;
    int n = 0, c;
    p.fd = fd;
    p.events = POLLIN;
    while (poll(&p, 1, 200) > 0 && (c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        ++n;
    }
    return n;
}

/* URL with CURLOPT_CONNECT_ONLY through the rule with exceptions ALLOW; the
 * transfer's result, and the rule's word in *REFUSED. */
static CURLcode guarded_connect(const char *url, const char *allow_list, const char **refused)
{
    CURL *c = curl_easy_init();
    cn_curl_guard_t g;
    CURLcode rc;
    ck_assert_ptr_nonnull(c);
    g.pool = pool;
    g.allow = allow_of(allow_list, APR_SUCCESS, NULL);
    g.refused = "left over";
    ck_assert_int_eq(cn_curl_guard(c, &g), APR_SUCCESS);
    ck_assert_ptr_null(g.refused);
    ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_URL, url), CURLE_OK);
    ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L), CURLE_OK);
    ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L), CURLE_OK);
    ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
    rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    *refused = g.refused;
    return rc;
}

static const struct guard_case {
    const char *name;
    int family;
    const char *host;        /* in the URL; %d: the listener's port follows */
    const char *allow;
    int connects;
    const char *refused;     /* the rule's word; NULL: none */
} guard_cases[] = {
    {"127.0.0.1, no exceptions", AF_INET, "127.0.0.1", "", 0,
     "127.0.0.1 is not a public address (loopback)"},
    {"a name for it (localhost)", AF_INET, "localhost", "", 0, "is not a public address (loopback)"},
    {"127.0.0.1 with 127.0.0.0/8 allowed", AF_INET, "127.0.0.1", "127.0.0.0/8", 1, NULL},
    {"127.0.0.1 with another subnet allowed", AF_INET, "127.0.0.1", "10.0.0.0/8", 0,
     "127.0.0.1 is not a public address (loopback)"},
    {"[::1], no exceptions", AF_INET6, "[::1]", "", 0, "::1 is not a public address (loopback)"},
    {"[::1] allowed", AF_INET6, "[::1]", "::1/128", 1, NULL},
};

START_TEST(test_guard)
{
    const struct guard_case *c = &guard_cases[_i];
    const char *refused = NULL;
    int port = 0, fd = listener(c->family, &port);
    CURLcode rc;
    if (fd < 0) {
        return; /* no IPv6 loopback here */
    }
    rc = guarded_connect(apr_psprintf(pool, "http://%s:%d/", c->host, port), c->allow, &refused);
    ck_assert_msg(reached(fd) == c->connects, "%s: the listener was%s reached", c->name,
                  c->connects ? " not" : "");
    close(fd);
    if (c->connects) {
        ck_assert_msg(rc == CURLE_OK, "%s: %s", c->name, curl_easy_strerror(rc));
        ck_assert_ptr_null(refused);
    }
    else {
        ck_assert_msg(rc == CURLE_COULDNT_CONNECT, "%s: %s", c->name, curl_easy_strerror(rc));
        ck_assert_msg(refused && strstr(refused, c->refused), "%s: %s", c->name,
                      refused ? refused : "NULL");
    }
}
END_TEST

static void guard_setup(void)
{
    cn_test_pool_setup();
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
}

static void guard_teardown(void)
{
    curl_global_cleanup();
    cn_test_pool_teardown();
}

static Suite *addr_suite(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = cn_tcase("kinds");
    tcase_add_loop_test(tc, test_kind, 0, N(kind_cases));
    tcase_add_test(tc, test_kind_of_bytes);
    tcase_add_loop_test(tc, test_kind_refuses, 0, N(not_addresses));
    tcase_add_test(tc, test_kind_null);
    tcase_add_test(tc, test_kind_names);
    suite_add_tcase(s, tc);

    tc = cn_tcase("exceptions");
    tcase_add_loop_test(tc, test_allow_refuses, 0, N(bad_allow_cases));
    tcase_add_test(tc, test_allow_text);
    tcase_add_loop_test(tc, test_permitted, 0, N(permit_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("curl guard");
    tcase_add_checked_fixture(tc, guard_setup, guard_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_guard, 0, N(guard_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(addr_suite());
}
