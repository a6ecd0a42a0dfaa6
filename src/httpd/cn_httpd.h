/* Private header of the httpd glue. */
#ifndef CN_HTTPD_H
#define CN_HTTPD_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_tables.h>

#include "cn_util.h"
#include "cn_store.h"
#include "cn_model.h"
#include "cn_proto.h"
#include "cn_discover.h"
#include "cn_template.h"
#include "cn_webhook.h"

/* So that `LogLevel connect:debug` works. */
APLOG_USE_MODULE(connect);
extern module AP_MODULE_DECLARE_DATA connect_module;

/* Directive names, defined once. */
#define CN_DIR_BASE_URL "ConnectBaseURL"
#define CN_DIR_KEY "ConnectEncryptionKey"
#define CN_DIR_SIGNING_KEY "ConnectSigningKey"
#define CN_DIR_APPLICATION "ConnectApplication"
#define CN_DIR_ENDPOINT "ConnectProviderEndpoint"
#define CN_DIR_CA_FILE "ConnectCAFile"
#define CN_DIR_MAX_BODY "ConnectMaxBody"
#define CN_DIR_REKEY "ConnectReencrypt"
#define CN_DIR_PROVIDER_TIMEOUT "ConnectProviderTimeout"
#define CN_DIR_CACHE "ConnectCache"
#define CN_DIR_TEMPLATE_DIR "ConnectTemplateDir"
#define CN_DIR_TEMPLATE_PREVIEW "ConnectTemplatePreview"
#define CN_DIR_IMAP_TIMEOUT "ConnectIMAPTimeout"
#define CN_DIR_IMAP_ALLOW_PLAIN "ConnectIMAPAllowPlain"
#define CN_DIR_DNS_SERVER "ConnectDNSServer"
#define CN_DIR_AUTOCONFIG_URL "ConnectAutoconfigURL"
#define CN_DIR_GUESS_PORT "ConnectDiscoveryGuessPort"
#define CN_DIR_DISCOVERY_TIMEOUT "ConnectDiscoveryTimeout"
#define CN_DIR_ALLOW_ADDRESSES "ConnectAllowAddresses"
#define CN_DIR_PURGE_INTERVAL "ConnectPurgeInterval"
#define CN_DIR_EVENT_RETENTION "ConnectEventRetention"
#define CN_DIR_REFRESH_INTERVAL "ConnectRefreshInterval"
#define CN_DIR_REFRESH_UNUSED_DAYS "ConnectRefreshUnusedDays"
#define CN_DIR_JOB_LEASE "ConnectJobLease"
#define CN_DIR_PURGE_BATCH "ConnectPurgeBatch"
#define CN_DIR_WEBHOOK_URL "ConnectWebhookURL"
#define CN_DIR_WEBHOOK_INTERVAL "ConnectWebhookInterval"
#define CN_DIR_WEBHOOK_BACKOFF "ConnectWebhookBackoff"
#define CN_DIR_WEBHOOK_TIMEOUT "ConnectWebhookTimeout"

/* The default mechanism of the module's mutexes (connect-db, connect-cache;
 * httpd's Mutex directive overrides it): fcntl() locks where there are. The
 * platform default on Linux is a robust priority-inheritance pthread mutex,
 * whose contended hand-offs go through the kernel each time: with every
 * request of a signed API taking the cache's mutex, fcntl answered about
 * 30% more of them (README, Speed). */
#if APR_HAS_FCNTL_SERIALIZE
#define CN_LOCK_MECH APR_LOCK_FCNTL
#else
#define CN_LOCK_MECH APR_LOCK_DEFAULT
#endif

