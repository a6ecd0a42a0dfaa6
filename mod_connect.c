/* mod_connect: a self-hosted "connect your mailbox" service for Apache httpd.
 * The module record and hook registration only; see src/httpd and src/core. */
#include "cn_httpd.h"

static void register_hooks(apr_pool_t *p)
{
    /* Before mod_dbd's own post_config, so our statements join its set. */
    static const char *const before_dbd[] = {"mod_dbd.c", NULL};
    ap_hook_pre_config(cn_dbd_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_pre_config(cn_socache_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(cn_post_config, NULL, before_dbd, APR_HOOK_MIDDLE);
    ap_hook_child_init(cn_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_quick_handler(cn_quick_handler, NULL, NULL, APR_HOOK_FIRST);
    /* Before core's <Directory>/file walk (REALLY_LAST) and http's TRACE. */
    ap_hook_map_to_storage(cn_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(cn_handler, NULL, NULL, APR_HOOK_MIDDLE);
    cn_metrics_register_hooks(p);
}

/* cn_httpd.h declares the log module index (APLOG_USE_MODULE). */
module AP_MODULE_DECLARE_DATA connect_module = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    cn_create_server_conf,
    cn_merge_server_conf,
    cn_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
