/* mod_session glue: the flows of this browser, each one sealed value under
 * its own key (connect-flow-<8 hex of SHA-256(state)>). */
#ifndef CN_SESSION_H
#define CN_SESSION_H

#include <httpd.h>

#include "cn_flow.h"

/* mod_session's optional functions, looked up in post_config. */
int cn_session_functions_present(void);

/* Put FLOW into the browser's session (at most CN_FLOWS_PER_SESSION: the
 * oldest goes). APR_EGENERAL when the location has no session. */
apr_status_t cn_session_flow_put(request_rec *r, cn_ctx_t *ctx, const cn_flow_t *flow);

/* The sealed value under KEY, or NULL; TAKE removes it (single use). */
const char *cn_session_flow_get(request_rec *r, const char *key, int take);

/* Remove the flow under KEY (a launch that failed). */
void cn_session_flow_drop(request_rec *r, const char *key);

#endif
