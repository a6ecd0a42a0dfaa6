/* The address rule on libcurl's sockets: a connection a user (or DNS
 * answers a user's domain controls) chose goes only to a public address or
 * to one ConnectAllowAddresses names. The check sits where the socket is
 * opened, with the very address it will connect to, so neither a second
 * DNS answer (rebinding) nor a name that resolves to several addresses
 * slips past it. */
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <curl/curl.h>

#include "cn_proto.h"

/* The numeric text of A's address into TEXT, or 0 for a family we do not
 * connect to. */
static int address_text(const struct curl_sockaddr *a, char *text, apr_size_t len)
{
    struct sockaddr_storage ss;
    apr_size_t n = a->addrlen < sizeof(ss) ? a->addrlen : sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    /* libcurl's address is as long as its family needs (addrlen), though
     * declared a struct sockaddr */
    memcpy(&ss, &a->addr, n);
    if (a->family == AF_INET && n >= sizeof(struct sockaddr_in)) {
        return inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, len) != NULL;
    }
    if (a->family == AF_INET6 && n >= sizeof(struct sockaddr_in6)) {
        return inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, len) != NULL;
    }
    return 0;
}

static curl_socket_t guarded_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *a)
{
    cn_curl_guard_t *g = clientp;
    char text[INET6_ADDRSTRLEN];
    const char *why = NULL;
    if (purpose != CURLSOCKTYPE_IPCXN || !address_text(a, text, sizeof(text))) {
        g->refused = "an address that is not IPv4 or IPv6";
        return CURL_SOCKET_BAD;
    }
    if (cn_addr_permitted(g->pool, g->allow, text, &why) != APR_SUCCESS) {
        g->refused = why;
        return CURL_SOCKET_BAD;
    }
#ifdef SOCK_CLOEXEC
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
#else
    return socket(a->family, a->socktype, a->protocol);
#endif
}

apr_status_t cn_curl_guard(void *easy, cn_curl_guard_t *guard)
{
    guard->refused = NULL;
    if (curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, guarded_socket) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, guard) != CURLE_OK
        || curl_easy_setopt(easy, CURLOPT_PROXY, "") != CURLE_OK) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}
