-- POST /connect/token with a fresh single-use secret per request from the
-- file CN_TOKENS (each thread its own slice): CN_GRANT=code is the PKCE
-- authorization-code exchange of a public client (code_verifier, no
-- secret), CN_GRANT=refresh the refresh grant with HTTP Basic (CN_BASIC).
local values, idx = {}, 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("slice", counter)
end
function init(args)
  local n = 0
  for line in io.lines(os.getenv("CN_TOKENS")) do
    n = n + 1
    if n % tonumber(os.getenv("CN_THREADS")) == slice - 1 then values[#values + 1] = line end
  end
end
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
if os.getenv("CN_BASIC") then headers["Authorization"] = "Basic " .. os.getenv("CN_BASIC") end
function request()
  idx = idx + 1
  if idx > #values then idx = 1 end -- exhausted: later answers are invalid_grant (non-2xx)
  local body
  if os.getenv("CN_GRANT") == "code" then
    body = "grant_type=authorization_code&client_id=app7&redirect_uri=https%3A%2F%2Fapp.example%2Fcb" ..
           "&code_verifier=" .. os.getenv("CN_VERIFIER") .. "&code=" .. values[idx]
  else
    body = "grant_type=refresh_token&refresh_token=" .. values[idx]
  end
  return wrk.format("POST", "/connect/token", headers, body)
end
