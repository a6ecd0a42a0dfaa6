#!/usr/bin/env python3
"""Fake Google and Microsoft OAuth 2.0 endpoints over TLS, shaped like the real
ones (JSON bodies and error bodies included), for the test suite.

Routes (PREFIX = /google or /microsoft/<tenant>):
  GET  /google/authorize, /microsoft/<tenant>/oauth2/v2.0/authorize   auto-consent → 302 redirect_uri?code&state
  POST /google/token,     /microsoft/<tenant>/oauth2/v2.0/token       authorization_code (+PKCE S256), refresh_token
  GET  /google/userinfo,  /microsoft/graph/v1.0/me                    Bearer access token
  GET  /google/tokeninfo?access_token=                               what an access token this fake issued is
                                                                      (Google's tokeninfo: email, scope, expires_in);
                                                                      any other token: 400 invalid_token (a Dovecot
                                                                      oauth2 passdb validates XOAUTH2 bearers here)
  POST /google/revoke                                                 token=...
  GET  /_log                                                          what was received (JSON)
  GET  /_issued                                                       what was handed out: codes, access and
                                                                      refresh tokens, with their user (JSON)
  POST /_seed   provider=&refresh_token=&email=                       register a refresh token (native auth)
  GET  /autoconfig/<domain>/config-v1.1.xml                           the domain's Thunderbird autoconfig document:
                                                                      t/fake/autoconfig/<domain>.xml, for ac-big.test
                                                                      10 MB, else 404 (auto-discovery tests)
  GET  /_hits/autoconfig/<domain>                                     how often that document was asked for (JSON)
  GET  /_hits/tls/<name>                                              how many TLS handshakes named <name> (SNI),
                                                                      e.g. auto-discovery's guess (JSON)

The TLS port also stands in for an IMAP server's 993 in auto-discovery's
guess (a TLS handshake is all it checks): the certificate names
imap.guess.test and mail.guess-mail.test besides 127.0.0.1.

Usage: fake_provider.py PORT CERT KEY [SEEDFILE]. PORT 0 takes a free port;
the first line printed names the port ("fake providers on https://127.0.0.1:PORT").
SEEDFILE lines "provider refresh_token email" register refresh tokens at start.

The login_hint names the account: "email", or "who|email" for another
account that shows the same address (another Google user, or a user of
another Microsoft tenant whose admin set its mail attributes to that
address: the "nOAuth" pattern). An account's identity (Google sub; Microsoft
tid + oid) derives from who and the lowercased address. A Google "who"
account has the address verified (what a key on the email would confuse); a
Microsoft "who" account is a user of tenant <who> whose admin set its mail
attributes: no xms_edov claim, userPrincipalName <local>@<who>.onmicrosoft.example.

Behaviour is chosen by the user's login_hint (its local part), so parallel
flows do not interfere:
  deny*        authorize answers error=access_denied
  slow*        the token endpoint sleeps 5 s
  t500*        the token endpoint answers 500
  tbadjson*    the token endpoint answers malformed JSON
  thtml*       the token endpoint answers an HTML page
  norefresh*   no refresh_token in the token answer
  narrow*      the granted scope lacks the requested ones
  noemail*     the id_token has no email (userinfo / Graph /me is asked)
  badgrant*    the code exchange fails with invalid_grant
  unverified*  Google: email_verified false; Microsoft: the email claim without xms_edov
  notid*       Microsoft: the id_token has no tid
  rgone*       a refresh (grant_type refresh_token) answers invalid_grant
  r500*        a refresh answers 500
  rslow*       a refresh sleeps 1 s (concurrent callers pile up behind it)
  rflaky*      the first three refreshes answer 503, then they work
  rblip*       every other refresh answers 503 (the first, the third, ...)
Without a login_hint the user is user@example.com.
"""
import base64, hashlib, json, os, re, secrets, socket, ssl, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENTS = {"google": ("test-google-client", "test-google-secret"),
           "microsoft": ("test-ms-client", "test-ms-secret")}
