/* Directives and their start-up validation. Values are recorded as given at
 * configuration time and checked in post_config, where a failure stops the
 * server with one log line naming the directive. */
#include <stdlib.h>
#include <apr_file_io.h>
#include <apr_env.h>
#include <apr_uri.h>
#include <apr_optional.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include "cn_httpd.h"
#include "cn_session.h"

void *cn_create_server_conf(apr_pool_t *p, server_rec *s)
{
    cn_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    sc->key_sources = apr_array_make(p, 2, sizeof(const char *));
    sc->signing_paths = apr_array_make(p, 2, sizeof(const char *));
    sc->apps = apr_array_make(p, 2, sizeof(cn_app_t *));
    sc->apps_by_id = apr_hash_make(p);
    sc->endpoints = apr_table_make(p, 4);
    sc->max_body = -1;
    sc->reencrypt = -1;
    sc->template_preview = -1;
    sc->provider_timeout = -1;
    sc->imap_timeout = -1;
    sc->imap_allow_plain = -1;
    sc->purge_interval = -1;
    sc->event_retention = -1;
    sc->refresh_interval = -1;
    sc->refresh_unused_days = -1;
    sc->job_lease = -1;
    sc->purge_batch = -1;
    sc->webhook_interval = -1;
    sc->allow_cidrs = apr_array_make(p, 2, sizeof(const char *));
    cn_discover_conf_init(p, sc);
    return sc;
}

void *cn_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    cn_server_conf_t *base = basev, *add = addv;
    cn_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    sc->base_url = add->base_url ? add->base_url : base->base_url;
    sc->key_sources = add->key_sources->nelts ? add->key_sources : base->key_sources;
    sc->signing_paths = add->signing_paths->nelts ? add->signing_paths : base->signing_paths;
    sc->apps = add->apps->nelts ? add->apps : base->apps;
    sc->apps_by_id = add->apps->nelts ? add->apps_by_id : base->apps_by_id;
    sc->endpoints = apr_table_overlay(p, base->endpoints, add->endpoints);
    sc->ca_file = add->ca_file ? add->ca_file : base->ca_file;
    sc->max_body = add->max_body != -1 ? add->max_body : base->max_body;
    sc->reencrypt = add->reencrypt != -1 ? add->reencrypt : base->reencrypt;
    sc->provider_timeout = add->provider_timeout != -1 ? add->provider_timeout
                                                       : base->provider_timeout;
    sc->cache_spec = add->cache_spec ? add->cache_spec : base->cache_spec;
    sc->template_dir = add->template_dir ? add->template_dir : base->template_dir;
    sc->template_preview = add->template_preview != -1 ? add->template_preview
                                                       : base->template_preview;
    sc->imap_timeout = add->imap_timeout != -1 ? add->imap_timeout : base->imap_timeout;
    sc->imap_allow_plain = add->imap_allow_plain != -1 ? add->imap_allow_plain
                                                       : base->imap_allow_plain;
    sc->allow_cidrs = add->allow_cidrs->nelts ? add->allow_cidrs : base->allow_cidrs;
    sc->purge_interval = add->purge_interval != -1 ? add->purge_interval : base->purge_interval;
    sc->event_retention = add->event_retention != -1 ? add->event_retention
                                                     : base->event_retention;
    sc->refresh_interval = add->refresh_interval != -1 ? add->refresh_interval
                                                       : base->refresh_interval;
    sc->refresh_unused_days = add->refresh_unused_days != -1 ? add->refresh_unused_days
                                                             : base->refresh_unused_days;
    sc->job_lease = add->job_lease != -1 ? add->job_lease : base->job_lease;
    sc->purge_batch = add->purge_batch != -1 ? add->purge_batch : base->purge_batch;
    sc->webhook_url = add->webhook_url ? add->webhook_url : base->webhook_url;
    sc->webhook_url_secret = add->webhook_url ? add->webhook_url_secret : base->webhook_url_secret;
    cn_discover_conf_merge(sc, base, add);
    sc->configured = add->configured || base->configured;
    return sc;
}

static cn_server_conf_t *conf_of(cmd_parms *cmd)
{
    cn_server_conf_t *sc = ap_get_module_config(cmd->server->module_config, &connect_module);
    sc->configured = 1;
    return sc;
}

static int is_source(const char *v)
{
    return !strncmp(v, "file:", 5) || !strncmp(v, "env:", 4);
}

static const char *set_base_url(cmd_parms *cmd, void *dc, const char *v)
{
    conf_of(cmd)->base_url = v;
    return NULL;
}

static const char *add_key(cmd_parms *cmd, void *dc, const char *v)
{
    if (!is_source(v)) {
        return apr_pstrcat(cmd->pool, CN_DIR_KEY, ": expected file:PATH or env:VAR, got '", v,
                           "'", NULL);
    }
    APR_ARRAY_PUSH(conf_of(cmd)->key_sources, const char *) = v;
    return NULL;
}

