/* The upstream step of IMAP mailboxes: the browser goes to the module's own
 * form (GET <base>/imap?state=), and each submission is proven by an IMAP
 * LOGIN (flow/imap.c) without a database handle held. A wrong password, a
 * server that does not answer, or a field that is not right shows the form
 * again; the third wrong password of a flow ends it with auth_limit_reached
 * (counted in the shared cache, so every process and node sees the count). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "cn_proto.h"
#include "cn_discover.h"
#include "flow.h"

/* Where EMAIL's mailbox lives, as discovery finds it (NULL: nothing known, or
 * an OAuth provider's mailbox). No database handle may be held. */
static const cn_mail_settings_t *found_for(cn_ctx_t *ctx, const char *email)
{
    cn_mail_settings_t *found = NULL;
    cn_result_t kept = ctx->res; /* nothing found is no failure of the form */
    if (!email || !cn_email_valid(email) || cn_discover(ctx, email, &found) != APR_SUCCESS
        || !found || !found->imap_host) {
        found = NULL;
    }
    ctx->res = kept;
    return found;
}

static apr_status_t imap_start(cn_ctx_t *ctx, const cn_flow_t *flow,
                               const cn_flow_origin_t *origin, const char **location)
{
    *location = apr_pstrcat(ctx->pool, ctx->base_url, CN_FLOW_IMAP_FORM_PATH "?state=",
                            cn_url_encode(ctx->pool, flow->state), NULL);
    return APR_SUCCESS;
}

/* Show the form again: FIELD is at fault, ctx->res says why. */
static apr_status_t again(cn_flow_proof_t *proof, const char *field)
{
    proof->retry_field = field;
    return APR_EAGAIN;
}

static const char *field(const apr_table_t *form, const char *name)
{
    const char *v = apr_table_get(form, name);
    return v && *v ? v : NULL;
}

