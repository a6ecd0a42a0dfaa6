"""Seed the benchmark database directly: grants spread over applications and
providers, and single-use hosted login requests (ids written to a file for
wrk). The rows look like the module's own (ids, sealed-looking secrets)."""
import base64, hashlib, json, secrets, sqlite3, sys, time, uuid

db, grants, apps, logins, ids_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
# Optional: authorization codes (PKCE S256 with one verifier) and refresh
# tokens of app7, as POST /token finds them, their values written to files.
codes, codes_file, refreshes, refresh_file, verifier = (
    (int(sys.argv[6]), sys.argv[7], int(sys.argv[8]), sys.argv[9], sys.argv[10]) if len(sys.argv) > 10
    else (0, None, 0, None, None))
con = sqlite3.connect(db, timeout=30)
integ = {(a, p): i for i, a, p in con.execute("SELECT id, app_id, provider FROM integrations")}
now = int(time.time())
rows = []
for n in range(grants):
    app = f"app{n % apps + 1}"
    provider = "google" if n % 3 else "microsoft"
    gid = str(uuid.uuid4())
    rows.append((gid, app, integ[(app, provider)], provider, f"user{n}@example.com", "valid",
                 json.dumps(["openid", "email"]), "bench", f"10.0.{n % 250}.{n % 200}", None,
                 f"puid-{n}", "{}", "cn1.00000000." + secrets.token_urlsafe(48),
                 "cn1.00000000." + secrets.token_urlsafe(48), now + 3600, now - grants + n, now - grants + n))
GRANT_COLS = ("id, app_id, integration_id, provider, email, grant_status, scope, user_agent, ip, state, "
              "provider_user_id, settings, refresh_token, access_token, access_expires_at, created_at, updated_at")
con.executemany(f"INSERT INTO grants ({GRANT_COLS}) VALUES (" + ",".join("?" * 17) + ")", rows)
ids = []
lrows = []
req = json.dumps({"redirect_uri": "https://app.example/cb", "provider": "google",
                  "scope": ["https://www.googleapis.com/auth/gmail.readonly"], "state": "bench"})
for n in range(logins):
    lid = secrets.token_urlsafe(32)
    ids.append(lid)
    lrows.append((hashlib.sha256(lid.encode()).hexdigest(), "app7", integ[("app7", "google")], "google",
                  req, now + 3600, None, now, None))
con.executemany("INSERT INTO login_requests (id_digest, app_id, integration_id, provider, request, "
                "expires_at, used_at, created_at, callback_at) VALUES (?,?,?,?,?,?,?,?,?)", lrows)
sample = con.execute("SELECT id FROM grants WHERE app_id = 'app7' LIMIT 1").fetchone()[0]
if codes or refreshes:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    values = []
    crows = []
    for n in range(codes):
        code = "cnac_" + secrets.token_urlsafe(32)
        values.append(code)
        crows.append((hashlib.sha256(code.encode()).hexdigest(), "app7", sample, "https://app.example/cb",
                      "openid email", None, challenge, "S256", 1, 3600, now, now + 3600, now))
    con.executemany("INSERT INTO oauth_codes (digest, app_id, grant_id, redirect_uri, scope, nonce, challenge, "
                    "challenge_method, offline, token_lifetime, auth_time, expires_at, created_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", crows)
    open(codes_file, "w").write("\n".join(values) + "\n")
    values = []
    trows = []
    for n in range(refreshes):
        token = "cnrt_" + secrets.token_urlsafe(32)
        values.append(token)
        trows.append((hashlib.sha256(token.encode()).hexdigest(), "refresh", "app7", sample,
                      str(uuid.uuid4()), "openid email", 3600, now, now + 86400 * 90, now))
    con.executemany("INSERT INTO oauth_tokens (digest, kind, app_id, grant_id, family, scope, lifetime, "
                    "auth_time, expires_at, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)", trows)
    open(refresh_file, "w").write("\n".join(values) + "\n")
con.commit()
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
open(ids_file, "w").write("\n".join(ids) + "\n")
print(sample)