/* A PEM file, as PATH or file:PATH (relative to ServerRoot). */
static const char *add_signing_key(cmd_parms *cmd, void *dc, const char *v)
{
    const char *path = !strncmp(v, "file:", 5) ? v + 5 : v;
    if (!strncmp(v, "env:", 4) || !*path) {
        return apr_pstrcat(cmd->pool, CN_DIR_SIGNING_KEY, ": expected a PEM file, PATH or "
                           "file:PATH, got '", v, "'", NULL);
    }
    if (!(path = ap_server_root_relative(cmd->pool, path))) {
        return apr_pstrcat(cmd->pool, CN_DIR_SIGNING_KEY, ": invalid file path '", v, "'",
                           NULL);
    }
    APR_ARRAY_PUSH(conf_of(cmd)->signing_paths, const char *) = path;
    return NULL;
}

static const char *add_application(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    cn_server_conf_t *sc = conf_of(cmd);
    cn_app_t *app;
    int i;
    if (argc < 2) {
        return CN_DIR_APPLICATION " takes CLIENT_ID file:PATH|env:VAR [name=value ...]";
    }
    if (!is_source(argv[1])) {
        return apr_pstrcat(cmd->pool, CN_DIR_APPLICATION, " ", argv[0],
                           ": the secret source must be file:PATH or env:VAR", NULL);
    }
    if (apr_hash_get(sc->apps_by_id, argv[0], APR_HASH_KEY_STRING)) {
        return apr_pstrcat(cmd->pool, CN_DIR_APPLICATION, " ", argv[0], ": defined twice",
                           NULL);
    }
    app = apr_pcalloc(cmd->pool, sizeof(*app));
    app->client_id = argv[0];
    app->secret_source = argv[1];
    app->options = apr_table_make(cmd->pool, 2);
    for (i = 2; i < argc; ++i) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            return apr_pstrcat(cmd->pool, CN_DIR_APPLICATION, " ", argv[0],
                               ": options are name=value, got '", argv[i], "'", NULL);
        }
        apr_table_set(app->options, apr_pstrndup(cmd->pool, argv[i], (apr_size_t)(eq - argv[i])),
                      eq + 1);
    }
    APR_ARRAY_PUSH(sc->apps, cn_app_t *) = app;
    apr_hash_set(sc->apps_by_id, app->client_id, APR_HASH_KEY_STRING, app);
    return NULL;
}

static const char *const endpoint_names[] = {"authorize", "token", "userinfo", "revoke",
                                             "adminconsent", "graph", NULL};

static const char *set_endpoint(cmd_parms *cmd, void *dc, const char *provider,
                                const char *name, const char *url)
{
    const char *const *n;
    apr_uri_t uri;
    if (!cn_provider_can(provider, CN_PROVIDER_OAUTH)) {
        return apr_pstrcat(cmd->pool, CN_DIR_ENDPOINT, ": unknown provider '", provider,
                           "' (google, microsoft)", NULL);
    }
    for (n = endpoint_names; *n; ++n) {
        if (!strcmp(*n, name)) {
            break;
        }
    }
    if (!*n) {
        return apr_pstrcat(cmd->pool, CN_DIR_ENDPOINT, ": unknown endpoint '", name,
                           "' (authorize, token, userinfo, revoke, adminconsent, graph)", NULL);
    }
    if (apr_uri_parse(cmd->pool, url, &uri) != APR_SUCCESS || !uri.scheme || !uri.hostname
        || (strcmp(uri.scheme, "https") && strcmp(uri.scheme, "http"))) {
        return apr_pstrcat(cmd->pool, CN_DIR_ENDPOINT, ": '", url,
                           "' is not an http(s) URL", NULL);
    }
    apr_table_set(conf_of(cmd)->endpoints, apr_pstrcat(cmd->pool, provider, ":", name, NULL),
                  url);
    return NULL;
}

static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *v)
{
    conf_of(cmd)->ca_file = ap_server_root_relative(cmd->pool, v);
    return NULL;
}

static const char *set_max_body(cmd_parms *cmd, void *dc, const char *v)
{
    char *end;
    apr_int64_t n = apr_strtoi64(v, &end, 10);
    if (*end || n < 1024 || n > 16 * 1024 * 1024) {
        return CN_DIR_MAX_BODY " must be a number of bytes between 1024 and 16777216";
    }
    conf_of(cmd)->max_body = (apr_off_t)n;
    return NULL;
}

static const char *set_provider_timeout(cmd_parms *cmd, void *dc, const char *v)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 1 || n > 300) {
        return CN_DIR_PROVIDER_TIMEOUT " must be a number of seconds from 1 to 300";
    }
    conf_of(cmd)->provider_timeout = (int)n;
    return NULL;
}

