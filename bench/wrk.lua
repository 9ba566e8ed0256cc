-- wrk.lua: the request and the bookkeeping for every load of bench/run.
--
-- Environment:
--   BENCH_PATH    the request target
--   BENCH_METHOD  its method (default GET)
--   BENCH_TOKEN   a bearer token sent on every request (optional)
--   BENCH_TOKENS  a file of tokens, one a line: request i carries token
--                 i mod N (a fresh token on every request while N exceeds
--                 the gateway's token cache)
--   BENCH_EXPECT  the only status that counts as success (default 200)
--   BENCH_MIX     with BENCH_TOKEN, BENCH_TOKENS and BENCH_DENIED_TOKEN:
--                 a mixed load, in every 100 requests of a thread 90 with
--                 the repeated token, 9 with the next fresh one and 1 with
--                 the denied token (set to "90:9:1"; other splits are
--                 "R:F:D" summing to 100). 200 and 403 both count as
--                 success; the 403s are counted apart ("denied") so that
--                 bench/run can check their share.
--
-- Every response's status is counted against BENCH_EXPECT, and done()
-- prints one machine-readable line, "BENCH_JSON {...}", with the request
-- count, the statuses, wrk's socket errors and the latency percentiles.

local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN") or ""
local tokens_file = os.getenv("BENCH_TOKENS") or ""
local expect = tonumber(os.getenv("BENCH_EXPECT") or "200")
local method = os.getenv("BENCH_METHOD") or "GET"
local mix = os.getenv("BENCH_MIX") or ""
local denied_token = os.getenv("BENCH_DENIED_TOKEN") or ""
local mix_r, mix_f, mix_d = 0, 0, 0
if mix ~= "" then
   mix_r, mix_f, mix_d = mix:match("^(%d+):(%d+):(%d+)$")
   mix_r, mix_f, mix_d = tonumber(mix_r), tonumber(mix_f), tonumber(mix_d)
   if not mix_r or mix_r + mix_f + mix_d ~= 100 then
      error("BENCH_MIX must be R:F:D summing to 100, not " .. mix)
   end
end

wrk.method = method
wrk.path = path
if token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end

-- Per-thread counters (globals, so that done() can read them with
-- thread:get()).
ok_count = 0
bad_count = 0
bad_status = 0
denied_count = 0

local reqs = nil
local idx = 0
local repeated_req, denied_req = nil, nil
local n = 0

-- init runs in each thread after wrk has set the Host header: the
-- rotating requests are formatted once here, never during the load.
function init(args)
   if tokens_file == "" then
      return
   end
   reqs = {}
   for line in io.lines(tokens_file) do
      if #line > 0 then
         reqs[#reqs + 1] = wrk.format(method, path,
            { Host = wrk.headers["Host"], Authorization = "Bearer " .. line })
      end
   end
   if #reqs == 0 then
      error("no tokens in " .. tokens_file)
   end
   if mix ~= "" then
      repeated_req = wrk.format(method, path,
         { Host = wrk.headers["Host"], Authorization = "Bearer " .. token })
      denied_req = wrk.format(method, path,
         { Host = wrk.headers["Host"], Authorization = "Bearer " .. denied_token })
   end
end

if tokens_file ~= "" and mix ~= "" then
   -- The same interleaving in every block of 100: the denied request
   -- first, the fresh ones spread among the repeated ones.
   request = function()
      local k = n % 100
      n = n + 1
      if k < mix_d then
         return denied_req
      elseif (k - mix_d) % 10 == 0 and (k - mix_d) / 10 < mix_f then
         idx = idx % #reqs + 1
         return reqs[idx]
      end
      return repeated_req
   end
elseif tokens_file ~= "" then
   request = function()
      idx = idx % #reqs + 1
      return reqs[idx]
   end
end

function response(status, headers, body)
   if mix ~= "" and status == 403 then
      ok_count = ok_count + 1
      denied_count = denied_count + 1
   elseif status == expect then
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
   local ok, bad, last_bad, denied = 0, 0, 0, 0
   for _, t in ipairs(threads) do
      ok = ok + t:get("ok_count")
      bad = bad + t:get("bad_count")
      denied = denied + t:get("denied_count")
      if t:get("bad_status") ~= 0 then
         last_bad = t:get("bad_status")
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"bad":%d,"denied":%d,' ..
      '"bad_status":%d,"errors":{"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d},"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
      '"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, summary.duration, ok, bad, denied, last_bad,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean))
end