#define CN_HANDLER "connect"
#define CN_V3_HANDLER "connect-v3" /* the same API in the Nylas v3 layout */
#define CN_METRICS_HANDLER "connect-metrics"
#define CN_HANDLER_CIO "contextio" /* the Context.IO 2.0 API */
#define CN_REQUEST_ID_HEADER "X-Request-Id"
#define CN_DEFAULT_MAX_BODY (64 * 1024)
#define CN_DEFAULT_PROVIDER_TIMEOUT 15
#define CN_DEFAULT_IMAP_TIMEOUT 10
#define CN_DEFAULT_PURGE_INTERVAL 3600 /* seconds */
#define CN_DEFAULT_EVENT_RETENTION 30  /* days */
#define CN_DEFAULT_REFRESH_INTERVAL 3600 /* seconds */
#define CN_DEFAULT_REFRESH_UNUSED_DAYS 30 /* days; Google drops a refresh token after 180 */
#define CN_DEFAULT_JOB_LEASE 600       /* seconds */
/* Rendered grants kept per process for lists (a few MiB at most). */
#define CN_GRANT_CACHE_ENTRIES 4096


typedef struct cn_app_t {
    const char *client_id;
    const char *secret_source; /* file:PATH or env:VAR */
    unsigned char secret_digest[32];
    apr_table_t *options;      /* name=value options after the source */
    /* From the options, checked in post_config: what the hosted pages show. */
    const char *display_name;  /* name=, default the client id */
    const char *logo;          /* logo= (an https URL), or NULL */
    const char *logo_origin;   /* its origin, for the pages' img-src */
    const char *color;         /* color= "#rrggbb", or NULL */
    const char *theme_asset;   /* the stylesheet of that colour ("theme-<hash>.css"), or NULL */
    cn_webhook_target_t *webhook; /* webhook_url= and webhook_secret=, or NULL */
    /* The Context.IO API checks HMAC-SHA1 signatures keyed with the secret
     * itself (RFC 5849 §3.4.2): it is kept for that, and only that. */
    const char *oauth1_secret;
    int three_legged;          /* three_legged=on: accounts sign with their own tokens */
} cn_app_t;

/* The hosted pages of a server: compiled templates and the files served
 * under <mount>/assets/ (page.c). Built in post_config. */
typedef struct cn_pages_t cn_pages_t;

typedef struct cn_server_conf_t {
    const char *base_url;
    const char *base_path;         /* path part of base_url, no trailing slash */
    apr_array_header_t *key_sources; /* const char *, first seals */
    cn_keyring_t *ring;            /* built in post_config */
    apr_array_header_t *signing_paths; /* const char *, PEM files; the first signs */
    cn_signing_keys_t *signing;    /* loaded in post_config; NULL: none configured */
    apr_array_header_t *apps;      /* cn_app_t * */
    apr_hash_t *apps_by_id;        /* client_id -> cn_app_t * */
    apr_hash_t *apps_by_key;       /* SHA-256 of the secret (32 bytes) -> cn_app_t *; post_config */
    apr_table_t *endpoints;        /* "provider:name" -> URL */
    const char *ca_file;
    apr_off_t max_body;            /* -1: unset */
    int reencrypt;                 /* -1: unset */
    int provider_timeout;          /* seconds, -1: unset */
    const char *template_dir;      /* ConnectTemplateDir; NULL: the default (page.c) */
    int template_preview;          /* ConnectTemplatePreview, -1: unset (off) */
    cn_pages_t *pages;             /* built in post_config */
    int imap_timeout;              /* seconds, -1: unset */
    int imap_allow_plain;          /* -1: unset (off) */
    cn_http_t *http;               /* per process, made in child_init */
    cn_imap_t *imap;               /* per process, made in child_init */
    cn_text_cache_t *grant_cache; /* per process, made in child_init */
    const char *cache_spec;        /* ConnectCache: provider[:args]; NULL: shmcb */
    struct cn_socache_t *cache;    /* made in post_config; NULL in a process that lost it */
    const char *dns_server;        /* ConnectDNSServer as c-ares takes it; NULL: the system's */
    apr_array_header_t *autoconfig_urls; /* ConnectAutoconfigURL templates; empty: defaults */
    int guess_port;                /* ConnectDiscoveryGuessPort, -1: unset */
    int discovery_timeout;         /* ConnectDiscoveryTimeout, seconds, -1: unset */
    cn_discover_conf_t *discover;  /* what the core's discovery gets, made in post_config */
    apr_array_header_t *allow_cidrs; /* ConnectAllowAddresses as given (checked); empty:
                                      * unset; "none" alone: none, overriding the main server */
    cn_addr_allow_t *allow;        /* from them, made in post_config: the non-public addresses
                                    * users' connections may go to */
    int purge_interval;            /* ConnectPurgeInterval, seconds, -1: unset (main server) */
    int event_retention;           /* ConnectEventRetention, days, -1: unset (main server) */
    int sqlite;                    /* the database is SQLite (set at start-up, main server) */
    int refresh_interval;          /* ConnectRefreshInterval, seconds, -1: unset (main server) */
    int refresh_unused_days;       /* ConnectRefreshUnusedDays, -1: unset (main server) */
    int job_lease;                 /* ConnectJobLease, seconds, -1: unset (main server) */
    int purge_batch;               /* ConnectPurgeBatch, rows, -1: unset (main server) */
    apr_hash_t *webhooks;          /* client id -> cn_webhook_target_t of its applications
                                    * with a webhook (post_config); NULL: none */
    cn_webhook_policy_t *webhook_policy; /* ConnectWebhook*: main server only (webhooks.c) */
    int webhook_interval;          /* ConnectWebhookInterval, seconds, -1: unset */
    const char *webhook_url;       /* ConnectWebhookURL: the applications without their own */
    const char *webhook_url_secret; /* its file:/env: signing secret; NULL: each app's secret */
    const char *webhook_default_secret; /* read at start-up (post_config) */
    apr_size_t webhook_default_secret_len;
    int configured;                /* any Connect* directive seen here */
} cn_server_conf_t;