static const char *set_template_dir(cmd_parms *cmd, void *dc, const char *v)
{
    const char *dir = *v ? ap_server_root_relative(cmd->pool, v) : NULL;
    if (!dir) {
        return apr_pstrcat(cmd->pool, CN_DIR_TEMPLATE_DIR, ": invalid directory '", v, "'", NULL);
    }
    conf_of(cmd)->template_dir = dir;
    return NULL;
}

static const char *set_template_preview(cmd_parms *cmd, void *dc, int flag)
{
    conf_of(cmd)->template_preview = flag;
    return NULL;
}

static const char *set_imap_timeout(cmd_parms *cmd, void *dc, const char *v)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > 300) {
        return CN_DIR_IMAP_TIMEOUT " must be a number of seconds from 1 to 300";
    }
    conf_of(cmd)->imap_timeout = (int)n;
    return NULL;
}

static const char *set_imap_allow_plain(cmd_parms *cmd, void *dc, int flag)
{
    conf_of(cmd)->imap_allow_plain = flag;
    return NULL;
}

#define ALLOW_NONE "none"

/* ConnectAllowAddresses: each entry checked as it is read, so a bad one
 * stops the server with a line naming the directive. */
static const char *add_allow_address(cmd_parms *cmd, void *dc, const char *v)
{
    cn_server_conf_t *sc = conf_of(cmd);
    apr_array_header_t *one = apr_array_make(cmd->temp_pool, 1, sizeof(const char *));
    cn_addr_allow_t *allow;
    const char *why = NULL;
    int none = !strcasecmp(v, ALLOW_NONE);
    if (sc->allow_cidrs->nelts
        && (none || !strcmp(APR_ARRAY_IDX(sc->allow_cidrs, 0, const char *), ALLOW_NONE))) {
        return CN_DIR_ALLOW_ADDRESSES ": 'none' cannot be combined with addresses";
    }
    APR_ARRAY_PUSH(one, const char *) = v;
    if (!none && cn_addr_allow_make(cmd->temp_pool, one, &allow, &why) != APR_SUCCESS) {
        return apr_pstrcat(cmd->pool, CN_DIR_ALLOW_ADDRESSES, ": ", why, NULL);
    }
    APR_ARRAY_PUSH(sc->allow_cidrs, const char *) = none ? ALLOW_NONE : v;
    return NULL;
}

static const char *set_reencrypt(cmd_parms *cmd, void *dc, int flag)
{
    conf_of(cmd)->reencrypt = flag;
    return NULL;
}

