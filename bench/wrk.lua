-- wrk.lua: the request and the bookkeeping for every load of bench/run.
--
-- Environment:
--   BENCH_PATH    the request target (GET)
--   BENCH_TOKEN   a bearer token sent on every request (optional)
--   BENCH_TOKENS  a file of tokens, one a line: request i carries token
--                 i mod N (a fresh token on every request while N exceeds
--                 the gateway's token cache)
--   BENCH_EXPECT  the only status that counts as success (default 200)
--
-- Every response's status is counted against BENCH_EXPECT, and done()
-- prints one machine-readable line, "BENCH_JSON {...}", with the request
-- count, the statuses, wrk's socket errors and the latency percentiles.

local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN") or ""
local tokens_file = os.getenv("BENCH_TOKENS") or ""
local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")

wrk.method = "GET"
wrk.path = path
if token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end

-- Per-thread counters (globals, so that done() can read them with
-- thread:get()).
ok_count = 0
bad_count = 0
bad_status = 0

local reqs = nil
local idx = 0

-- init runs in each thread after wrk has set the Host header: the
-- rotating requests are formatted once here, never during the load.
function init(args)
   if tokens_file == "" then
      return
   end
   reqs = {}
   for line in io.lines(tokens_file) do
      if #line > 0 then
         reqs[#reqs + 1] = wrk.format("GET", path,
            { Host = wrk.headers["Host"], Authorization = "Bearer " .. line })
      end
   end
   if #reqs == 0 then
      error("no tokens in " .. tokens_file)
   end
end

if tokens_file ~= "" then
   request = function()
      idx = idx % #reqs + 1
      return reqs[idx]
   end
end

function response(status, headers, body)
   if status == expect then
      ok_count = ok_count + 1
   else
      bad_count = bad_count + 1
      bad_status = status
   end
end

local threads = {}

function setup(thread)
   threads[#threads + 1] = thread
end

function done(summary, latency, requests)
   local ok, bad, last_bad = 0, 0, 0
   for _, t in ipairs(threads) do
      ok = ok + t:get("ok_count")
      bad = bad + t:get("bad_count")
      if t:get("bad_status") ~= 0 then
         last_bad = t:get("bad_status")
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"bad":%d,' ..
      '"bad_status":%d,"errors":{"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d},"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, summary.duration, ok, bad, last_bad,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean))
end
