-- Shared by the wrk scripts that spend a prepared single-use value per
-- request (login ids, codes, refresh tokens): each thread reads its own
-- slice of the file named by the environment variable SLICE_FILE_ENV (set
-- by the including script) and hands out the next value. Exhausted, it
-- starts over: later answers are then refusals, counted as non-2xx.
local values, idx = {}, 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("slice", counter)
end
function init(args)
  local n = 0
  for line in io.lines(os.getenv(SLICE_FILE_ENV)) do
    n = n + 1
    if n % tonumber(os.getenv("CN_THREADS")) == slice - 1 then values[#values + 1] = line end
  end
end
function next_value()
  idx = idx + 1
  if idx > #values then idx = 1 end
  return values[idx]
end
