-- GET /login?id=... with a fresh single-use login id per request (CN_IDS).
SLICE_FILE_ENV = "CN_IDS"
dofile("bench/slice.lua")
function request()
  return wrk.format("GET", "/connect/login?id=" .. next_value())
end
