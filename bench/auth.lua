-- POST /auth: a hosted login request per call.
wrk.method = "POST"
wrk.body = '{"provider":"google","redirect_uri":"https://app.example/cb","state":"bench","login_hint":"user@example.com"}'
wrk.headers["Content-Type"] = "application/json"
