/* Unit tests of include/cn_event.h: the event table of seed 004, look-ups by
 * type and by code, and cn_fail(). */
#include <apr_strings.h>

#include "cn_util.h"
#include "cn_test.h"

/* Specific events of the seed; http -1: not checked here. */
static const struct known_event {
    const char *type;
    int code;
    int http;
} known[] = {
    {"invalid_request_payload", 700, 400},
    {"redirect_uri_not_allowed", 25003, 400},
    {"login_id_invalid", 25004, -1},
    {"grant_not_found", 25007, 404},
    {"integration_already_exists", 35008, 400},
    {"integration_not_found", 35004, 404},
    {"provider_not_supported", 31005, 400},
    {"credential_already_exists", 35011, -1},
    {"credential_missing_param", 35012, -1},
    {"oauth_failed", 45002, -1},
    {"scopes_conflict", 25016, 0},
    {"grant_reauthenticated", 25027, 0},
    {"internal_error", 500, 500},
    {"bad_request", 400, 400},
};

static int table_size(void)
{
    const cn_event_t *e;
    int n = 0;
    for (e = cn_event_table(); e->type; ++e) {
        ++n;
    }
    return n;
}

START_TEST(test_known_events)
{
    const struct known_event *k = &known[_i];
    const cn_event_t *by_type = cn_event_by_type(k->type), *by_code = cn_event_by_code(k->code);
    ck_assert_msg(by_type != NULL, "event type %s not found", k->type);
    ck_assert_msg(by_code != NULL, "event code %d not found", k->code);
    ck_assert_ptr_eq(by_type, by_code);
    ck_assert_str_eq(by_type->type, k->type);
    ck_assert_int_eq(by_type->code, k->code);
    if (k->http >= 0) {
        ck_assert_msg(by_type->http_code == k->http, "%s: http %d, expected %d", k->type,
                      by_type->http_code, k->http);
    }
}
END_TEST

/* Every entry of the table is found by its type and by its code, and is
 * well-formed. */
START_TEST(test_table_lookup_all)
{
    const cn_event_t *e;
    static const char *const categories[] = {"HTTP", "Token", "Grant", "Integration",
                                             "Provider", NULL};
    ck_assert_int_ge(table_size(), 60); /* the seed lists 60 events */
    for (e = cn_event_table(); e->type; ++e) {
        const char *const *c;
        int cat_ok = 0;
        ck_assert_msg(cn_event_by_type(e->type) == e, "by_type(%s) is another entry", e->type);
        ck_assert_msg(cn_event_by_code(e->code) == e, "by_code(%d) is another entry", e->code);
        ck_assert_msg(*e->type != '\0', "empty type for code %d", e->code);
        ck_assert_msg(e->type[strspn(e->type, "abcdefghijklmnopqrstuvwxyz_0123456789")] == '\0',
                      "type %s is not snake_case", e->type);
        ck_assert_msg(e->code > 0, "%s: code %d", e->type, e->code);
        ck_assert_msg(e->http_code == 0 || (e->http_code >= 200 && e->http_code <= 599),
                      "%s: http code %d", e->type, e->http_code);
        ck_assert_msg(e->message && *e->message, "%s: no message", e->type);
        ck_assert_ptr_nonnull(e->category);
        for (c = categories; *c; ++c) {
            cat_ok |= !strcmp(*c, e->category);
        }
        ck_assert_msg(cat_ok, "%s: unknown category %s", e->type, e->category);
    }
}
END_TEST

START_TEST(test_table_unique)
{
    const cn_event_t *a, *b;
    for (a = cn_event_table(); a->type; ++a) {
        for (b = a + 1; b->type; ++b) {
            ck_assert_msg(a->code != b->code, "code %d used by %s and %s", a->code, a->type,
                          b->type);
            ck_assert_msg(strcmp(a->type, b->type) != 0, "type %s listed twice", a->type);
        }
    }
}
END_TEST

START_TEST(test_lookup_unknown)
{
    ck_assert_ptr_null(cn_event_by_type("no_such_event"));
    ck_assert_ptr_null(cn_event_by_type(""));
    ck_assert_ptr_null(cn_event_by_type(NULL));
    ck_assert_ptr_null(cn_event_by_type("GRANT_NOT_FOUND"));
    ck_assert_ptr_null(cn_event_by_type("grant_not_foun"));
    ck_assert_ptr_null(cn_event_by_code(0)); /* the terminator's code */
    ck_assert_ptr_null(cn_event_by_code(-1));
    ck_assert_ptr_null(cn_event_by_code(99999));
    ck_assert_ptr_null(cn_event_by_code(25019)); /* a gap in the seed's numbering */
}
END_TEST

