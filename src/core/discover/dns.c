/* DNS for discovery through c-ares: SRV, MX and address lookups, each a
 * synchronous call bounded by a deadline. A channel per call (the
 * configured name server, or the system's resolv.conf), so threads share
 * nothing; sockets are polled (no select, whose fd_set a busy httpd child's
 * descriptors would overflow). */
#include <string.h>
#include <poll.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <ares.h>

#include "cn_util.h"
#include "cn_discover.h"

/* Record types and class (RFC 1035, RFC 3596, RFC 2782). */
#define DNS_CLASS_IN 1
#define DNS_TYPE_A 1
#define DNS_TYPE_MX 15
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_SRV 33

typedef struct answer_t {
    apr_pool_t *pool;
    int done;
    int status;          /* ARES_* */
    unsigned char *buf;  /* the answer, on success */
    int len;
} answer_t;

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
    answer_t *a = arg;
    (void)timeouts;
    a->done = 1;
    a->status = status;
    if (status == ARES_SUCCESS && abuf && alen > 0) {
        a->buf = apr_pmemdup(a->pool, abuf, (apr_size_t)alen);
        a->len = alen;
    }
}

static apr_status_t channel_destroy(void *ch)
{
    ares_destroy(ch);
    return APR_SUCCESS;
}

static apr_status_t fail(const char **why, const char *reason, apr_status_t rv)
{
    if (why) {
        *why = reason;
    }
    return rv;
}

/* Ask for each of the N TYPES of NAME at once and wait until every answer
 * came or the deadline passed; ANSWERS[i] holds each outcome. */
static apr_status_t exchange(apr_pool_t *pool, const cn_discover_conf_t *conf, const char *name,
                             const int *types, int n, long timeout_ms, answer_t *answers,
                             const char **why)
{
    ares_channel ch;
    struct ares_options o;
    apr_time_t deadline;
    int i;

    if (timeout_ms < 1) {
        return fail(why, "no time left", APR_TIMEUP);
    }
    deadline = apr_time_now() + apr_time_from_msec(timeout_ms);
    memset(&o, 0, sizeof(o));
    /* two tries per server within the deadline */
    o.timeout = (int)(timeout_ms / 2 > 100 ? timeout_ms / 2 : 100);
    o.tries = 2;
    /* the name as given: no search domains, no HOSTALIASES */
    o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    if (ares_init_options(&ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS)
        != ARES_SUCCESS) {
        return fail(why, "cannot set up the resolver", APR_EGENERAL);
    }
    apr_pool_cleanup_register(pool, ch, channel_destroy, apr_pool_cleanup_null);
    if (conf && conf->dns_server && ares_set_servers_ports_csv(ch, conf->dns_server)
                                        != ARES_SUCCESS) {
        apr_pool_cleanup_run(pool, ch, channel_destroy);
        return fail(why, "the name server address is not usable", APR_EGENERAL);
    }
    for (i = 0; i < n; ++i) {
        memset(&answers[i], 0, sizeof(answers[i]));
        answers[i].pool = pool;
        ares_query(ch, name, DNS_CLASS_IN, types[i], on_answer, &answers[i]);
    }
    for (;;) {
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        struct pollfd pfd[ARES_GETSOCK_MAXNUM];
        struct timeval max, tv, *tvp;
        apr_time_t now = apr_time_now();
        unsigned bits;
        int nfds = 0, k, rc, pending = 0;
        long wait_ms;

        for (i = 0; i < n; ++i) {
            pending += !answers[i].done;
        }
        if (!pending) {
            break;
        }
        if (now >= deadline) {
            ares_cancel(ch); /* the callbacks run, with ARES_ECANCELLED */
            break;
        }
        bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
        for (k = 0; k < ARES_GETSOCK_MAXNUM; ++k) {
            /* ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit: the
             * same bits, read unsigned */
            short events = (short)(((bits >> k) & 1u ? POLLIN : 0)
                                   | ((bits >> (k + ARES_GETSOCK_MAXNUM)) & 1u ? POLLOUT : 0));
            if (events) {
                pfd[nfds].fd = socks[k];
                pfd[nfds].events = events;
                pfd[nfds].revents = 0;
                ++nfds;
            }
        }
        max.tv_sec = (long)apr_time_sec(deadline - now);
        max.tv_usec = (long)apr_time_usec(deadline - now);
        tvp = ares_timeout(ch, &max, &tv);
        wait_ms = (long)tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
        rc = poll(pfd, (nfds_t)nfds, (int)wait_ms);
        if (rc > 0) {
            for (k = 0; k < nfds; ++k) {
                if (pfd[k].revents) {
                    ares_process_fd(ch,
                                    pfd[k].revents & (POLLIN | POLLERR | POLLHUP)
                                        ? pfd[k].fd : ARES_SOCKET_BAD,
                                    pfd[k].revents & (POLLOUT | POLLERR) ? pfd[k].fd
                                                                         : ARES_SOCKET_BAD);
                }
            }
        }
        else {
            ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* retries, timeouts */
        }
    }
    apr_pool_cleanup_run(pool, ch, channel_destroy);
    return APR_SUCCESS;
}

