#ifndef CN_SESSION_H
#define CN_SESSION_H

#include <httpd.h>

#define CN_SESSION_PREFIX "connect-"

int cn_session_functions_present(void);
/* NULL when unset or empty. */
const char *cn_session_get(request_rec *r, const char *key);
/* VALUE NULL removes the key. */
apr_status_t cn_session_set(request_rec *r, const char *key, const char *value);

#endif
