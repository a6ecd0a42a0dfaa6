/* What sqlite_floor and dbd_floor share: the columns the module's
 * statements name (src/core/store/statements.c) for the code exchange's
 * reads and insert, the CPU time spent, and the tokens' random digests. */
#ifndef FLOOR_H
#define FLOOR_H

#include <stdio.h>
#include <sys/resource.h>

#define CODE_COLS                                                                         \
    "digest, app_id, grant_id, redirect_uri, scope, nonce, challenge, challenge_method, " \
    "offline, token_lifetime, auth_time, expires_at"
#define TOKEN_COLS \
    "digest, kind, app_id, grant_id, family, scope, lifetime, auth_time, expires_at, created_at"
#define GRANT_COLS                                                                        \
    "id, app_id, integration_id, provider, email, grant_status, scope, user_agent, ip, " \
    "state, provider_user_id, settings, refresh_token, access_token, access_expires_at, " \
    "created_at, updated_at, subject"


/* The CPU time (user + system) of WHO (RUSAGE_SELF, RUSAGE_CHILDREN), in seconds. */
static double floor_cpu(int who)
{
    struct rusage u;
    getrusage(who, &u);
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec
           + u.ru_stime.tv_usec / 1e6;
}

/* A random 64-hex-digit digest (xorshift: the digests' order is what
 * counts) from the state at SEED. */
static void floor_random_digest(unsigned long long *seed, char out[65])
{
    int i;
    for (i = 0; i < 4; ++i) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        snprintf(out + 16 * i, 17, "%016llx", *seed);
    }
}

#endif
