/* Which addresses a connection chosen by a user (or by DNS answers a user's
 * domain controls) may go to: the kinds of IPv4 and IPv6 addresses, from
 * RFC 6890 and IANA's special-purpose address registries, and the
 * operator's exceptions (ConnectAllowAddresses) as APR subnets. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_network_io.h>

#include "cn_util.h"

/* An address range; an IPv6 range that carries an IPv4 address says where
 * (EMBEDDED: its byte offset; -1 otherwise). */
typedef struct range_t {
    unsigned char prefix[16];
    unsigned bits;
    cn_addr_kind_t kind;
    int embedded;
} range_t;

/* The first range that has the address decides; what none has is public. */
static const range_t v4_ranges[] = {
    {{255, 255, 255, 255}, 32, CN_ADDR_BROADCAST, -1},
    {{0}, 8, CN_ADDR_UNSPECIFIED, -1},      /* "this network" (RFC 1122) */
    {{10}, 8, CN_ADDR_PRIVATE, -1},
    {{100, 64}, 10, CN_ADDR_SHARED, -1},
    {{127}, 8, CN_ADDR_LOOPBACK, -1},
    {{169, 254}, 16, CN_ADDR_LINK_LOCAL, -1},
    {{172, 16}, 12, CN_ADDR_PRIVATE, -1},
    {{192, 0, 0}, 24, CN_ADDR_RESERVED, -1}, /* IETF protocol assignments */
    {{192, 0, 2}, 24, CN_ADDR_DOCUMENTATION, -1},
    {{192, 88, 99}, 24, CN_ADDR_RESERVED, -1}, /* 6to4 relays, deprecated (RFC 7526) */
    {{192, 168}, 16, CN_ADDR_PRIVATE, -1},
    {{198, 18}, 15, CN_ADDR_BENCHMARKING, -1},
    {{198, 51, 100}, 24, CN_ADDR_DOCUMENTATION, -1},
    {{203, 0, 113}, 24, CN_ADDR_DOCUMENTATION, -1},
    {{224}, 4, CN_ADDR_MULTICAST, -1},
    {{240}, 4, CN_ADDR_RESERVED, -1},        /* future use */
};

/* The first range that has the address decides; what none has is public
 * inside 2000::/3 (global unicast) and reserved outside it. */
static const range_t v6_ranges[] = {
    {{0}, 128, CN_ADDR_UNSPECIFIED, -1},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, CN_ADDR_LOOPBACK, -1},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, CN_ADDR_PUBLIC, 12}, /* IPv4-mapped */
    {{0, 0x64, 0xff, 0x9b}, 96, CN_ADDR_PUBLIC, 12},                    /* NAT64 (RFC 6052) */
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, CN_ADDR_RESERVED, -1},            /* local NAT64 (RFC 8215) */
    {{0x01}, 64, CN_ADDR_RESERVED, -1},                                 /* discard-only (RFC 6666) */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, CN_ADDR_DOCUMENTATION, -1},
    {{0x20, 0x01, 0, 0x02, 0, 0}, 48, CN_ADDR_BENCHMARKING, -1},
    {{0x20, 0x01}, 23, CN_ADDR_RESERVED, -1},   /* IETF protocol assignments, Teredo */
    {{0x20, 0x02}, 16, CN_ADDR_PUBLIC, 2},      /* 6to4 (RFC 3056) */
    {{0x3f, 0xff}, 20, CN_ADDR_DOCUMENTATION, -1}, /* RFC 9637 */
    {{0xfc}, 7, CN_ADDR_PRIVATE, -1},           /* unique local (RFC 4193) */
    {{0xfe, 0x80}, 10, CN_ADDR_LINK_LOCAL, -1},
    {{0xfe, 0xc0}, 10, CN_ADDR_PRIVATE, -1},    /* site-local, deprecated (RFC 3879) */
    {{0xff}, 8, CN_ADDR_MULTICAST, -1},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int in_range(const unsigned char *bytes, const range_t *r)
{
    unsigned full = r->bits / 8, rest = r->bits % 8;
    if (memcmp(bytes, r->prefix, full)) {
        return 0;
    }
    return !rest || ((bytes[full] ^ r->prefix[full]) & (unsigned char)(0xff << (8 - rest))) == 0;
}