const command_rec cn_cmds[] = {
    AP_INIT_TAKE1(CN_DIR_BASE_URL, set_base_url, NULL, RSRC_CONF,
                  "public URL of the connect mount, e.g. https://auth.example.com/connect"),
    AP_INIT_ITERATE(CN_DIR_KEY, add_key, NULL, RSRC_CONF,
                    "file:PATH or env:VAR holding a base64 32-byte key; the first seals, "
                    "all open"),
    AP_INIT_ITERATE(CN_DIR_SIGNING_KEY, add_signing_key, NULL, RSRC_CONF,
                    "PEM private key (RSA >= 2048 bits or P-256) that signs id_tokens; "
                    "the first signs, all are published in the JWKS"),
    AP_INIT_TAKE_ARGV(CN_DIR_APPLICATION, add_application, NULL, RSRC_CONF,
                      "CLIENT_ID file:PATH|env:VAR [name=value ...]"),
    AP_INIT_TAKE3(CN_DIR_ENDPOINT, set_endpoint, NULL, RSRC_CONF,
                  "PROVIDER NAME URL: override a provider endpoint"),
    AP_INIT_TAKE1(CN_DIR_CA_FILE, set_ca_file, NULL, RSRC_CONF,
                  "CA bundle that outgoing TLS is verified against"),
    AP_INIT_TAKE1(CN_DIR_MAX_BODY, set_max_body, NULL, RSRC_CONF,
                  "largest accepted request body in bytes (default 65536)"),
    AP_INIT_TAKE1(CN_DIR_PROVIDER_TIMEOUT, set_provider_timeout, NULL, RSRC_CONF,
                  "seconds an outgoing provider call may take (default 15)"),
    AP_INIT_TAKE1(CN_DIR_CACHE, cn_socache_set, NULL, RSRC_CONF,
                  "mod_socache provider[:args] shared by the server's processes (default "
                  "shmcb; memcache:HOST:PORT or redis:HOST:PORT for several nodes)"),
    AP_INIT_TAKE1(CN_DIR_TEMPLATE_DIR, set_template_dir, NULL, RSRC_CONF,
                  "directory of the hosted pages' templates (error.html, imap.html, "
                  "choose.html, connect.html, connect.css); default: the templates installed with the module"),
    AP_INIT_FLAG(CN_DIR_TEMPLATE_PREVIEW, set_template_preview, NULL, RSRC_CONF,
                 "On: <mount>/preview/{page} shows each template with sample values "
                 "(for whoever edits them; default Off)"),
    AP_INIT_TAKE1(CN_DIR_IMAP_TIMEOUT, set_imap_timeout, NULL, RSRC_CONF,
                  "seconds an IMAP LOGIN may take, connection included (default 10)"),
    AP_INIT_FLAG(CN_DIR_IMAP_ALLOW_PLAIN, set_imap_allow_plain, NULL, RSRC_CONF,
                 "On: IMAP without TLS (security plain) may be used; Off (default): refused"),
    AP_INIT_TAKE1(CN_DIR_DNS_SERVER, cn_discover_set_dns_server, NULL, RSRC_CONF,
                  "ADDRESS[:PORT] of the name server auto-discovery asks (default: the "
                  "system's resolvers)"),
    AP_INIT_ITERATE(CN_DIR_AUTOCONFIG_URL, cn_discover_add_autoconfig_url, NULL, RSRC_CONF,
                    "https URL templates (%{domain}, %{email}) of autoconfig documents, "
                    "tried in order; 'none' turns the step off"),
    AP_INIT_TAKE1(CN_DIR_GUESS_PORT, cn_discover_set_guess_port, NULL, RSRC_CONF,
                  "the port auto-discovery's guess tries TLS on (default 993; for tests "
                  "and odd setups)"),
    AP_INIT_TAKE1(CN_DIR_DISCOVERY_TIMEOUT, cn_discover_set_timeout, NULL, RSRC_CONF,
                  "seconds one auto-discovery may take, all its steps (default 10)"),
    AP_INIT_ITERATE(CN_DIR_ALLOW_ADDRESSES, add_allow_address, NULL, RSRC_CONF,
                    "ADDRESS[/BITS] ...: non-public addresses that auto-discovery and IMAP "
                    "LOGINs (servers chosen by users and their DNS) may still connect to, "
                    "e.g. an internal mail server; 'none' (default): public addresses only"),
    AP_INIT_TAKE1(CN_DIR_PURGE_INTERVAL, cn_jobs_set, &cn_jobs_purge_interval, RSRC_CONF,
                  "seconds between purges of expired login requests, codes, tokens and old "
                  "events (1 to 86400, default 3600; main server only)"),
    AP_INIT_TAKE1(CN_DIR_EVENT_RETENTION, cn_jobs_set, &cn_jobs_event_retention, RSRC_CONF,
                  "days events are kept before the purge deletes them (1 to 3650, default "
                  "30; main server only)"),
    AP_INIT_TAKE1(CN_DIR_REFRESH_INTERVAL, cn_jobs_set, &cn_jobs_refresh_interval, RSRC_CONF,
                  "seconds between runs of the refresh job, which refreshes the provider "
                  "tokens of grants unused for ConnectRefreshUnusedDays (1 to 86400, default "
                  "3600; main server only)"),
    AP_INIT_TAKE1(CN_DIR_REFRESH_UNUSED_DAYS, cn_jobs_set, &cn_jobs_refresh_unused_days, RSRC_CONF,
                  "days without a refresh or sign-in after which the refresh job refreshes a "
                  "grant's provider tokens so that they do not lapse (1 to 150, default 30; "
                  "main server only)"),
    AP_INIT_TAKE1(CN_DIR_JOB_LEASE, cn_jobs_set, &cn_jobs_job_lease, RSRC_CONF,
                  "seconds a node holds a background job's lease while it runs the job; a "
                  "node that dies mid-job gives the job up after this long (2 to 86400, "
                  "default 600; main server only)"),
    AP_INIT_TAKE1(CN_DIR_PURGE_BATCH, cn_jobs_set, &cn_jobs_purge_batch, RSRC_CONF,
                  "rows the purge deletes per statement, so that no statement holds locks "
                  "long (1 to 100000, default 500; main server only)"),
    AP_INIT_TAKE_ARGV(CN_DIR_WEBHOOK_URL, cn_webhooks_set_url, NULL, RSRC_CONF,
                      "URL [file:PATH|env:VAR]: where the events of applications without a "
                      "webhook_url= of their own are POSTed, signed with the given secret or "
                      "else with each application's own secret"),
    AP_INIT_TAKE1(CN_DIR_WEBHOOK_INTERVAL, cn_webhooks_set_interval, NULL, RSRC_CONF,
                  "seconds between looks for due webhook deliveries (1 to 3600, default 5; "
                  "main server only)"),
    AP_INIT_TAKE_ARGV(CN_DIR_WEBHOOK_BACKOFF, cn_webhooks_set_backoff, NULL, RSRC_CONF,
                      "MIN MAX [RETRY_FOR]: seconds a failed webhook delivery waits at least "
                      "and at most (exponential, jittered; default 10 3600) and seconds after "
                      "its event it is given up (default 86400); main server only"),
    AP_INIT_TAKE1(CN_DIR_WEBHOOK_TIMEOUT, cn_webhooks_set_timeout, NULL, RSRC_CONF,
                  "seconds one webhook delivery may take, connection included (1 to 60, "
                  "default 10; main server only)"),
    AP_INIT_FLAG(CN_DIR_REKEY, set_reencrypt, NULL, RSRC_CONF,
                 "On: at start-up, re-seal stored secrets under the first "
                 CN_DIR_KEY),
    {NULL}
};

