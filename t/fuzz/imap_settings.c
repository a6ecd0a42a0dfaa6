/* libFuzzer target: the IMAP settings of POST /grants (provider imap) as
 * the core reads them, cn_imap_settings_read, then what it does before the
 * network: cn_imap_login_fill (the bundled provider table; no DNS) and
 * cn_imap_login_check. The input is the settings object's JSON text, parsed
 * as the module parses a body (jansson, duplicate keys refused, no NUL). */
#include <apr_strings.h>
#include <jansson.h>

#include "cn_flow.h"
#include "cn_proto.h"
#include "fuzz_common.h"

static int no_controls(const char *s)
{
    for (; *s; ++s) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *input = fuzz_input(data, size);
    cn_ctx_t ctx;
    cn_imap_login_t login;
    json_t *settings;
    apr_status_t rv;

    settings = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!settings) {
        return 0;
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.pool = fuzz_pool;
    rv = cn_imap_settings_read(&ctx, settings, &login);
    if (rv != APR_SUCCESS) {
        FUZZ_REQUIRE(ctx.res.event && ctx.res.event->id == CN_EV_INVALID_REQUEST_PAYLOAD, input);
        FUZZ_REQUIRE(ctx.res.description && *ctx.res.description, input);
        json_decref(settings);
        return 0;
    }
    /* what was read: a username and a password, a port in range, a known security */
    FUZZ_REQUIRE(login.username && *login.username && login.password && *login.password, input);
    FUZZ_REQUIRE(login.port >= 0 && login.port <= 65535, input);
    FUZZ_REQUIRE(!login.security || cn_imap_security_valid(login.security), input);

    rv = cn_imap_login_fill(&ctx, &login);
    if (rv == APR_SUCCESS) {
        FUZZ_REQUIRE(login.host && login.port >= 1 && login.port <= 65535, input);
        FUZZ_REQUIRE(cn_imap_security_valid(login.security), input);
        rv = cn_imap_login_check(&ctx, &login);
        if (rv == APR_SUCCESS) {
            /* what a LOGIN may be made with */
            FUZZ_REQUIRE(cn_imap_host_valid(login.host), input);
            FUZZ_REQUIRE(no_controls(login.username), input);
            FUZZ_REQUIRE(strlen(login.username) <= CN_IMAP_USERNAME_MAX, input);
            FUZZ_REQUIRE(strlen(login.password) <= CN_IMAP_PASSWORD_MAX, input);
            FUZZ_REQUIRE(strchr(login.email ? login.email : login.username, '@') != NULL, input);
            FUZZ_REQUIRE(cn_imap_subject(fuzz_pool, login.host, login.username) != NULL, input);
        }
    }
    if (rv != APR_SUCCESS) {
        FUZZ_REQUIRE(ctx.res.event && ctx.res.event->id == CN_EV_INVALID_REQUEST_PAYLOAD, input);
    }
    json_decref(settings);
    return 0;
}