static cn_addr_kind_t v4_kind(const unsigned char *b)
{
    apr_size_t i;
    for (i = 0; i < N(v4_ranges); ++i) {
        if (in_range(b, &v4_ranges[i])) {
            return v4_ranges[i].kind;
        }
    }
    return CN_ADDR_PUBLIC;
}

cn_addr_kind_t cn_addr_kind_of(int family, const unsigned char *bytes)
{
    apr_size_t i;
    if (family == AF_INET) {
        return v4_kind(bytes);
    }
    if (family != AF_INET6) {
        return CN_ADDR_RESERVED;
    }
    for (i = 0; i < N(v6_ranges); ++i) {
        if (in_range(bytes, &v6_ranges[i])) {
            return v6_ranges[i].embedded >= 0 ? v4_kind(bytes + v6_ranges[i].embedded)
                                              : v6_ranges[i].kind;
        }
    }
    return (bytes[0] & 0xe0) == 0x20 ? CN_ADDR_PUBLIC : CN_ADDR_RESERVED;
}

/* TEXT as the bytes of an address: *FAMILY AF_INET (4) or AF_INET6 (16). An
 * IPv4-mapped IPv6 address becomes the IPv4 address it is. */
static int address_parse(const char *text, int *family, unsigned char *bytes)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!text) {
        return 0;
    }
    if (inet_pton(AF_INET, text, bytes) == 1) {
        *family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, text, bytes) != 1) {
        return 0;
    }
    *family = AF_INET6;
    if (!memcmp(bytes, mapped, sizeof(mapped))) {
        memmove(bytes, bytes + 12, 4);
        *family = AF_INET;
    }
    return 1;
}

apr_status_t cn_addr_kind(const char *text, cn_addr_kind_t *out)
{
    unsigned char b[16];
    int family;
    if (!address_parse(text, &family, b)) {
        return APR_EINVAL;
    }
    *out = cn_addr_kind_of(family, b);
    return APR_SUCCESS;
}

const char *cn_addr_kind_name(cn_addr_kind_t kind)
{
    switch (kind) {
    case CN_ADDR_PUBLIC:
        return "public";
    case CN_ADDR_UNSPECIFIED:
        return "unspecified";
    case CN_ADDR_LOOPBACK:
        return "loopback";
    case CN_ADDR_PRIVATE:
        return "private";
    case CN_ADDR_SHARED:
        return "shared, carrier-grade NAT";
    case CN_ADDR_LINK_LOCAL:
        return "link-local";
    case CN_ADDR_MULTICAST:
        return "multicast";
    case CN_ADDR_BROADCAST:
        return "broadcast";
    case CN_ADDR_DOCUMENTATION:
        return "documentation";
    case CN_ADDR_BENCHMARKING:
        return "benchmarking";
    case CN_ADDR_RESERVED:
        break;
    }
    return "reserved";
}

/* ---- the operator's exceptions ------------------------------------------- */

struct cn_addr_allow_t {
    apr_array_header_t *subnets; /* apr_ipsubnet_t * */
    const char *text;            /* as configured */
};

static apr_status_t refuse(const char **why, const char *reason, apr_status_t rv)
{
    if (why) {
        *why = reason;
    }
    return rv;
}

/* One entry, "ADDRESS[/BITS]", strictly: a numeric address inet_pton reads
 * (no "10.1" shorthand, no netmask) and decimal bits. */
