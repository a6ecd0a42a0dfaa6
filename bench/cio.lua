-- The Context.IO 2.0 API signed with OAuth 1.0a: each request spends one
-- pre-signed Authorization header of the file CN_SIGNED (bench/cio_sign.py,
-- a nonce of its own each; each thread its own slice). CN_METHOD (GET by
-- default) goes to the URL's path, with the form body CN_FORM when set: the
-- body the headers were signed for.
SLICE_FILE_ENV = "CN_SIGNED"
dofile("bench/slice.lua")
local method = os.getenv("CN_METHOD") or "GET"
local form = os.getenv("CN_FORM")
if form == "" then form = nil end
function request()
  local headers = { ["Authorization"] = next_value() }
  if form then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  return wrk.format(method, nil, headers, form)
end
