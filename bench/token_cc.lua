-- POST /token, grant_type=client_credentials with HTTP Basic: oidc-provider's
-- token endpoint (the peer), as wrk drives it.
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=api"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("CN_BASIC")