/* cn_config.c */
extern const command_rec cn_cmds[];
/* A secret from "file:PATH" (ServerRoot-relative, at most 64 KiB) or
 * "env:VAR" into *OUT, *LEN bytes, in P: an error message, or NULL. */
const char *cn_config_read_source(apr_pool_t *p, const char *source, const char **out,
                                  apr_size_t *len);
void *cn_create_server_conf(apr_pool_t *p, server_rec *s);
void *cn_merge_server_conf(apr_pool_t *p, void *base, void *add);
int cn_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
/* Each child: the per-process services (HTTP client, grant cache), then
 * the database lock. */
void cn_child_init(apr_pool_t *pchild, server_rec *s);

/* page.c: compile the templates of SC's template directory and make its
 * assets (the stylesheet, one per application accent colour); a missing or
 * broken template refuses start-up with a line naming the file. */
int cn_pages_load(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s, cn_server_conf_t *sc);

/* cn_dbd.c */
apr_status_t cn_dbd_prepare_all(server_rec *s);
apr_status_t cn_dbd_migrate(apr_pool_t *ptemp, server_rec *s, cn_server_conf_t *sc);
cn_db_t *cn_dbd_acquire(request_rec *r);
/* 1 when R's work met a database that is not there (no connection from
 * mod_dbd, a lost one): its failure is a 503. */
int cn_dbd_unavailable(request_rec *r);
/* Each child: attach to the SQLite writers' lock. */
void cn_dbd_child_init(apr_pool_t *pchild, server_rec *s);
int cn_dbd_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);
apr_status_t cn_dbd_mutex_create(apr_pool_t *pconf, server_rec *s);
int cn_dbd_functions_present(void);

/* cn_dbd.c: short-lived handles for requests that call providers in between */
cn_db_t *cn_dbd_open(request_rec *r);
void cn_dbd_close(request_rec *r, cn_db_t *db);
/* The same as the core's database seam (cn_ctx_t.dbs) for request R. */
cn_db_seam_t cn_dbd_seam(request_rec *r);
/* ... and for background work on server S (handles in the pool the core gives). */
cn_db_seam_t cn_dbd_server_seam(server_rec *s);

/* jobs.c: background jobs in mod_watchdog's singleton thread (one process
 * per node); ConnectPurgeInterval, ConnectEventRetention. */
/* A numeric directive of the jobs: an int field of cn_server_conf_t, its
 * range and unit; cn_jobs_set is their setter (the setting as cmd_data). */