static apr_status_t subnet_make(apr_pool_t *pool, const char *cidr, apr_ipsubnet_t **out,
                                const char **why)
{
    const char *slash = strchr(cidr, '/');
    const char *ip = slash ? apr_pstrndup(pool, cidr, (apr_size_t)(slash - cidr)) : cidr;
    unsigned char b[16];
    char text[INET6_ADDRSTRLEN];
    int family, v6 = strchr(ip, ':') != NULL;
    long bits, max = v6 ? 128 : 32;
    char *end;

    if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, b) != 1) {
        return refuse(why, apr_psprintf(pool, "'%s' is not ADDRESS[/BITS] (a numeric IPv4 or "
                                        "IPv6 address)", cidr), APR_EINVAL);
    }
    bits = max;
    if (slash) {
        /* (not 0: APR has no subnet of everything, and the rule would be off) */
        if (!apr_isdigit(slash[1]) || strlen(slash + 1) > 3
            || (bits = strtol(slash + 1, &end, 10)) > max || bits < 1 || *end) {
            return refuse(why, apr_psprintf(pool, "'%s': the prefix length must be 1-%ld",
                                            cidr, max), APR_EINVAL);
        }
    }
    /* an IPv4-mapped subnet is the IPv4 subnet: addresses are checked in that form */
    if (v6 && bits >= 96 && address_parse(ip, &family, b) && family == AF_INET) {
        ip = inet_ntop(AF_INET, b, text, sizeof(text)) ? apr_pstrdup(pool, text) : ip;
        bits -= 96;
    }
    if (apr_ipsubnet_create(out, ip, apr_ltoa(pool, bits), pool) != APR_SUCCESS) {
        return refuse(why, apr_psprintf(pool, "'%s' is not a subnet APR takes", cidr),
                      APR_EINVAL);
    }
    return APR_SUCCESS;
}

apr_status_t cn_addr_allow_make(apr_pool_t *pool, const apr_array_header_t *cidrs,
                                cn_addr_allow_t **out, const char **why)
{
    cn_addr_allow_t *allow = apr_pcalloc(pool, sizeof(*allow));
    int i;
    allow->subnets = apr_array_make(pool, cidrs ? cidrs->nelts : 1, sizeof(apr_ipsubnet_t *));
    allow->text = "";
    for (i = 0; cidrs && i < cidrs->nelts; ++i) {
        const char *cidr = APR_ARRAY_IDX(cidrs, i, const char *);
        apr_ipsubnet_t *sub;
        apr_status_t rv = subnet_make(pool, cidr ? cidr : "", &sub, why);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(allow->subnets, apr_ipsubnet_t *) = sub;
        allow->text = apr_pstrcat(pool, allow->text, i ? " " : "", cidr, NULL);
    }
    *out = allow;
    return APR_SUCCESS;
}

const char *cn_addr_allow_text(apr_pool_t *pool, const cn_addr_allow_t *allow)
{
    return allow ? apr_pstrdup(pool, allow->text) : "";
}

/* 1 when one of ALLOW's subnets has the address of FAMILY at BYTES. */
static int allowed(apr_pool_t *pool, const cn_addr_allow_t *allow, int family,
                   const unsigned char *bytes)
{
    char text[INET6_ADDRSTRLEN];
    apr_sockaddr_t *sa;
    int i;
    if (!allow || !allow->subnets->nelts || !inet_ntop(family, bytes, text, sizeof(text))
        /* numeric: no name service is asked */
        || apr_sockaddr_info_get(&sa, text, family == AF_INET ? APR_INET : APR_INET6, 0, 0,
                                 pool) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < allow->subnets->nelts; ++i) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(allow->subnets, i, apr_ipsubnet_t *), sa)) {
            return 1;
        }
    }
    return 0;
}

apr_status_t cn_addr_permitted(apr_pool_t *pool, const cn_addr_allow_t *allow, const char *addr,
                               const char **why)
{
    unsigned char b[16];
    int family;
    cn_addr_kind_t kind;
    if (!address_parse(addr, &family, b)) {
        return refuse(why, "not a numeric IP address", APR_EINVAL);
    }
    kind = cn_addr_kind_of(family, b);
    if (kind == CN_ADDR_PUBLIC || allowed(pool, allow, family, b)) {
        return APR_SUCCESS;
    }
    return refuse(why, apr_psprintf(pool, "%s is not a public address (%s)", addr,
                                    cn_addr_kind_name(kind)), APR_EACCES);
}
