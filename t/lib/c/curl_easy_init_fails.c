/* Preloaded into a test httpd (t/no_http_client.t): libcurl cannot make an
 * easy handle, as when it runs out of memory at a child's start. */
#include <stddef.h>

void *curl_easy_init(void);

void *curl_easy_init(void)
{
    return NULL;
}
