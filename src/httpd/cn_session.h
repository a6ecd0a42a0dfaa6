#ifndef CN_SESSION_H
#define CN_SESSION_H

#include <httpd.h>

#include "cn_util.h"

#define CN_SESSION_PREFIX "connect-"

int cn_session_functions_present(void);
/* The value of connect-KEY, opened with RING; NULL when unset, empty or not
 * sealed by this server. */
const char *cn_session_get(request_rec *r, const cn_keyring_t *ring, const char *key);
/* Seal VALUE under connect-KEY; VALUE NULL removes the key. */
apr_status_t cn_session_set(request_rec *r, const cn_keyring_t *ring, const char *key,
                            const char *value);

#endif
