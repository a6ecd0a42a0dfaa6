"""Seed the benchmark database directly: grants spread over applications and
providers, and single-use hosted login requests (ids written to a file for
wrk). The rows look like the module's own (ids, sealed-looking secrets)."""
import hashlib, json, secrets, sqlite3, sys, time, uuid

db, grants, apps, logins, ids_file = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
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
con.commit()
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
open(ids_file, "w").write("\n".join(ids) + "\n")
sample = con.execute("SELECT id FROM grants WHERE app_id = 'app7' LIMIT 1").fetchone()[0]
print(sample)
