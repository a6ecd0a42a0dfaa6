/* What a hosted error page tells the user, by family of event: what went
 * wrong in plain words and what they can do. The event's name and code are
 * shown apart, as a reference for support; nothing here names internals. */
#include "cn_template.h"

typedef enum {
    FAMILY_GENERAL = 0,   /* the zero value: events without a family of their own */
    FAMILY_LINK,
    FAMILY_REDIRECT,
    FAMILY_SETUP,
    FAMILY_REQUEST,
    FAMILY_PROVIDER,
    FAMILY_DENIED,
    FAMILY_SCOPES,
    FAMILY_OTHER_MAILBOX,
    FAMILY_PASSWORD,
    FAMILY_TOO_MANY,
    FAMILY_UNAVAILABLE,
    FAMILY__COUNT
} family_t;

static const cn_page_text_t texts[FAMILY__COUNT] = {
    [FAMILY_GENERAL] = {
        "Something went wrong",
        "We could not finish connecting your mailbox because of a problem on our side.",
        "Please try again in a few minutes. If it keeps happening, contact the support of the "
        "application you came from and give them the reference below."},
    [FAMILY_LINK] = {
        "This sign-in link cannot be used",
        "The link has expired, has already been used, or was opened in a different browser "
        "than the one it was meant for.",
        "Go back to the application you came from and start connecting your mailbox again: "
        "it will give you a new link. Each link works once."},
    [FAMILY_REDIRECT] = {
        "This application is not set up correctly",
        "The application asked to send you back to an address it has not registered, so we "
        "stopped here to keep your account safe.",
        "Nothing was connected. Please tell the application's support about this and give "
        "them the reference below."},
    [FAMILY_SETUP] = {
        "This sign-in is not available",
        "The application you came from is not set up to connect this kind of mailbox.",
        "Nothing was connected. Go back to the application and try another way to connect, or "
        "contact its support and give them the reference below."},
    [FAMILY_REQUEST] = {
        "The sign-in request was not understood",
        "The application you came from sent us a sign-in request that is incomplete or "
        "malformed.",
        "Go back to the application and start again. If it keeps happening, contact its "
        "support and give them the reference below."},
    [FAMILY_PROVIDER] = {
        "Your email provider did not finish the sign-in",
        "Your email provider did not complete the sign-in or did not answer as expected.",
        "Go back to the application and try again in a few minutes. If it keeps happening, "
        "contact the application's support and give them the reference below."},
    [FAMILY_DENIED] = {
        "Access was not granted",
        "The sign-in was cancelled or access to your mailbox was not granted.",
        "Nothing was connected. If you want to connect your mailbox, go back to the "
        "application, start again and allow access when your email provider asks."},
    [FAMILY_SCOPES] = {
        "Some permissions were not granted",
        "The application needs every permission it asked for, and some were left unchecked.",
        "Nothing was connected. Go back to the application, start again and allow all of the "
        "requested permissions."},
    [FAMILY_OTHER_MAILBOX] = {
        "A different mailbox was used",
        "You signed in with a different mailbox than the one this link is for.",
        "Go back to the application and start again, signing in with the mailbox it asked "
        "for."},
    [FAMILY_PASSWORD] = {
        "The sign-in details were not accepted",
        "Your mail server did not accept the email address and password.",
        "Check them and try again. Some providers need an app password instead of your usual "
        "password."},
    [FAMILY_TOO_MANY] = {
        "Too many attempts",
        "The sign-in failed too many times, so we stopped it to protect your account.",
        "Go back to the application and start again when you have checked your details."},
    [FAMILY_UNAVAILABLE] = {
        "The service is busy",
        "We could not reach a service we need to connect your mailbox.",
        "Please try again in a few minutes."},
};

/* Events a page can show, by family; any other event reads as FAMILY_GENERAL. */
static const family_t family_of[CN_EV__COUNT] = {
    [CN_EV_LOGIN_ID_INVALID] = FAMILY_LINK,
    [CN_EV_INVALID_TOKEN] = FAMILY_LINK,
    [CN_EV_REDIRECT_URI_NOT_ALLOWED] = FAMILY_REDIRECT,
    [CN_EV_REDIRECT_URI_MISMATCH] = FAMILY_REDIRECT,
    [CN_EV_INTEGRATION_NO_LONGER_EXISTS] = FAMILY_SETUP,
    [CN_EV_INTEGRATION_NOT_FOUND] = FAMILY_SETUP,
    [CN_EV_INTEGRATION_PROBLEM] = FAMILY_SETUP,
    [CN_EV_NO_LOGIN_SCOPES] = FAMILY_SETUP,
    [CN_EV_PROVIDER_NOT_SUPPORTED] = FAMILY_SETUP,
    [CN_EV_PROVIDER_SETTINGS_INVALID] = FAMILY_SETUP,
    [CN_EV_CREDENTIAL_NOT_FOUND] = FAMILY_SETUP,
    [CN_EV_CREDENTIAL_MISSING_PARAM] = FAMILY_SETUP,
    [CN_EV_APP_ID_NOT_ALLOWED] = FAMILY_SETUP,
    [CN_EV_INVALID_CLIENT] = FAMILY_SETUP,
    [CN_EV_UNAUTHORIZED_CLIENT] = FAMILY_SETUP,
    [CN_EV_BAD_REQUEST] = FAMILY_REQUEST,
    [CN_EV_INVALID_REQUEST] = FAMILY_REQUEST,
    [CN_EV_INVALID_QUERY_PARAMS] = FAMILY_REQUEST,
    [CN_EV_INVALID_REQUEST_PAYLOAD] = FAMILY_REQUEST,
    [CN_EV_PROVIDER_REQUIRED] = FAMILY_REQUEST,
    [CN_EV_INVALID_SCOPE] = FAMILY_REQUEST,
    [CN_EV_UNSUPPORTED_RESPONSE_TYPE] = FAMILY_REQUEST,
    [CN_EV_LOGIN_EXPIRES_IN_INVALID] = FAMILY_REQUEST,
    [CN_EV_NOT_FOUND_ERROR] = FAMILY_REQUEST,
    [CN_EV_METHOD_NOT_ALLOWED] = FAMILY_REQUEST,
    [CN_EV_PROVIDER_CODE_REQUEST_FAILED] = FAMILY_PROVIDER,
    [CN_EV_OAUTH_PROVIDER_ERROR] = FAMILY_PROVIDER,
    [CN_EV_INVALID_GRANT] = FAMILY_PROVIDER,
    [CN_EV_PROVIDER_NOT_RESPONDING] = FAMILY_PROVIDER,
    [CN_EV_OAUTH_FAILED] = FAMILY_DENIED,
    [CN_EV_GRANT_ACCESS_DENIED] = FAMILY_DENIED,
    [CN_EV_GMAIL_DOMAIN_INVALID] = FAMILY_DENIED,
    [CN_EV_SCOPES_CONFLICT] = FAMILY_SCOPES,
    [CN_EV_REAUTH_EMAIL_INVALID] = FAMILY_OTHER_MAILBOX,
    [CN_EV_INVALID_AUTHENTICATION] = FAMILY_PASSWORD,
    [CN_EV_AUTH_LIMIT_REACHED] = FAMILY_TOO_MANY,
    [CN_EV_SERVICE_UNAVAILABLE] = FAMILY_UNAVAILABLE,
};

const cn_page_text_t *cn_page_text(cn_event_id_t id)
{
    if ((int)id < 0 || id >= CN_EV__COUNT) {
        return &texts[FAMILY_GENERAL];
    }
    return &texts[family_of[id]];
}
