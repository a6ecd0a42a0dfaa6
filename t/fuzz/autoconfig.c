/* libFuzzer target: cn_autoconfig_parse, which reads the autoconfig
 * document whoever answers for a domain sent. Whatever the input, it
 * answers nothing or one IMAP server whose host is a DNS name, whose port
 * is 1-65535, whose security is ssl or starttls and whose login name is
 * printable and at most 254 bytes; and it never expands an entity or
 * reaches the network (libxml2 would need options it is not given). */
#include "cn_discover.h"
#include "fuzz_common.h"

static void check(const cn_mail_settings_t *ms, const char *input)
{
    const unsigned char *c;
    FUZZ_REQUIRE(ms->imap_host && cn_dns_name_valid(ms->imap_host), input);
    FUZZ_REQUIRE(ms->imap_port >= 1 && ms->imap_port <= 65535, input);
    FUZZ_REQUIRE(ms->security && (!strcmp(ms->security, CN_SECURITY_SSL)
                                  || !strcmp(ms->security, CN_SECURITY_STARTTLS)), input);
    FUZZ_REQUIRE(ms->username && *ms->username && strlen(ms->username) <= 254, input);
    for (c = (const unsigned char *)ms->username; *c; ++c) {
        FUZZ_REQUIRE(*c >= 0x20 && *c != 0x7f, input);
    }
    FUZZ_REQUIRE(!strcmp(ms->provider, "imap") && !strcmp(ms->source, "autoconfig"), input);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the bytes as they are (NULs included): the parser takes a length */
    const char *doc = fuzz_input(data, size), *why = NULL;
    cn_mail_settings_t *ms = NULL;
    apr_status_t rv;
    rv = cn_autoconfig_parse(fuzz_pool, doc, size, "ann.b@example.com", &ms);
    FUZZ_REQUIRE(rv == APR_SUCCESS || rv == APR_EINVAL || rv == APR_ENOSPC || rv == APR_NOTFOUND,
                 doc);
    FUZZ_REQUIRE((rv == APR_SUCCESS) == (ms != NULL), doc);
    if (ms) {
        check(ms, doc);
    }
    /* the domain form agrees, and says why when it refuses */
    rv = cn_autoconfig_parse_domain(fuzz_pool, doc, size, "example.com", &ms, &why);
    FUZZ_REQUIRE((rv == APR_SUCCESS) == (ms != NULL), doc);
    FUZZ_REQUIRE(rv == APR_SUCCESS || why != NULL, doc);
    return 0;
}