/* What an answer's c-ares status means to the caller. */
static apr_status_t outcome(int status, const char **why)
{
    switch (status) {
    case ARES_SUCCESS:
        return APR_SUCCESS;
    case ARES_ENOTFOUND:
    case ARES_ENODATA:
        return fail(why, "no such record", APR_NOTFOUND);
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION:
        return fail(why, "no answer in time", APR_TIMEUP);
    default:
        return fail(why, ares_strerror(status), APR_EGENERAL);
    }
}

static int name_ok(const char *name)
{
    return name && *name && strlen(name) <= 253;
}

apr_status_t cn_dns_srv(apr_pool_t *pool, const cn_discover_conf_t *conf, const char *name,
                        long timeout_ms, apr_array_header_t **out, const char **why)
{
    static const int types[] = {DNS_TYPE_SRV};
    answer_t a;
    struct ares_srv_reply *srv = NULL, *r;
    apr_status_t rv;
    int status;

    *out = apr_array_make(pool, 2, sizeof(cn_dns_srv_t));
    if (!name_ok(name)) {
        return fail(why, "not a DNS name", APR_EINVAL);
    }
    if ((rv = exchange(pool, conf, name, types, 1, timeout_ms, &a, why)) != APR_SUCCESS
        || (rv = outcome(a.status, why)) != APR_SUCCESS) {
        return rv;
    }
    if ((status = ares_parse_srv_reply(a.buf, a.len, &srv)) != ARES_SUCCESS) {
        return outcome(status == ARES_ENODATA ? status : ARES_EBADRESP, why);
    }
    for (r = srv; r; r = r->next) {
        cn_dns_srv_t *s = apr_array_push(*out);
        s->target = apr_pstrdup(pool, r->host ? r->host : "");
        s->port = r->port;
        s->priority = r->priority;
        s->weight = r->weight;
    }
    ares_free_data(srv);
    return (*out)->nelts ? APR_SUCCESS : fail(why, "no such record", APR_NOTFOUND);
}

