-- GET /login?id=... with a fresh single-use login id per request; each thread
-- takes its own slice of the id file.
local ids, idx = {}, 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("slice", counter)
end
function init(args)
  local n = 0
  for line in io.lines(os.getenv("CN_IDS")) do
    n = n + 1
    if n % tonumber(os.getenv("CN_THREADS")) == slice - 1 then ids[#ids + 1] = line end
  end
end
function request()
  idx = idx + 1
  if idx > #ids then idx = 1 end -- exhausted: later answers are 400 pages (counted as non-2xx)
  return wrk.format("GET", "/connect/login?id=" .. ids[idx])
end
