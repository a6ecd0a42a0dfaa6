"""Make N Google grants of one application the way an application would:
POST /connect/grants with a provider refresh token (native authentication,
one provider refresh each), the refresh tokens being those the fake
providers were started with (their seed file: "google TOKEN EMAIL" lines).
   native_grants.py PORT BASIC SEEDFILE IDS_FILE      (prints how many)"""
import http.client, json, sys
from concurrent.futures import ThreadPoolExecutor

port, basic, seed, ids_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
tokens = [line.split()[1] for line in open(seed) if line.startswith("google ")]

def make(token):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", "/connect/grants",
                 json.dumps({"provider": "google", "settings": {"refresh_token": token}}),
                 {"Authorization": "Basic " + basic, "Content-Type": "application/json"})
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    if r.status not in (200, 201):
        raise SystemExit(f"native grant failed: {r.status} {body}")
    return body["data"]["id"]

with ThreadPoolExecutor(8) as ex:
    ids = list(ex.map(make, tokens))
open(ids_file, "w").write("\n".join(ids) + "\n")
print(len(ids))