apr_status_t cn_dns_mx(apr_pool_t *pool, const cn_discover_conf_t *conf, const char *name,
                       long timeout_ms, apr_array_header_t **out, const char **why)
{
    static const int types[] = {DNS_TYPE_MX};
    answer_t a;
    struct ares_mx_reply *mx = NULL, *r;
    apr_status_t rv;
    int status, i, j;

    *out = apr_array_make(pool, 2, sizeof(cn_dns_mx_t));
    if (!name_ok(name)) {
        return fail(why, "not a DNS name", APR_EINVAL);
    }
    if ((rv = exchange(pool, conf, name, types, 1, timeout_ms, &a, why)) != APR_SUCCESS
        || (rv = outcome(a.status, why)) != APR_SUCCESS) {
        return rv;
    }
    if ((status = ares_parse_mx_reply(a.buf, a.len, &mx)) != ARES_SUCCESS) {
        return outcome(status == ARES_ENODATA ? status : ARES_EBADRESP, why);
    }
    for (r = mx; r; r = r->next) {
        cn_dns_mx_t *m = apr_array_push(*out);
        m->host = apr_pstrdup(pool, r->host ? r->host : "");
        m->preference = r->priority;
    }
    ares_free_data(mx);
    /* by preference, in answer order on a tie (an insertion sort: a few records) */
    for (i = 1; i < (*out)->nelts; ++i) {
        cn_dns_mx_t m = APR_ARRAY_IDX(*out, i, cn_dns_mx_t);
        for (j = i; j > 0 && APR_ARRAY_IDX(*out, j - 1, cn_dns_mx_t).preference > m.preference;
             --j) {
            APR_ARRAY_IDX(*out, j, cn_dns_mx_t) = APR_ARRAY_IDX(*out, j - 1, cn_dns_mx_t);
        }
        APR_ARRAY_IDX(*out, j, cn_dns_mx_t) = m;
    }
    return (*out)->nelts ? APR_SUCCESS : fail(why, "no such record", APR_NOTFOUND);
}

apr_status_t cn_dns_addrs(apr_pool_t *pool, const cn_discover_conf_t *conf, const char *name,
                          long timeout_ms, apr_array_header_t **out, const char **why)
{
    static const int types[] = {DNS_TYPE_A, DNS_TYPE_AAAA};
    answer_t a[2];
    apr_status_t rv, first = APR_SUCCESS;
    char text[INET6_ADDRSTRLEN];
    int i, k;

    *out = apr_array_make(pool, 4, sizeof(const char *));
    if (!name_ok(name)) {
        return fail(why, "not a DNS name", APR_EINVAL);
    }
    if ((rv = exchange(pool, conf, name, types, 2, timeout_ms, a, why)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < 2; ++i) {
        if ((rv = outcome(a[i].status, why)) != APR_SUCCESS) {
            if (first == APR_SUCCESS || first == APR_NOTFOUND) {
                first = rv; /* a failure says more than "no such record" */
            }
            continue;
        }
        if (types[i] == DNS_TYPE_A) {
            struct ares_addrttl ttls[16];
            int n = 16;
            if (ares_parse_a_reply(a[i].buf, a[i].len, NULL, ttls, &n) != ARES_SUCCESS) {
                continue;
            }
            for (k = 0; k < n; ++k) {
                if (inet_ntop(AF_INET, &ttls[k].ipaddr, text, sizeof(text))) {
                    APR_ARRAY_PUSH(*out, const char *) = apr_pstrdup(pool, text);
                }
            }
        }
        else {
            struct ares_addr6ttl ttls[16];
            int n = 16;
            if (ares_parse_aaaa_reply(a[i].buf, a[i].len, NULL, ttls, &n) != ARES_SUCCESS) {
                continue;
            }
            for (k = 0; k < n; ++k) {
                if (inet_ntop(AF_INET6, &ttls[k].ip6addr, text, sizeof(text))) {
                    APR_ARRAY_PUSH(*out, const char *) = apr_pstrdup(pool, text);
                }
            }
        }
    }
    if ((*out)->nelts) {
        return APR_SUCCESS;
    }
    return first != APR_SUCCESS ? first : fail(why, "no such record", APR_NOTFOUND);
}

const cn_dns_srv_t *cn_dns_srv_pick(const apr_array_header_t *records)
{
    const cn_dns_srv_t *best = NULL;
    int i;
    for (i = 0; records && i < records->nelts; ++i) {
        const cn_dns_srv_t *s = &APR_ARRAY_IDX(records, i, cn_dns_srv_t);
        if (!best || s->priority < best->priority
            || (s->priority == best->priority && s->weight > best->weight)) {
            best = s;
        }
    }
    return best;
}