/* Read a secret from "file:PATH" or "env:VAR" into *OUT (NUL-terminated).
 * Returns an error message or NULL. */
static const char *read_source(apr_pool_t *p, const char *source, const char **out,
                               apr_size_t *len)
{
    if (!strncmp(source, "env:", 4)) {
        char *v = NULL;
        if (apr_env_get(&v, source + 4, p) != APR_SUCCESS || !v || !*v) {
            return apr_psprintf(p, "environment variable %s is not set", source + 4);
        }
        /* A copy: the caller wipes it, and httpd reads its configuration twice. */
        *out = apr_pstrdup(p, v);
        *len = strlen(v);
        return NULL;
    }
    else {
        const char *path = ap_server_root_relative(p, source + 5);
        apr_file_t *f;
        apr_finfo_t fi;
        char *buf;
        apr_size_t n;
        if (!path || apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS) {
            return apr_psprintf(p, "cannot read %s", source + 5);
        }
        if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS || fi.size > 64 * 1024) {
            apr_file_close(f);
            return apr_psprintf(p, "%s is not a regular file of at most 64 KiB", source + 5);
        }
        n = (apr_size_t)fi.size;
        buf = apr_palloc(p, n + 1);
        if (n && apr_file_read_full(f, buf, n, &n) != APR_SUCCESS) {
            apr_file_close(f);
            return apr_psprintf(p, "cannot read %s", source + 5);
        }
        apr_file_close(f);
        buf[n] = '\0';
        *out = buf;
        *len = n;
        return NULL;
    }
}

const char *cn_config_read_source(apr_pool_t *p, const char *source, const char **out,
                                  apr_size_t *len)
{
    return read_source(p, source, out, len);
}

static apr_status_t wipe(void *data)
{
    char *s = data;
    OPENSSL_cleanse(s, strlen(s));
    return APR_SUCCESS;
}

static int refuse(server_rec *s, const char *directive, const char *msg)
{
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, CNLOGNO(00001) "%s: %s", directive, msg);
    return HTTP_INTERNAL_SERVER_ERROR;
}

/* Build the keyring of SC from its sources. */
static int load_keys(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s, cn_server_conf_t *sc)
{
    int i;
    if (!sc->key_sources->nelts) {
        return refuse(s, CN_DIR_KEY, "no encryption key configured; the module refuses to "
                                     "store secrets in plaintext");
    }
    sc->ring = cn_keyring_make(pconf);
    for (i = 0; i < sc->key_sources->nelts; ++i) {
        const char *src = APR_ARRAY_IDX(sc->key_sources, i, const char *), *text = NULL, *err;
        apr_size_t len = 0;
        if ((err = read_source(ptemp, src, &text, &len))) {
            return refuse(s, CN_DIR_KEY, err);
        }
        apr_pool_cleanup_register(ptemp, text, wipe, apr_pool_cleanup_null);
        /* A key file holds base64 text, or the 32 raw bytes themselves. */
        if (len == CN_KEY_LEN && cn_keyring_add_base64(sc->ring, ptemp, text) != APR_SUCCESS) {
            if (cn_keyring_add(sc->ring, (const unsigned char *)text, len) != APR_SUCCESS) {
                return refuse(s, CN_DIR_KEY, "key is not 32 bytes");
            }
        }
        else if (len != CN_KEY_LEN && cn_keyring_add_base64(sc->ring, ptemp, text) != APR_SUCCESS) {
            return refuse(s, CN_DIR_KEY,
                          apr_psprintf(ptemp, "%s: a key must be 32 bytes (base64 encoded)",
                                       src));
        }
    }
    return OK;
}

/* The id_token signing keys of SC; none is fine (no id_tokens, an empty JWKS). */
static int load_signing_keys(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                             cn_server_conf_t *sc)
{
    const char *err = NULL;
    json_t *first;
    sc->signing = NULL;
    if (!sc->signing_paths->nelts) {
        return OK;
    }
    if (cn_jose_keys_load(pconf, sc->signing_paths, &sc->signing, &err) != APR_SUCCESS) {
        return refuse(s, CN_DIR_SIGNING_KEY, err ? err : "cannot load the keys");
    }
    first = json_array_get(json_object_get(cn_jose_jwks(ptemp, sc->signing), "keys"), 0);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, CNLOGNO(00030) "%s: %d key(s) published; "
                 "id_tokens are signed %s with kid %s", CN_DIR_SIGNING_KEY,
                 sc->signing_paths->nelts, json_string_value(json_object_get(first, "alg")),
                 json_string_value(json_object_get(first, "kid")));
    return OK;
}