/* 1 when S has no control characters (what the LOGIN refuses in a username). */
static int no_controls(const char *s)
{
    for (; *s; ++s) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* The key of FLOW's wrong-password counter in the shared cache. */
static const char *attempts_key(apr_pool_t *pool, const cn_flow_t *flow)
{
    return apr_pstrcat(pool, "imap-attempts.", cn_sha256_hex(pool, flow->state,
                                                             strlen(flow->state)), NULL);
}

/* One more wrong password for FLOW: 1 when that was the last one allowed. */
static int attempts_spent(cn_ctx_t *ctx, const cn_flow_t *flow)
{
    long n = 0;
    apr_int64_t ttl = flow->deadline - ctx->now;
    if (!ctx->cache || ctx->cache->incr(ctx->cache->baton, ctx->pool, attempts_key(ctx->pool, flow),
                                        1, ttl > 60 ? ttl : 60, &n) != APR_SUCCESS) {
        /* No count can be kept: a second try could be the hundredth. */
        cn_log(ctx, CN_LOG_WARNING, CNLOGNO(00901) "no shared cache to count IMAP attempts in: "
               "the flow ends at the first wrong password");
        return 1;
    }
    return n >= CN_IMAP_ATTEMPTS;
}

/* ---- what the form shows ---- */

/* Display names of the kinds of mailbox whose providers want an app password. */
static const struct {
    const char *type, *name;
} names[] = {
    {"yahoo", "Yahoo Mail"}, {"icloud", "iCloud Mail"}, {"aol", "AOL Mail"},
    {"gmx", "GMX"}, {"webde", "WEB.DE"}, {"web.de", "WEB.DE"}, {"fastmail", "Fastmail"},
    {"zoho", "Zoho Mail"}, {"yandex", "Yandex Mail"}, {"mailru", "Mail.ru"},
    {"mail.ru", "Mail.ru"}, {"google", "Gmail"}, {"microsoft", "Outlook.com"},
    {NULL, NULL}
};

static const char *type_name(const char *type)
{
    int i;
    for (i = 0; type && names[i].type; ++i) {
        if (!strcmp(names[i].type, type)) {
            return names[i].name;
        }
    }
    return NULL;
}

static void set_str(json_t *v, const char *key, const char *value)
{
    json_object_set_new(v, key, json_string(value ? value : ""));
}

json_t *cn_flow_imap_values(cn_ctx_t *ctx, const cn_flow_t *flow, const apr_table_t *form)
{
    json_t *v = cn_json_own(ctx->pool, json_object());
    const char *email = form ? field(form, "email") : flow->login_hint;
    const char *username = form ? field(form, "username") : NULL;
    const char *host = form ? field(form, "host") : NULL;
    const char *port = form ? field(form, "port") : NULL;
    const char *security = form ? field(form, "security") : NULL;
    const char *type = flow->mail_type, *hint_url = NULL, *name;
    const cn_mail_settings_t *found = found_for(ctx, email);

    if (found) {
        type = found->type ? found->type : type;
        hint_url = found->hint_url;
        if (!form) { /* the first showing: what was found, to check or change */
            host = found->imap_host;
            port = apr_itoa(ctx->pool, found->imap_port);
            security = found->security;
            username = found->username && email && strcmp(found->username, email)
                           ? found->username : NULL;
        }
    }
    else if (!hint_url && type) {
        const cn_known_domain_t *k = cn_providers_of_type(type);
        hint_url = k ? k->hint_url : NULL;
        if (k && !form && !host) {
            host = k->imap_host;
            port = apr_itoa(ctx->pool, k->imap_port);
            security = CN_IMAP_SSL;
        }
    }
    set_str(v, "email", email);
    set_str(v, "username", username);
    set_str(v, "host", host);
    set_str(v, "port", port);
    json_object_set_new(v, "security_ssl", json_boolean(!security || !strcmp(security, CN_IMAP_SSL)));
    json_object_set_new(v, "security_starttls",
                        json_boolean(security && !strcmp(security, CN_IMAP_STARTTLS)));
    /* Open when nothing was found to fill them, or the user set them. */
    json_object_set_new(v, "advanced_open", json_boolean((email && !found && !host)
                                                         || (form && (username || host))));
    if (hint_url && (name = type_name(type))) {
        json_object_set_new(v, "hint",
                            json_pack("{s:s,s:s}", "text",
                                      apr_psprintf(ctx->pool,
                                                   "%s asks for an app password here, not "
                                                   "your usual password. Create one in your "
                                                   "%s account's security settings.",
                                                   name, name),
                                      "url", hint_url));
    }
    return v;
}

static apr_status_t imap_finish(cn_ctx_t *ctx, const cn_flow_t *flow,
                                const cn_flow_origin_t *origin, const apr_table_t *form,
                                cn_flow_proof_t *proof)
{
    cn_imap_form_t in;
    cn_imap_login_t login = {0};
    cn_event_id_t ev;

    if (cn_flow_imap_read(ctx, flow, form, &in) != APR_SUCCESS) {
        return again(proof, in.fault);
    }
    login.email = in.email;
    login.username = in.username;
    login.password = in.password;
    login.host = in.host;
    login.port = in.port;
    login.security = in.security;
    login.type = in.type;
    if (cn_imap_prove(ctx, &login, proof) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    ev = ctx->res.event ? ctx->res.event->id : CN_EV_INTERNAL_ERROR;
    if (ev == CN_EV_INVALID_AUTHENTICATION) {
        if (attempts_spent(ctx, flow)) {
            return cn_fail(ctx->pool, &ctx->res, CN_EV_AUTH_LIMIT_REACHED,
                           "%d wrong passwords", CN_IMAP_ATTEMPTS);
        }
        return again(proof, "password");
    }
    /* The server: not answering, not trusted, not reachable as asked. */
    return again(proof, "host");
}

/* ---- the form's fields ---- */

apr_status_t cn_flow_imap_read(cn_ctx_t *ctx, const cn_flow_t *flow, const apr_table_t *form,
                               cn_imap_form_t *in)
{
    const char *port_s, *end_msg = NULL;
    char *end;
    long port;

    memset(in, 0, sizeof(*in));
    in->email = field(form, "email");
    in->password = apr_table_get(form, "password");
    in->username = field(form, "username");
    in->host = field(form, "host");
    port_s = field(form, "port");
    in->security = field(form, "security");
    in->type = flow->mail_type;
    if (!in->email || !cn_email_valid(in->email)) {
        in->fault = "email";
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "Enter your email address, like name@example.com.");
    }
    if (!in->password || !*in->password) {
        in->fault = "password";
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST, "Enter your password.");
    }
    /* The LOGIN's own limits (cn_imap_login_check), said in the form's words. */
    if (strlen(in->password) > CN_IMAP_PASSWORD_MAX
        || (in->username && strlen(in->username) > CN_IMAP_USERNAME_MAX)) {
        in->fault = in->username && strlen(in->username) > CN_IMAP_USERNAME_MAX ? "username"
                                                                                : "password";
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "That is longer than any mailbox accepts.");
    }
    if (in->username && !no_controls(in->username)) {
        in->fault = "username";
        return cn_fail(ctx->pool, &ctx->res, CN_EV_INVALID_REQUEST,
                       "Enter the user name without tabs or line breaks.");
    }
    /* What was not given, discovery fills (the form shows what it found). */
    if (!in->host) {
        const cn_mail_settings_t *found = found_for(ctx, in->email);
        if (found) {
            /* No server given: where it is, as found (the form's security
             * select always sends its default, which says nothing then). */
            in->host = found->imap_host;
            port_s = port_s ? port_s : apr_itoa(ctx->pool, found->imap_port);
            in->security = found->security ? found->security : CN_IMAP_SSL;
            in->username = in->username ? in->username : found->username;
            in->type = in->type ? in->type : found->type;
        }
    }
    if (!in->host) {
        in->fault = "host";
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                       "We could not find your mail server. Enter it under Advanced settings.");
    }
    if (!cn_imap_host_valid(in->host)) {
        in->fault = "host";
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                       "Enter the server's host name, like imap.example.com.");
    }
    in->security = in->security ? in->security : CN_IMAP_SSL;
    /* The form offers no plain IMAP (a password in the clear). */
    if (strcmp(in->security, CN_IMAP_SSL) && strcmp(in->security, CN_IMAP_STARTTLS)) {
        in->fault = "security";
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID,
                       "Choose SSL/TLS or STARTTLS.");
    }
    if (!port_s) {
        port = strcmp(in->security, CN_IMAP_SSL) ? CN_IMAP_PORT_STARTTLS : CN_IMAP_PORT_SSL;
    }
    else {
        port = strtol(port_s, &end, 10);
        if (*end || port < 1 || port > 65535 || strlen(port_s) > 5) {
            end_msg = "Enter a port number from 1 to 65535, like 993.";
        }
    }
    if (end_msg) {
        in->fault = "port";
        return cn_fail(ctx->pool, &ctx->res, CN_EV_PROVIDER_SETTINGS_INVALID, "%s", end_msg);
    }
    in->port = (int)port;
    in->username = in->username ? in->username : in->email;
    return APR_SUCCESS;
}

const cn_flow_step_t cn_flow_step_imap = {
    "imap", CN_PROVIDER_PASSWORD, 1, imap_start, imap_finish
};
