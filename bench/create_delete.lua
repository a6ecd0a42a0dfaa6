-- Each thread alternates POST and DELETE of the imap integration of its own
-- application (one connection per thread), so every request succeeds.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("auth", counter == 1 and os.getenv("AUTH_A") or os.getenv("AUTH_B"))
end
local post = true
local errors = 0
function request()
  local body, method, path
  if post then
    method, path = "POST", "/connect/integrations"
    body = '{"name":"bench","provider":"imap","redirect_uris":["https://a.example/cb"]}'
  else
    method, path = "DELETE", "/connect/integrations/imap"
  end
  post = not post
  return wrk.format(method, path, {["Authorization"] = "Basic " .. auth,
                                   ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status >= 300 then errors = errors + 1 end
end
function done(summary, latency, requests)
end