#define CN_APP_NAME_MAX 100  /* bytes of an application's display name */
#define CN_APP_LOGO_MAX 2048 /* bytes of its logo URL */

/* The options of APP (name=value after its secret source): what the hosted
 * pages show of it. Returns an error message, or NULL. */
static const char *check_app_options(apr_pool_t *pconf, apr_pool_t *ptemp, cn_app_t *app)
{
    static const char *const known[] = {"name", "logo", "color", "three_legged", "webhook_url",
                                        "webhook_secret", NULL};
    const apr_array_header_t *arr = apr_table_elts(app->options);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    const char *v;
    int i;
    unsigned rgb;

    for (i = 0; i < arr->nelts; ++i) {
        const char *const *k;
        for (k = known; *k && strcmp(*k, e[i].key); ++k) {
        }
        if (!*k) {
            return apr_psprintf(ptemp, "unknown option '%s' (name, logo, color, three_legged, "
                                "webhook_url, webhook_secret)", e[i].key);
        }
    }
    app->display_name = app->client_id;
    if ((v = apr_table_get(app->options, "name"))) {
        const unsigned char *c;
        if (!*v || strlen(v) > CN_APP_NAME_MAX || !cn_json_utf8_prefix(ptemp, v, CN_APP_NAME_MAX)) {
            return apr_psprintf(ptemp, "name= must be 1 to %d bytes of UTF-8 text "
                                "(quote the whole option for spaces: \"name=My App\")",
                                CN_APP_NAME_MAX);
        }
        for (c = (const unsigned char *)v; *c; ++c) {
            if (*c < 0x20 || *c == 0x7f) {
                return "name= must not have control characters";
            }
        }
        app->display_name = v;
    }
    app->logo = app->logo_origin = NULL;
    if ((v = apr_table_get(app->options, "logo"))) {
        const char *origin = cn_url_origin(pconf, v);
        if (strlen(v) > CN_APP_LOGO_MAX || strncmp(v, "https://", 8) || !origin
            || strchr(v, '#') || strpbrk(v, "<>\\^`{|}") || strchr(v + 8, '@')) {
            return apr_psprintf(ptemp, "logo= must be an https URL of at most %d bytes whose "
                                "host is a DNS name or an IPv4 address (no user, no fragment); "
                                "got '%s'", CN_APP_LOGO_MAX, v);
        }
        app->logo = v;
        app->logo_origin = origin;
    }
    app->color = NULL;
    if ((v = apr_table_get(app->options, "color"))) {
        if (cn_color_parse(v, &rgb) != APR_SUCCESS) {
            return apr_psprintf(ptemp, "color= must be a colour #rrggbb, got '%s'", v);
        }
        app->color = cn_lower(pconf, v);
    }
    /* The Context.IO API: 3-legged OAuth 1.0a signatures for account calls. */
    if ((v = apr_table_get(app->options, "three_legged")) && strcasecmp(v, "on")
        && strcasecmp(v, "off")) {
        return apr_psprintf(ptemp, "three_legged= must be on or off, got '%s'", v);
    }
    app->three_legged = v && !strcasecmp(v, "on");
    return cn_webhooks_app_options(pconf, ptemp, app);
}

