-- wrk hooks for benchmarks/functions/run.py.
--   WRK_BODY set: every request is a POST of that JSON body (the Invoke API's shape).
--   WRK_HEADERS: more request headers, one "name<TAB>value" per line (a bearer token, a
--     SigV4 signature: the same on every request of a run).
--   WRK_LATENCY_HEADER=1: collect every response's X-Lockgate-Latency (costs the client a
--     header table per response, so only the concurrency-1 Lockgate runs ask for it).
--   done(): one JSON line, prefixed "LOCKGATE_BENCH ", that run.py parses; latencies in µs,
--     the header's percentiles in ms (-1 when no response carried it).

local body = os.getenv("WRK_BODY")
if body ~= nil and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

local extra = os.getenv("WRK_HEADERS")
if extra ~= nil then
  for name, value in string.gmatch(extra, "([^\t\n]+)\t([^\n]*)\n") do
    wrk.headers[name] = value
  end
end

added = {} -- global: done() reads each thread's copy with thread:get("added")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

if os.getenv("WRK_LATENCY_HEADER") == "1" then
  function response(status, headers, body)
    local value = headers["x-lockgate-latency"] or headers["X-Lockgate-Latency"]
    if value ~= nil then
      added[#added + 1] = tonumber(value)
    end
  end
end

local function percentile(sorted, q)
  if #sorted == 0 then
    return -1
  end
  return sorted[math.max(1, math.ceil(q / 100 * #sorted))]
end

function done(summary, latency, requests)
  local all = {}
  for _, thread in ipairs(threads) do
    for _, value in ipairs(thread:get("added") or {}) do
      all[#all + 1] = value
    end
  end
  table.sort(all)
  local e = summary.errors
  io.write(string.format(
    'LOCKGATE_BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,'
      .. '"max_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,'
      .. '"added_n":%d,"added_p50_ms":%.4f,"added_p99_ms":%.4f}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout,
    #all, percentile(all, 50), percentile(all, 99)))
end
