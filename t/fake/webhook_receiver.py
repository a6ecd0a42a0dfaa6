#!/usr/bin/env python3
"""A webhook receiver for the tests: records every request it gets, in
order, and answers as it is told. Prints "webhook receiver on
127.0.0.1:PORT" once it listens; runs until it is killed.

    webhook_receiver.py [PORT]          (0 or none: a free port)

Control (JSON):
    GET  /_requests   every request so far: [{n, method, path, headers
                      (lower-case names), body (text), time, answer}]
    POST /_answers    {"default": "ok"|"fail"|"hang", "next": ["fail",
                      "hang", "ok", ...], "hang": SECONDS}: the next
                      requests get the answers of "next" in turn, then
                      the default. ok = 200, fail = 500, redirect = 302 to
                      /_moved (a sender that follows it shows up there),
                      hang = no answer for SECONDS (default 5), then 200.
    POST /_reset      forget the requests; answers back to ok
Any other request is a delivery."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"requests": [], "default": "ok", "next": [], "hang": 5.0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _answer(self, status, obj=None):
        data = json.dumps(obj if obj is not None else {"ok": status < 300}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_requests":
            with LOCK:
                return self._answer(200, STATE["requests"])
        return self._deliver(b"")

    def do_POST(self):
        body = self._body()
        if self.path == "/_answers":
            conf = json.loads(body or b"{}")
            with LOCK:
                STATE["default"] = conf.get("default", STATE["default"])
                STATE["next"] = list(conf.get("next", []))
                STATE["hang"] = float(conf.get("hang", STATE["hang"]))
            return self._answer(200)
        if self.path == "/_reset":
            with LOCK:
                STATE.update(requests=[], default="ok", next=[], hang=5.0)
            return self._answer(200)
        return self._deliver(body)

    def _deliver(self, body):
        with LOCK:
            answer = STATE["next"].pop(0) if STATE["next"] else STATE["default"]
            hang = STATE["hang"]
            STATE["requests"].append({
                "n": len(STATE["requests"]) + 1,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "time": time.time(),
                "answer": answer,
            })
        if answer == "hang":
            time.sleep(hang)
            answer = "ok"
        try:
            if answer == "redirect":
                self.send_response(302)
                self.send_header("Location", "/_moved")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._answer(500 if answer == "fail" else 200)
        except OSError:
            pass  # the sender gave up waiting


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print("webhook receiver on 127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
