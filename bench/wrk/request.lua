-- wrk script of bench/harness.py: sends the request the environment describes and counts
-- answers whose status is not the expected one.
--
--   BENCH_METHOD        GET, POST...
--   BENCH_HEADERS_FILE  "Name: value" lines
--   BENCH_BODY_FILE     the body (empty: none)
--   BENCH_EXPECT        the status every answer should have
--
-- "{n}" in a header value or the body becomes a number unique to each request (a new
-- visitor, a new email address), so those requests are formatted one by one; the others
-- are formatted once. done() prints one line the harness reads:
--   BENCH <requests> <microseconds> <p50 us> <p99 us> <unexpected statuses> <errors>

local function read(name)
  local path = os.getenv(name)
  if path == nil or path == "" then return nil end
  local file = assert(io.open(path, "rb"))
  local text = file:read("*a")
  file:close()
  return text
end

local method = os.getenv("BENCH_METHOD") or "GET"
local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
local body = read("BENCH_BODY_FILE")
local headers = {}
for name, value in (read("BENCH_HEADERS_FILE") or ""):gmatch("([^:\n]+): ([^\n]*)\n") do
  headers[name] = value
end

local varies = (body ~= nil and body:find("{n}", 1, true) ~= nil)
for _, value in pairs(headers) do
  if value:find("{n}", 1, true) then varies = true end
end

local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local fixed
local counter = 0
unexpected = 0

function init(args)
  if not varies then fixed = wrk.format(method, nil, headers, body) end
end

function request()
  if fixed then return fixed end
  counter = counter + 1
  local n = string.format("%d%09d", id, counter)
  local these = {}
  for name, value in pairs(headers) do these[name] = value:gsub("{n}", n) end
  local this_body = body and body:gsub("{n}", n) or nil
  return wrk.format(method, nil, these, this_body)
end

function response(status, headers, body)
  if status ~= expect then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("unexpected") end
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), bad,
    e.connect + e.read + e.write + e.timeout))
end