static int load_apps(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s, cn_server_conf_t *sc)
{
    int i;
    if (!sc->apps->nelts) {
        return refuse(s, CN_DIR_APPLICATION, "no application configured; nobody could call "
                                             "the API");
    }
    sc->apps_by_key = apr_hash_make(pconf);
    for (i = 0; i < sc->apps->nelts; ++i) {
        cn_app_t *app = APR_ARRAY_IDX(sc->apps, i, cn_app_t *);
        const char *secret = NULL, *err;
        apr_size_t len = 0;
        if ((err = read_source(ptemp, app->secret_source, &secret, &len))) {
            return refuse(s, CN_DIR_APPLICATION,
                          apr_psprintf(ptemp, "%s: %s", app->client_id, err));
        }
        apr_pool_cleanup_register(ptemp, secret, wipe, apr_pool_cleanup_null);
        while (len && (secret[len - 1] == '\n' || secret[len - 1] == '\r')) {
            --len;
        }
        if (len < 16) {
            return refuse(s, CN_DIR_APPLICATION,
                          apr_psprintf(ptemp, "%s: the secret must be at least 16 characters",
                                       app->client_id));
        }
        /* The digest checks Basic and /token credentials; the Context.IO API's
         * HMAC-SHA1 signatures need the secret itself (RFC 5849 §3.4.2). */
        cn_sha256(secret, len, app->secret_digest);
        app->oauth1_secret = apr_pstrmemdup(pconf, secret, len);
        /* The secret is an API key too (the Nylas v3 layout): it must name
         * one application. */
        if (apr_hash_get(sc->apps_by_key, app->secret_digest, sizeof(app->secret_digest))) {
            return refuse(s, CN_DIR_APPLICATION,
                          apr_psprintf(ptemp, "%s: another application has the same secret; "
                                       "each secret must name one application",
                                       app->client_id));
        }
        apr_hash_set(sc->apps_by_key, app->secret_digest, sizeof(app->secret_digest), app);
        if ((err = check_app_options(pconf, ptemp, app))) {
            return refuse(s, CN_DIR_APPLICATION, apr_psprintf(ptemp, "%s: %s", app->client_id,
                                                              err));
        }
        if ((err = cn_webhooks_default_target(pconf, ptemp, sc, app))) {
            return refuse(s, CN_DIR_WEBHOOK_URL, err);
        }
        if (app->webhook) {
            if (!sc->webhooks) {
                sc->webhooks = apr_hash_make(pconf);
            }
            apr_hash_set(sc->webhooks, app->client_id, APR_HASH_KEY_STRING, app->webhook);
        }
    }
    return OK;
}

static int check_base_url(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                          cn_server_conf_t *sc)
{
    apr_uri_t uri;
    apr_size_t n;
    if (!sc->base_url) {
        return refuse(s, CN_DIR_BASE_URL, "not set; login URLs and the provider redirect URI "
                                          "derive from it");
    }
    if (apr_uri_parse(ptemp, sc->base_url, &uri) != APR_SUCCESS || !uri.scheme
        || !uri.hostname || (strcmp(uri.scheme, "https") && strcmp(uri.scheme, "http"))
        || uri.query || uri.fragment) {
        return refuse(s, CN_DIR_BASE_URL,
                      apr_psprintf(ptemp, "'%s' is not an absolute http(s) URL", sc->base_url));
    }
    sc->base_path = apr_pstrdup(pconf, uri.path ? uri.path : "");
    n = strlen(sc->base_path);
    while (n && sc->base_path[n - 1] == '/') {
        ((char *)sc->base_path)[--n] = '\0';
    }
    return OK;
}

static int check_ca_file(apr_pool_t *ptemp, server_rec *s, cn_server_conf_t *sc)
{
    apr_finfo_t fi;
    if (sc->ca_file && apr_stat(&fi, sc->ca_file, APR_FINFO_TYPE, ptemp) != APR_SUCCESS) {
        return refuse(s, CN_DIR_CA_FILE,
                      apr_psprintf(ptemp, "cannot read %s", sc->ca_file));
    }
    return OK;
}

/* The exceptions of SC, in PCONF; a line at start-up says what they open. */
static int load_allow(apr_pool_t *pconf, server_rec *s, cn_server_conf_t *sc)
{
    const apr_array_header_t *cidrs = sc->allow_cidrs;
    const char *why = NULL;
    if (cidrs->nelts && !strcmp(APR_ARRAY_IDX(cidrs, 0, const char *), ALLOW_NONE)) {
        cidrs = NULL;
    }
    if (cn_addr_allow_make(pconf, cidrs, &sc->allow, &why) != APR_SUCCESS) {
        return refuse(s, CN_DIR_ALLOW_ADDRESSES, why ? why : "not a list of subnets");
    }
    if (cidrs && cidrs->nelts) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, CNLOGNO(01010) "%s %s: auto-discovery "
                     "and IMAP LOGINs, whose servers users and their domains' DNS choose, may "
                     "connect to these non-public addresses", CN_DIR_ALLOW_ADDRESSES,
                     cn_addr_allow_text(pconf, sc->allow));
    }
    return OK;
}

