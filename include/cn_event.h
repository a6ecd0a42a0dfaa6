/* Event codes of the Unified Auth API (seed 004, "Event Codes").
 * One table drives error envelopes, log lines and recorded events. */
#ifndef CN_EVENT_H
#define CN_EVENT_H

#include <apr_pools.h>

typedef struct cn_event_t {
    const char *type;     /* e.g. "grant_not_found" */
    int code;             /* event code, e.g. 25007 */
    int http_code;        /* 0 where the seed says N/A */
    const char *category; /* HTTP, Token, Grant, Integration, Provider */
    const char *message;  /* default message */
} cn_event_t;

/* The event for TYPE, or NULL when the type is not in the table. */
const cn_event_t *cn_event_by_type(const char *type);

/* The event for CODE, or NULL. */
const cn_event_t *cn_event_by_code(int code);

/* The whole table (for tests and documentation), terminated by a NULL type. */
const cn_event_t *cn_event_table(void);

/* A failure travelling up to where it becomes an answer: an event plus an
 * optional description that is safe to show (never a secret). */
typedef struct cn_result_t {
    const cn_event_t *event;
    const char *description;
} cn_result_t;

/* Fill R with the event TYPE and a description formatted into POOL (FMT may
 * be NULL for the default message); returns APR_EGENERAL so that callers can
 * write `return cn_fail(...)`. An unknown TYPE becomes internal_error. */
int cn_fail(apr_pool_t *pool, cn_result_t *r, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