typedef struct cn_jobs_setting_t {
    apr_size_t offset;
    long lo, hi;
    const char *unit;
} cn_jobs_setting_t;
extern cn_jobs_setting_t cn_jobs_purge_interval, cn_jobs_event_retention,
    cn_jobs_refresh_interval, cn_jobs_refresh_unused_days, cn_jobs_job_lease, cn_jobs_purge_batch;
const char *cn_jobs_set(cmd_parms *cmd, void *dc, const char *v);
/* In post_config: register the jobs with mod_watchdog, or log that they are off. */
int cn_jobs_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* webhooks.c: delivery in a mod_watchdog thread of its own (one process per
 * node, one node at a time by the database lease "webhooks"), its directives
 * (ConnectWebhookInterval, ConnectWebhookBackoff, ConnectWebhookTimeout), and
 * GET /webhooks/deliveries, POST /webhooks/deliveries/{id}/retry. */
const char *cn_webhooks_set_interval(cmd_parms *cmd, void *dc, const char *v);
const char *cn_webhooks_set_backoff(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
const char *cn_webhooks_set_timeout(cmd_parms *cmd, void *dc, const char *v);
/* The options webhook_url= and webhook_secret= of APP, read in post_config:
 * an error message, or NULL (APP->webhook set when both are given). */
const char *cn_webhooks_app_options(apr_pool_t *pconf, apr_pool_t *ptemp, cn_app_t *app);
/* ConnectWebhookURL URL [file:PATH|env:VAR] (per server). */
const char *cn_webhooks_set_url(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
/* In post_config, after the options: APP without a webhook of its own gets
 * SC's ConnectWebhookURL, signed with its secret source or else with the
 * application's own secret. An error message, or NULL. */
const char *cn_webhooks_default_target(apr_pool_t *pconf, apr_pool_t *ptemp,
                                       cn_server_conf_t *sc, cn_app_t *app);
/* In post_config: register the delivery with mod_watchdog (when an
 * application has a webhook), or log that it is off. */
int cn_webhooks_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* Each child: the HTTP client of the delivery, and its wait at exit. */
void cn_webhooks_child_init(apr_pool_t *pchild, server_rec *s);

/* socache.c: ConnectCache, the core's shared cache (cn_ctx_t.cache) */
int cn_socache_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);
const char *cn_socache_set(cmd_parms *cmd, void *dc, const char *spec);
apr_status_t cn_socache_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void cn_socache_child_init(apr_pool_t *pchild, server_rec *s);
void cn_socache_disable(server_rec *s);
const cn_cache_seam_t *cn_socache_seam(const struct cn_socache_t *c);

/* discover.c: the directives of auto-discovery, and the core's settings from them */
const char *cn_discover_set_dns_server(cmd_parms *cmd, void *dc, const char *v);
const char *cn_discover_add_autoconfig_url(cmd_parms *cmd, void *dc, const char *v);
const char *cn_discover_set_guess_port(cmd_parms *cmd, void *dc, const char *v);
const char *cn_discover_set_timeout(cmd_parms *cmd, void *dc, const char *v);
void cn_discover_conf_init(apr_pool_t *p, cn_server_conf_t *sc);
void cn_discover_conf_merge(cn_server_conf_t *sc, const cn_server_conf_t *base,
                            const cn_server_conf_t *add);
/* In post_config, once ConnectCAFile is known: SC->discover. */
void cn_discover_conf_finish(apr_pool_t *pconf, server_rec *s, cn_server_conf_t *sc);

/* metrics.c: the shared counters (made in post_config; NULL when they are
 * off), SetHandler connect-metrics and the summary on mod_status's page. */
int cn_metrics_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
struct cn_metrics_t *cn_metrics_shared(void);
void cn_metrics_register_hooks(apr_pool_t *p);

/* cn_handler.c */
int cn_handler(request_rec *r);
int cn_quick_handler(request_rec *r, int lookup);
int cn_map_to_storage(request_rec *r);

#endif