int cn_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;
    cn_server_conf_t *main_sc = ap_get_module_config(s->module_config, &connect_module);
    int rv;

    if (!cn_dbd_functions_present()) {
        return refuse(s, "LoadModule", "mod_dbd is not loaded; mod_connect stores through it");
    }
    if (!cn_session_functions_present()) {
        return refuse(s, "LoadModule",
                      "mod_session is not loaded; the hosted flow keeps its state in it");
    }
    json_object_seed(0);
    if (cn_http_global_init() != APR_SUCCESS) {
        return refuse(s, "LoadModule", "libcurl cannot be initialised");
    }
    if (cn_discover_global_init() != APR_SUCCESS) {
        return refuse(s, "LoadModule", "c-ares cannot be initialised");
    }

    for (vs = s; vs; vs = vs->next) {
        cn_server_conf_t *sc = ap_get_module_config(vs->module_config, &connect_module);
        /* A virtual host that inherits everything shares the main keyring. */
        if (vs != s && sc->key_sources == main_sc->key_sources && main_sc->ring) {
            sc->ring = main_sc->ring;
        }
        else if ((rv = load_keys(pconf, ptemp, vs, sc)) != OK) {
            return rv;
        }
        if (vs != s && sc->signing_paths == main_sc->signing_paths) {
            sc->signing = main_sc->signing;
        }
        else if ((rv = load_signing_keys(pconf, ptemp, vs, sc)) != OK) {
            return rv;
        }
        if ((rv = load_apps(pconf, ptemp, vs, sc)) != OK
            || (rv = check_base_url(pconf, ptemp, vs, sc)) != OK
            || (rv = check_ca_file(ptemp, vs, sc)) != OK) {
            return rv;
        }
        /* A virtual host with the main server's templates and applications shares its pages. */
        if (vs != s && sc->apps == main_sc->apps && main_sc->pages
            && (sc->template_dir == main_sc->template_dir
                || (sc->template_dir && main_sc->template_dir
                    && !strcmp(sc->template_dir, main_sc->template_dir)))) {
            sc->pages = main_sc->pages;
        }
        else if ((rv = cn_pages_load(pconf, ptemp, vs, sc)) != OK) {
            return rv;
        }
        if (sc->max_body == -1) {
            sc->max_body = CN_DEFAULT_MAX_BODY;
        }
        if (sc->provider_timeout == -1) {
            sc->provider_timeout = CN_DEFAULT_PROVIDER_TIMEOUT;
        }
        if (sc->imap_timeout == -1) {
            sc->imap_timeout = CN_DEFAULT_IMAP_TIMEOUT;
        }
        if (sc->imap_allow_plain == -1) {
            sc->imap_allow_plain = 0;
        }
        if (sc->imap_allow_plain) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs, CNLOGNO(00703) "%s On: mailbox "
                         "passwords may be sent to IMAP servers without TLS",
                         CN_DIR_IMAP_ALLOW_PLAIN);
        }
        if ((rv = load_allow(pconf, vs, sc)) != OK) {
            return rv;
        }
        cn_discover_conf_finish(pconf, vs, sc);
    }
    if (cn_socache_post_config(pconf, ptemp, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cn_dbd_prepare_all(s) != APR_SUCCESS || cn_dbd_mutex_create(pconf, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (cn_dbd_migrate(ptemp, s, main_sc) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if ((rv = cn_metrics_post_config(pconf, ptemp, s)) != OK) {
        return rv;
    }
    if ((rv = cn_jobs_post_config(pconf, ptemp, s)) != OK) {
        return rv;
    }
    return cn_webhooks_post_config(pconf, ptemp, s);
}

/* The per-process services of every virtual host: the HTTP client the core
 * calls providers with, and the cache of rendered grants. */
static void services_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *vs;
    for (vs = s; vs; vs = vs->next) {
        cn_server_conf_t *sc = ap_get_module_config(vs->module_config, &connect_module);
        cn_http_options_t opts = {0};
        cn_imap_options_t imap_opts = {0};
        opts.ca_file = sc->ca_file;
        opts.connect_timeout_ms = 5000L < sc->provider_timeout * 1000L ? 5000L
                                                                       : sc->provider_timeout * 1000L;
        opts.timeout_ms = sc->provider_timeout * 1000L;
        opts.max_response = 1024 * 1024;
        if (cn_http_curl_make(pchild, &opts, &sc->http) != APR_SUCCESS) {
            /* The process still serves what needs no provider; provider
             * calls answer service_unavailable (503). */
            sc->http = NULL;
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, vs, CNLOGNO(00022) "cannot set up libcurl: "
                         "calls to providers will answer 503 in process %" APR_PID_T_FMT,
                         getpid());
        }
        imap_opts.ca_file = sc->ca_file;
        imap_opts.timeout_ms = sc->imap_timeout * 1000L;
        imap_opts.allow_plain = sc->imap_allow_plain;
        imap_opts.allow = sc->allow;
        if (cn_imap_curl_make(pchild, &imap_opts, &sc->imap) != APR_SUCCESS) {
            sc->imap = NULL; /* IMAP LOGINs answer service_unavailable (503) */
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, vs, CNLOGNO(00704) "cannot set up the "
                         "IMAP client: IMAP LOGINs will answer 503 in process %" APR_PID_T_FMT,
                         getpid());
        }
        if (cn_text_cache_make(pchild, CN_GRANT_CACHE_ENTRIES, &sc->grant_cache) != APR_SUCCESS) {
            sc->grant_cache = NULL; /* lists then render every row */
        }
    }
}

void cn_child_init(apr_pool_t *pchild, server_rec *s)
{
    services_child_init(pchild, s);
    cn_dbd_child_init(pchild, s);
    cn_socache_child_init(pchild, s);
    cn_webhooks_child_init(pchild, s);
}