lock = threading.Lock()
codes = {}      # code -> dict(email, scope, challenge, redirect_uri, provider, fault)
refresh = {}    # refresh token -> dict(email, scope, provider)
access = {}     # access token -> dict(email, provider)
log = []        # (method, path, form/query keys)
refreshes = {}  # email -> refreshes asked for (rflaky, rblip)
issued = []     # {"kind": code|access|refresh, "value", "email", "provider"}
CTX = None      # the server's TLS context
AUTOCONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "autoconfig")
autoconfig_hits = {}  # domain -> documents asked for
tls_hits = {}         # server name a client asked for (SNI) -> TLS handshakes begun


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims):
    head = b64url(json.dumps({"alg": "RS256", "kid": "fake", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(b'not-a-real-signature')}"


CONSUMER_TID = "9188040d-6c67-4c5b-b112-36a304b66dad"


def account_of(hint):
    """(who, email) of a login_hint "email" or "who|email"."""
    who, _, email = hint.rpartition("|")
    return who, email


def account_key(who, email):
    return (who + "|" if who else "") + email.lower()


def google_sub(who, email):
    return hashlib.sha1(account_key(who, email).encode()).hexdigest()


def microsoft_oid(who, email):
    return "ms-" + hashlib.sha1(account_key(who, email).encode()).hexdigest()[:16]


def microsoft_tid(who):
    if not who:
        return CONSUMER_TID
    h = hashlib.sha1(who.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def microsoft_upn(who, email):
    if not who:
        return email
    return email.split("@")[0] + "@" + who + ".onmicrosoft.example"


def fault_of(email):
    local = email.split("@")[0]
    for f in ("deny", "slow", "t500", "tbadjson", "thtml", "norefresh", "narrow", "noemail", "badgrant",
              "unverified", "notid", "rgone", "r500", "rslow", "rflaky", "rblip"):
        if local.startswith(f):
            return f
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one segment: no Nagle/delayed-ACK stalls.
    disable_nagle_algorithm = True
    wbufsize = 65536

    def setup(self):
        # The TLS handshake happens here, in the connection's own thread, so a
        # slow or silent client does not hold up the accept loop.
        self.request.settimeout(30)
        self.request = CTX.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/json; charset=utf-8", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, status, obj):
        self.send(status, json.dumps(obj))

    def provider_of(self, path):
        if path.startswith("/google/"):
            return "google", path[len("/google/"):]
        if path.startswith("/microsoft/graph/"):
            return "microsoft", "graph/" + path[len("/microsoft/graph/"):]
        if path.startswith("/microsoft/"):
            rest = path[len("/microsoft/"):].split("/", 1)
            tail = rest[1] if len(rest) > 1 else ""
            return "microsoft", tail.replace("oauth2/v2.0/", "")
        return None, None

    def oauth_error(self, provider, status, error, description):
        if provider == "microsoft":
            code = {"invalid_grant": 70008, "invalid_client": 7000215}.get(error, 90000)
            self.send_json(status, {
                "error": error,
                "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {secrets.token_hex(8)}",
                "error_codes": [code], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"),
                "trace_id": secrets.token_hex(8), "correlation_id": secrets.token_hex(8)})
        else:
            self.send_json(status, {"error": error, "error_description": description})

    # ---- GET ----------------------------------------------------------------
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        with lock:
            log.append({"method": "GET", "path": url.path, "params": q})
        if url.path == "/_log":
            with lock:
                return self.send_json(200, log)
        if url.path == "/_issued":
            with lock:
                return self.send_json(200, issued)
        m = re.fullmatch(r"/autoconfig/([a-z0-9.-]+)/config-v1\.1\.xml", url.path)
        if m:
            return self.autoconfig(m.group(1))
        m = re.fullmatch(r"/_hits/autoconfig/([a-z0-9._-]+)", url.path)
        if m:
            with lock:
                return self.send_json(200, {"domain": m.group(1), "hits": autoconfig_hits.get(m.group(1), 0)})
        m = re.fullmatch(r"/_hits/tls/([a-z0-9._-]+)", url.path)
        if m:
            with lock:
                return self.send_json(200, {"name": m.group(1), "hits": tls_hits.get(m.group(1), 0)})
        provider, op = self.provider_of(url.path)
        if op in ("v2.0/adminconsent",) or (op or "").startswith("graph/v1.0/users/"):
            return app_get(self, url.path, op, q)  # app permissions (below)
        if op == "authorize":
            return self.authorize(provider, q)
        if op in ("userinfo", "graph/v1.0/me"):
            return self.userinfo(provider)
        if provider == "google" and op == "tokeninfo":
            return self.tokeninfo(q.get("access_token", ""))
        self.send_json(404, {"error": "not_found"})

    def autoconfig(self, domain):
        with lock:
            autoconfig_hits[domain] = autoconfig_hits.get(domain, 0) + 1
        if domain == "ac-big.test":
            # 10 MB of a well-formed document: the client must stop reading
            head = b'<?xml version="1.0"?><clientConfig version="1.1"><!-- '
            tail = b" --></clientConfig>"
            total = 10 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(total))
            self.end_headers()
            try:
                self.wfile.write(head)
                chunk, left = b"x" * 65536, total - len(head) - len(tail)
                while left > 0:
                    self.wfile.write(chunk[:left])
                    left -= min(left, len(chunk))
                self.wfile.write(tail)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                self.close_connection = True
            return
        path = os.path.join(AUTOCONFIG_DIR, domain + ".xml")
        if not os.path.isfile(path):
            return self.send(404, "<html><body>Not Found</body></html>", "text/html")
        with open(path, "rb") as f:
            self.send(200, f.read(), "application/xml")

    def authorize(self, provider, q):
        redirect_uri = q.get("redirect_uri", "")
        if not known_client(provider, q.get("client_id")) or not redirect_uri:
            return self.send(400, "<html><body>Error 400: invalid_request</body></html>", "text/html")
        who, email = account_of(q.get("login_hint") or "user@example.com")
        fault = fault_of(email)
        sep = "&" if "?" in redirect_uri else "?"
        if fault == "deny":
            loc = redirect_uri + sep + urllib.parse.urlencode(
                {"error": "access_denied", "error_description": "The user denied access", "state": q.get("state", "")})
            return self.send(302, "", "text/html", [("Location", loc)])
        code = secrets.token_urlsafe(24)
        with lock:
            codes[code] = {"email": email, "who": who, "scope": q.get("scope", ""), "provider": provider,
                           "challenge": q.get("code_challenge"), "method": q.get("code_challenge_method"),
                           "redirect_uri": redirect_uri, "fault": fault}
            issued.append({"kind": "code", "value": code, "email": email, "provider": provider, "who": who})
        loc = redirect_uri + sep + urllib.parse.urlencode({"code": code, "state": q.get("state", "")})
        self.send(302, "", "text/html", [("Location", loc)])

    def userinfo(self, provider):
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with lock:
            who = access.get(token)
        if not who:
            if provider == "microsoft":
                return self.send_json(401, {"error": {"code": "InvalidAuthenticationToken",
                                                      "message": "Access token is empty."}})
            return self.send_json(401, {"error": "invalid_token", "error_description": "Invalid Credentials"})
        acct, email = who.get("who", ""), who["email"]
        if provider == "microsoft":
            return self.send_json(200, {"id": microsoft_oid(acct, email), "mail": email,
                                        "userPrincipalName": microsoft_upn(acct, email),
                                        "displayName": "Test User"})
        self.send_json(200, {"sub": google_sub(acct, email), "email": email,
                             "email_verified": fault_of(email) != "unverified"})

    def tokeninfo(self, token):
        with lock:
            who = access.get(token)
        left = int(who["exp"] - time.time()) if who else 0
        if not who or who["provider"] != "google" or left <= 0:
            return self.send_json(400, {"error": "invalid_token", "error_description": "Invalid Value"})
        cid = CLIENTS["google"][0]
        self.send_json(200, {"azp": cid, "aud": cid, "sub": google_sub(who.get("who", ""), who["email"]),
                             "scope": who.get("scope", ""), "exp": str(int(who["exp"])),
                             "expires_in": str(left), "email": who["email"], "email_verified": "true",
                             "access_type": "offline"})

    # ---- POST ---------------------------------------------------------------
    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        with lock:
            log.append({"method": "POST", "path": url.path,
                        "params": {k: ("<secret>" if k in ("client_secret",) else v) for k, v in form.items()}})
        if url.path == "/_seed":
            if form.get("provider") not in CLIENTS or not form.get("refresh_token") or not form.get("email"):
                return self.send_json(400, {"error": "provider, refresh_token and email are required"})
            with lock:
                who, email = account_of(form["email"])
                refresh[form["refresh_token"]] = {"email": email, "who": who,
                                                  "scope": form.get("scope", "openid email"),
                                                  "provider": form["provider"]}
            return self.send_json(200, {})
        if url.path.startswith("/_app/"):
            return app_control(self, url.path, form)  # app permissions (below)
        provider, op = self.provider_of(url.path)
        if op == "token" and form.get("grant_type") in APP_GRANT_TYPES:
            return app_token(self, provider, url.path, form)  # app permissions (below)
        if op == "token":
            return self.token(provider, form)
        if op == "revoke":
            return self.send_json(200, {})
        self.send_json(404, {"error": "not_found"})

    def issue(self, provider, email, scope, fault, with_refresh=True, who=""):
        at = "at-" + secrets.token_urlsafe(24)
        rt = "rt-" + secrets.token_urlsafe(24)
        with lock:
            access[at] = {"email": email, "provider": provider, "who": who, "scope": scope,
                          "exp": time.time() + 3599}
            issued.append({"kind": "access", "value": at, "email": email, "provider": provider, "who": who})
            if with_refresh:
                refresh[rt] = {"email": email, "scope": scope, "provider": provider, "who": who}
                issued.append({"kind": "refresh", "value": rt, "email": email, "provider": provider, "who": who})
        granted = scope
        if fault == "narrow":
            granted = " ".join(s for s in scope.split() if s in ("openid", "email")) or "openid"
        claims = {"iss": "https://accounts.google.com" if provider == "google"
                  else f"https://login.microsoftonline.com/{microsoft_tid(who)}/v2.0",
                  "aud": CLIENTS[provider][0], "iat": int(time.time()), "exp": int(time.time()) + 3600,
                  "sub": google_sub(who, email)}
        verified = fault != "unverified" and not (who and provider == "microsoft")
        if provider == "microsoft" and fault != "notid":
            claims["tid"] = microsoft_tid(who)
        if fault != "noemail":
            claims["email"] = email
            if provider == "google":
                claims["email_verified"] = verified
            else:
                claims["preferred_username"] = email
                claims["oid"] = microsoft_oid(who, email)
                if verified:
                    claims["xms_edov"] = True
        body = {"access_token": at, "expires_in": 3599, "scope": granted, "token_type": "Bearer",
                "id_token": jwt(claims)}
        if provider == "microsoft":
            body["ext_expires_in"] = 3599
        if with_refresh:
            body["refresh_token"] = rt
        return body

    def token(self, provider, form):
        if not known_client(provider, form.get("client_id"), form.get("client_secret")):
            return self.oauth_error(provider, 401, "invalid_client", "The OAuth client was not found.")
        gt = form.get("grant_type")
        if gt == "authorization_code":
            with lock:
                c = codes.pop(form.get("code", ""), None)
            if not c:
                return self.oauth_error(provider, 400, "invalid_grant", "Malformed auth code.")
            fault = c["fault"]
            if fault == "slow":
                time.sleep(5)
            if fault == "t500":
                return self.send(500, "<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html")
            if fault == "tbadjson":
                return self.send(200, '{"access_token": "at-broken", "expires_in": ')
            if fault == "thtml":
                return self.send(200, "<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
            if fault == "badgrant":
                return self.oauth_error(provider, 400, "invalid_grant", "Bad Request")
            if form.get("redirect_uri") != c["redirect_uri"]:
                return self.oauth_error(provider, 400, "redirect_uri_mismatch", "Bad Request")
            verifier = form.get("code_verifier", "")
            if c["challenge"]:
                if c["method"] != "S256" or b64url(hashlib.sha256(verifier.encode()).digest()) != c["challenge"]:
                    return self.oauth_error(provider, 400, "invalid_grant", "Invalid code verifier.")
            body = self.issue(provider, c["email"], c["scope"], fault, with_refresh=(fault != "norefresh"),
                              who=c["who"])
            return self.send_json(200, body)
        if gt == "refresh_token":
            with lock:
                r = refresh.get(form.get("refresh_token", ""))
            if not r or r["provider"] != provider:  # a token is only good where it was issued
                return self.oauth_error(provider, 400, "invalid_grant", "Token has been expired or revoked.")
            rfault = fault_of(r["email"])
            if rfault == "rgone":
                return self.oauth_error(provider, 400, "invalid_grant", "Token has been expired or revoked.")
            if rfault == "r500":
                return self.send(500, "<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html")
            if rfault == "rslow":
                time.sleep(1)
            if rfault in ("rflaky", "rblip"):
                with lock:
                    n = refreshes[r["email"]] = refreshes.get(r["email"], 0) + 1
                if (rfault == "rflaky" and n <= 3) or (rfault == "rblip" and n % 2 == 1):
                    return self.send(503, "<html><body><h1>503 Service Unavailable</h1></body></html>",
                                     "text/html")
            body = self.issue(provider, r["email"], r["scope"], fault_of(r["email"]),
                              with_refresh=(provider == "microsoft"), who=r.get("who", ""))
            return self.send_json(200, body)
        self.oauth_error(provider, 400, "unsupported_grant_type", "Invalid grant_type")


# ==== App permissions (issue 13) =============================================
# Microsoft apps of adminconsent credentials: client_id "msapp-<tag>" with
# client_secret "<client_id>-secret".
#   GET /microsoft/<tenant>/v2.0/adminconsent?client_id&redirect_uri&scope&state
#       the admin consents (302 redirect_uri?admin_consent=True&tenant=<tid>&
#       state&scope) for tenant <tid>: microsoft_tid(client_id) when <tenant> is
#       common or organizations, else <tenant> (a GUID as it is, a name hashed
#       like microsoft_tid). A client id holding "decline": the admin declines
#       (error=access_denied, AADSTS65004). An unknown client: an error page.
#   POST /microsoft/<tenant>/oauth2/v2.0/token grant_type=client_credentials
#       (scope https://graph.microsoft.com/.default): a token only at the
#       consented tenant, else AADSTS700016 unauthorized_client (the app is not
#       in that directory: wrong tenant, or consent withdrawn). The token
#       carries the app's roles, none for a client id holding "noroles".
#   GET /microsoft/graph/v1.0/users/<email> with such a token: the user (id
#       microsoft_oid(<tid>, email), userPrincipalName email); 404
#       Request_ResourceNotFound for local parts "nouser*"; 403
#       Authorization_RequestDenied without roles; 401 for another token.
#   POST /_app/msconsent/revoke client_id=     the admin withdraws the consent
# Integration credentials: client ids "cred-<tag>" with secret
# "<client_id>-secret" are clients of both fakes (authorize, code, refresh).
# Google service accounts:
#   POST /_app/serviceaccount client_email=&key_id=&public_key=<PEM>&scopes=
#       registers one: its public key (the test made the pair) and the scopes
#       it may be delegated (space separated)
#   POST /_app/serviceaccount/revoke client_email=    deletes it
#   POST /google/token grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
#       &assertion=JWT: the signature (RS256, the kid registered) verified
#       against the public key, then aud (this token URL), iat/exp (at most an
#       hour, not expired), sub (local parts "nouser*" are unknown users) and
#       scope (non-empty, each delegated), answered with Google's error bodies;
#       an access token for sub (no refresh token) otherwise.
APP_GRANT_TYPES = ("client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer")
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
ms_consents = {}        # client_id -> tenant id whose admin consented
service_accounts = {}   # client_email -> {key_id, public_key (PEM), scopes}


def known_client(provider, client_id, secret=None):
    """The fake's own client of PROVIDER, or an integration credential's."""
    cid, csecret = CLIENTS[provider]
    if client_id == cid:
        return secret is None or secret == csecret
    if client_id and client_id.startswith("cred-"):
        return secret is None or secret == client_id + "-secret"
    return False


def tenant_guid(tenant):
    if re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", tenant):
        return tenant.lower()
    return microsoft_tid(tenant)


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def graph_error(h, status, code, message):
    h.send_json(status, {"error": {"code": code, "message": message,
                                   "innerError": {"date": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                                  "request-id": secrets.token_hex(8)}}})


def aad_error(h, status, error, code, description):
    h.send_json(status, {
        "error": error,
        "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {secrets.token_hex(8)}",
        "error_codes": [code], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": secrets.token_hex(8), "correlation_id": secrets.token_hex(8)})


def app_get(h, path, op, q):
    if op == "v2.0/adminconsent":
        tenant = path.split("/")[2]
        cid, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if not cid.startswith("msapp-"):
            return h.send(400, f"<html><body>AADSTS700016: Application with identifier '{cid}' was not "
                               "found in the directory.</body></html>", "text/html")
        if not redirect_uri or GRAPH_DEFAULT not in q.get("scope", "").split():
            return h.send(400, "<html><body>AADSTS900144: The request must contain redirect_uri and "
                               "scope.</body></html>", "text/html")
        sep = "&" if "?" in redirect_uri else "?"
        if "decline" in cid:
            answer = {"error": "access_denied", "state": q.get("state", ""),
                      "error_description": "AADSTS65004: User declined to consent to access the app."}
        else:
            tid = microsoft_tid(cid) if tenant in ("common", "organizations") else tenant_guid(tenant)
            with lock:
                ms_consents[cid] = tid
            answer = {"admin_consent": "True", "tenant": tid, "state": q.get("state", ""),
                      "scope": GRAPH_DEFAULT}
        return h.send(302, "", "text/html", [("Location", redirect_uri + sep + urllib.parse.urlencode(answer))])
    # Graph /users/<email>
    email = urllib.parse.unquote(op[len("graph/v1.0/users/"):])
    auth = h.headers.get("Authorization", "")
    with lock:
        info = access.get(auth[7:] if auth.startswith("Bearer ") else "")
    if not info or info.get("kind") != "app":
        return graph_error(h, 401, "InvalidAuthenticationToken", "Access token validation failure.")
    if not info.get("roles"):
        return graph_error(h, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    if "@" not in email or email.split("@")[0].startswith("nouser"):
        return graph_error(h, 404, "Request_ResourceNotFound",
                           f"Resource '{email}' does not exist or one of its queried reference-property "
                           "objects are not present.")
    h.send_json(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                      "id": microsoft_oid(info["tenant"], email), "userPrincipalName": email,
                      "mail": email, "displayName": email.split("@")[0]})


def app_control(h, path, form):
    with lock:
        if path == "/_app/msconsent/revoke":
            ms_consents.pop(form.get("client_id", ""), None)
            return h.send_json(200, {})
        if path == "/_app/serviceaccount":
            service_accounts[form["client_email"]] = {"key_id": form["key_id"], "public_key": form["public_key"],
                                                      "scopes": form.get("scopes", "").split()}
            return h.send_json(200, {})
        if path == "/_app/serviceaccount/revoke":
            service_accounts.pop(form.get("client_email", ""), None)
            return h.send_json(200, {})
    h.send_json(404, {"error": "not_found"})


def app_issue(provider, email, extra):
    at = ("ya29.sa-" if provider == "google" else "eyJ0.app-") + secrets.token_urlsafe(24)
    with lock:
        access[at] = dict({"email": email, "provider": provider, "who": ""}, **extra)
        issued.append({"kind": "access", "value": at, "email": email, "provider": provider, "who": "app"})
    return at


def app_token(h, provider, path, form):
    if form.get("grant_type") == "client_credentials" and provider == "microsoft":
        tenant = path.split("/")[2]
        cid, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not cid.startswith("msapp-") or secret != cid + "-secret":
            return aad_error(h, 401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the "
                             "secret being sent in the request is the client secret value, not the client secret ID.")
        if form.get("scope") != GRAPH_DEFAULT:
            return aad_error(h, 400, "invalid_scope", 1002012, "The provided value for scope is not valid. "
                             "Client credential flows must have a scope value with /.default suffixed.")
        if tenant in ("common", "organizations", "consumers"):
            return aad_error(h, 400, "invalid_request", 900023, f"Specified tenant identifier '{tenant}' is "
                             "neither a valid DNS name, nor a valid external domain.")
        tid = tenant_guid(tenant)
        with lock:
            consented = ms_consents.get(cid)
        if consented != tid:
            return aad_error(h, 400, "unauthorized_client", 700016, f"Application with identifier '{cid}' was "
                             f"not found in the directory '{tenant}'. This can happen if the application has "
                             "not been installed by the administrator of the tenant.")
        at = app_issue("microsoft", cid, {"kind": "app", "tenant": tid, "roles": "noroles" not in cid})
        return h.send_json(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                 "access_token": at})
    if provider != "google" or form.get("grant_type") == "client_credentials":
        return h.oauth_error(provider, 400, "unsupported_grant_type", "Invalid grant_type")

    def refuse(error, description):
        return h.send_json(400, {"error": error, "error_description": description})
    parts = form.get("assertion", "").split(".")
    try:
        header, claims = (json.loads(b64url_decode(p)) for p in parts[:2])
        signature = b64url_decode(parts[2])
        assert len(parts) == 3 and isinstance(claims, dict) and isinstance(header, dict)
    except Exception:
        return refuse("invalid_grant", "Invalid JWT: the assertion is not a JWS.")
    with lock:
        sa = service_accounts.get(claims.get("iss", ""))
    if not sa:
        return refuse("invalid_grant", "Invalid grant: account not found")
    if header.get("alg") != "RS256" or header.get("kid") != sa["key_id"]:
        return refuse("invalid_grant", "Invalid JWT Signature.")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    try:
        serialization.load_pem_public_key(sa["public_key"].encode()).verify(
            signature, (parts[0] + "." + parts[1]).encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return refuse("invalid_grant", "Invalid JWT Signature.")
    if claims.get("aud") != f"https://{h.headers.get('Host', '')}/google/token":
        return refuse("invalid_grant", "Invalid JWT: Failed audience check.")
    now, iat, exp = time.time(), claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > 3600 or exp < now or iat > now + 300:
        return refuse("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                      "reasonable timeframe. Check your iat and exp values in the JWT claim.")
    sub = claims.get("sub", "")
    if "@" not in sub or sub.split("@")[0].startswith("nouser"):
        return refuse("invalid_grant", "Invalid email or User ID")
    scopes = str(claims.get("scope", "")).split()
    if not scopes:
        return refuse("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    if any(sc not in sa["scopes"] for sc in scopes):
        return refuse("unauthorized_client", "Client is unauthorized to retrieve access tokens using this "
                      "method, or client not authorized for any of the scopes requested.")
    at = app_issue("google", sub, {"kind": "sa", "scope": " ".join(scopes)})
    return h.send_json(200, {"access_token": at, "expires_in": 3599, "token_type": "Bearer"})
# ==== end of app permissions =================================================


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512    # many parallel flows: no SYN dropped on a full backlog

    def handle_error(self, request, client_address):
        print(f"fake: connection from {client_address}: {sys.exc_info()[1]!r}", file=sys.stderr, flush=True)


def count_sni(sslobj, name, ctx):
    # Every handshake that names a server: the guess's TLS check sends
    # nothing after it, so this is where it shows.
    if name:
        with lock:
            tls_hits[name.lower()] = tls_hits.get(name.lower(), 0) + 1
    return None


def main():
    global CTX
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    seed = sys.argv[4] if len(sys.argv) > 4 else None
    if seed:  # refresh tokens the tests may use for native authentication
        for line in open(seed):
            if not line.strip() or line.startswith("#"):
                continue
            provider, token, email = line.split()
            who, email = account_of(email)
            refresh[token] = {"email": email, "who": who, "scope": "openid email", "provider": provider}
    CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    CTX.load_cert_chain(cert, key)
    CTX.sni_callback = count_sni
    httpd = Server(("127.0.0.1", port), Handler)
    print(f"fake providers on https://127.0.0.1:{httpd.server_address[1]}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
