-- POST /connect/token with a fresh single-use secret per request from the
-- file CN_TOKENS (each thread its own slice): CN_GRANT=code is the PKCE
-- authorization-code exchange of a public client (code_verifier, no
-- secret), CN_GRANT=refresh the refresh grant with HTTP Basic (CN_BASIC).
-- CN_TOKEN_PATH is the endpoint's path (/connect/token unless set: the peer,
-- oidc-provider, answers at /token).
SLICE_FILE_ENV = "CN_TOKENS"
dofile("bench/slice.lua")
local path = os.getenv("CN_TOKEN_PATH") or "/connect/token"
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
if os.getenv("CN_BASIC") then headers["Authorization"] = "Basic " .. os.getenv("CN_BASIC") end
function request()
  local value, body = next_value()
  if os.getenv("CN_GRANT") == "code" then
    body = "grant_type=authorization_code&client_id=app7&redirect_uri=https%3A%2F%2Fapp.example%2Fcb" ..
           "&code_verifier=" .. os.getenv("CN_VERIFIER") .. "&code=" .. value
  else
    body = "grant_type=refresh_token&refresh_token=" .. value
  end
  return wrk.format("POST", path, headers, body)
end
