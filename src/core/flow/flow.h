/* Private to the flow engine: the rows its tables hold. */
#ifndef CN_FLOW_PRIVATE_H
#define CN_FLOW_PRIVATE_H

#include "cn_flow.h"

/* flow/hosted.c: server-side hosted authentication (POST /auth, /login). */
extern const cn_flow_kind_t cn_flow_kind_hosted;

/* flow/oauth2.c: the provider's OAuth 2.0 authorization code, with PKCE. */
extern const cn_flow_step_t cn_flow_step_oauth2;

#endif