START_TEST(test_fail_with_description)
{
    cn_result_t r = {0};
    apr_status_t rv = cn_fail(pool, &r, CN_EV_GRANT_NOT_FOUND, "grant %s of %d", "g-1", 42);
    ck_assert_int_eq(rv, APR_EGENERAL);
    ck_assert_int_eq(r.status, APR_EGENERAL);
    ck_assert_ptr_eq(r.event, cn_event_by_type("grant_not_found"));
    ck_assert_int_eq(r.event->id, CN_EV_GRANT_NOT_FOUND);
    ck_assert_int_eq(r.event->code, 25007);
    ck_assert_int_eq(r.event->http_code, 404);
    ck_assert_ptr_nonnull(r.description);
    ck_assert_str_eq(r.description, "grant g-1 of 42");
}
END_TEST

START_TEST(test_fail_keeps_the_cause)
{
    cn_result_t r = {0};
    ck_assert_int_eq(cn_fail_rv(pool, &r, APR_TIMEUP, CN_EV_PROVIDER_NOT_RESPONDING, "slow"),
                     APR_TIMEUP);
    ck_assert_int_eq(r.status, APR_TIMEUP);
    ck_assert_str_eq(r.event->type, "provider_not_responding");
    /* a "failure" with APR_SUCCESS as its cause is still a failure */
    ck_assert_int_eq(cn_fail_rv(pool, &r, APR_SUCCESS, CN_EV_BAD_REQUEST, NULL), APR_EGENERAL);
}
END_TEST

START_TEST(test_fail_default_message)
{
    cn_result_t r = {0, NULL, "stale description", 30};
    ck_assert_int_eq(cn_fail(pool, &r, CN_EV_INTEGRATION_NOT_FOUND, NULL), APR_EGENERAL);
    ck_assert_ptr_nonnull(r.event);
    ck_assert_str_eq(r.event->type, "integration_not_found");
    ck_assert_int_eq(r.event->code, 35004);
    ck_assert_ptr_null(r.description);
    ck_assert_int_eq(r.retry_after, 0); /* a stale Retry-After goes too */
}
END_TEST

/* Every id names its own row: the table is indexed by the enum. */
START_TEST(test_ids_index_the_table)
{
    int i;
    for (i = 0; i < CN_EV__COUNT; ++i) {
        const cn_event_t *e = cn_event((cn_event_id_t)i);
        ck_assert_msg(e->type != NULL, "event id %d has no row", i);
        ck_assert_int_eq(e->id, i);
        ck_assert_ptr_eq(cn_event_by_type(e->type), e);
    }
    ck_assert_ptr_eq(cn_event_table()[CN_EV__COUNT].type, NULL);
    ck_assert_str_eq(cn_event(CN_EV__COUNT)->type, "internal_error");
    ck_assert_str_eq(cn_event((cn_event_id_t)-1)->type, "internal_error");
}
END_TEST

START_TEST(test_fail_description_in_pool)
{
    /* The description is formatted into POOL, not kept as the caller's buffer. */
    cn_result_t r = {0};
    char buf[32];
    apr_cpystrn(buf, "original", sizeof(buf));
    cn_fail(pool, &r, CN_EV_BAD_REQUEST, "%s", buf);
    apr_cpystrn(buf, "changed", sizeof(buf));
    ck_assert_str_eq(r.description, "original");
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc;

    tc = cn_tcase("table");
    tcase_add_loop_test(tc, test_known_events, 0, N(known));
    tcase_add_test(tc, test_table_lookup_all);
    tcase_add_test(tc, test_table_unique);
    tcase_add_test(tc, test_lookup_unknown);
    suite_add_tcase(s, tc);

    tc = cn_tcase("fail");
    tcase_add_test(tc, test_fail_with_description);
    tcase_add_test(tc, test_fail_default_message);
    tcase_add_test(tc, test_fail_keeps_the_cause);
    tcase_add_test(tc, test_ids_index_the_table);
    tcase_add_test(tc, test_fail_description_in_pool);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return cn_test_main(event_suite());
}
