"""Load integrations through the API: three providers per application."""
import base64, http.client, json, sys
from concurrent.futures import ThreadPoolExecutor

port, apps, keys = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def load(i):
    secret = open(f"{keys}/app{i}.secret").read().strip()
    auth = base64.b64encode(f"app{i}:{secret}".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port)
    bodies = [
        {"name": "g", "provider": "google",
         "settings": {"client_id": "test-google-client", "client_secret": "test-google-secret"},
         "redirect_uris": ["https://app.example/cb"], "scope": ["openid", "email"]},
        {"name": "m", "provider": "microsoft", "settings": {"client_id": f"m{i}", "client_secret": f"ms-{i}-secret"},
         "redirect_uris": ["https://app.example/cb"], "scope": ["Mail.Read"]},
        {"name": "i", "provider": "imap", "redirect_uris": ["https://app.example/cb"]},
    ]
    for b in bodies:
        conn.request("POST", "/connect/integrations", json.dumps(b),
                     {"Authorization": "Basic " + auth, "Content-Type": "application/json"})
        r = conn.getresponse(); r.read()
        if r.status != 201:
            raise SystemExit(f"load failed: app{i} {b['provider']} → {r.status}")
    conn.close()

with ThreadPoolExecutor(8) as ex:
    list(ex.map(load, range(1, apps + 1)))
