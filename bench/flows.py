"""Full hosted flows against the fake provider, as a browser would do them:
POST /auth (the application), GET /login, GET the provider's authorize,
GET /callback (the module then calls the provider's token endpoint). Prints
flows/s and flow latency percentiles."""
import base64, http.client, json, multiprocessing, ssl, sys, time, urllib.parse

port, fake_port, ca, secret_file, duration, procs = sys.argv[1:7]
port, fake_port, duration, procs = int(port), int(fake_port), float(duration), int(procs)
secret = open(secret_file).read().strip()
auth = "Basic " + base64.b64encode(f"app7:{secret}".encode()).decode()


def worker(wid, out):
    ctx = ssl.create_default_context(cafile=ca)
    api = http.client.HTTPConnection("127.0.0.1", port)
    fake = http.client.HTTPSConnection("127.0.0.1", fake_port, context=ctx)
    lat, n, errors = [], 0, 0
    end = time.time() + duration
    while time.time() < end:
        t0 = time.time()
        try:
            body = json.dumps({"provider": "google", "redirect_uri": "https://app.example/cb",
                               "state": "s", "login_hint": f"w{wid}-{n}@example.com"})
            api.request("POST", "/connect/auth", body, {"Authorization": auth, "Content-Type": "application/json"})
            r = api.getresponse(); data = json.loads(r.read())
            login = urllib.parse.urlsplit(data["data"]["url"])
            api.request("GET", login.path + "?" + login.query)
            r = api.getresponse(); r.read()
            cookie = r.getheader("Set-Cookie").split(";")[0]
            authz = urllib.parse.urlsplit(r.getheader("Location"))
            fake.request("GET", authz.path + "?" + authz.query)
            r = fake.getresponse(); r.read()
            cb = urllib.parse.urlsplit(r.getheader("Location"))
            api.request("GET", cb.path + "?" + cb.query, headers={"Cookie": cookie})
            r = api.getresponse(); r.read()
            if "success=true" not in (r.getheader("Location") or ""):
                errors += 1
        except Exception:
            errors += 1
            api = http.client.HTTPConnection("127.0.0.1", port)
            fake = http.client.HTTPSConnection("127.0.0.1", fake_port, context=ctx)
        lat.append(time.time() - t0)
        n += 1
    out.put((lat, errors))


if __name__ == "__main__":
    q = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=worker, args=(i, q)) for i in range(procs)]
    t0 = time.time()
    for p in ps: p.start()
    res = [q.get() for _ in ps]
    for p in ps: p.join()
    elapsed = time.time() - t0
    lat = sorted(x for l, _ in res for x in l)
    errors = sum(e for _, e in res)
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] * 1000 if lat else float("nan")
    print(json.dumps({"flows": len(lat), "errors": errors, "flows_per_s": len(lat) / elapsed,
                      "p50_ms": pct(0.5), "p99_ms": pct(0.99)}))
