"""OAuth 1.0a (RFC 5849, HMAC-SHA1, 2-legged) for the Context.IO 2.0 runs.

  cio_sign.py headers KEY SECRET_FILE METHOD URL FORM COUNT OUT
      writes COUNT Authorization headers for METHOD URL with the form body
      FORM (x-www-form-urlencoded, or "" for none), one a line, each with a
      nonce of its own and all stamped now: the server takes a timestamp
      within 300 s and each nonce once, so they are written just before the
      run that spends them (bench/cio.lua, each wrk thread its own slice).
  cio_sign.py token PORT KEY SECRET_FILE CALLBACK_URL
      creates a connect token with one signed POST /2.0/connect_tokens and
      prints it (the token the reads ask for).
"""
import base64, hashlib, hmac, http.client, json, os, sys, time
from urllib.parse import parse_qsl, quote, urlsplit


def enc(s):
    return quote(s, safe="~")


def base_uri(url):
    u = urlsplit(url)
    host = u.hostname.lower()
    default = {"http": 80, "https": 443}[u.scheme.lower()]
    port = f":{u.port}" if u.port and u.port != default else ""
    return f"{u.scheme.lower()}://{host}{port}{u.path}"


class Signer:
    """Signs METHOD URL FORM: everything but the nonce and the timestamp is
    done once (the sorted parameters split around them)."""

    def __init__(self, key, secret, method, url, form):
        self.key = (enc(secret) + "&").encode()
        params = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        params += parse_qsl(form, keep_blank_values=True)
        params += [("oauth_consumer_key", key), ("oauth_signature_method", "HMAC-SHA1"),
                   ("oauth_version", "1.0"), ("oauth_nonce", "\0"), ("oauth_timestamp", "\1")]
        pairs = sorted((enc(k), enc(v)) for k, v in params)
        norm = "&".join(f"{k}={v}" for k, v in pairs)
        self.prefix = f"{method.upper()}&{enc(base_uri(url))}&"
        self.norm = norm
        self.consumer = enc(key)

    def header(self, nonce, timestamp):
        norm = self.norm.replace("%00", enc(nonce)).replace("%01", str(timestamp))
        base = self.prefix + enc(norm)
        sig = base64.b64encode(hmac.new(self.key, base.encode(), hashlib.sha1).digest()).decode()
        return (f'OAuth oauth_consumer_key="{self.consumer}", oauth_nonce="{enc(nonce)}", '
                f'oauth_signature="{enc(sig)}", oauth_signature_method="HMAC-SHA1", '
                f'oauth_timestamp="{timestamp}", oauth_version="1.0"')


def secret_of(path):
    with open(path) as f:
        return f.read().strip()


def main(argv):
    if argv[1] == "headers":
        key, secret, method, url, form, count, out = argv[2:9]
        signer = Signer(key, secret_of(secret), method, url, form)
        now, run = int(time.time()), os.urandom(6).hex()
        with open(out, "w") as f:
            for i in range(int(count)):
                f.write(signer.header(f"{run}-{i}", now) + "\n")
    elif argv[1] == "token":
        port, key, secret, callback = argv[2:6]
        url = f"http://127.0.0.1:{port}/2.0/connect_tokens"
        form = "callback_url=" + enc(callback)
        auth = Signer(key, secret_of(secret), "POST", url, form).header(os.urandom(8).hex(),
                                                                        int(time.time()))
        conn = http.client.HTTPConnection("127.0.0.1", int(port))
        conn.request("POST", "/2.0/connect_tokens", form,
                     {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"POST /2.0/connect_tokens: {r.status} {body[:200]!r}")
        print(json.loads(body)["token"])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
