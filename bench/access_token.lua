-- POST /connect/grants/{id}/access_token (HTTP Basic, CN_BASIC) with the
-- grant ids of the file CN_GRANTS, each thread its own slice, in turn: one id
-- for the read path of a fresh token, or 1,000 grants whose tokens all
-- expired at once (the first call for each refreshes it at the provider).
SLICE_FILE_ENV = "CN_GRANTS"
dofile("bench/slice.lua")
local headers = { ["Authorization"] = "Basic " .. os.getenv("CN_BASIC") }
function request()
  return wrk.format("POST", "/connect/grants/" .. next_value() .. "/access_token", headers)
end
