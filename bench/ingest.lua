-- bench/ingest.lua - wrk's requests for bench/ingest.sh (b): one event a request,
-- the same mix as bench/ingest.c's generator - 20,000 customers by phone, 30 %
-- paid orders of 1-3 lines, the rest page views, times in 2025, four
-- touchpoints - each with a key of its own. The hello-world gets the same
-- requests (it answers any path and body).
local CATS = {"服装", "鞋履", "美妆", "食品", "数码", "家居"}
local TOUCH = {"web", "app", "wechat", "store"}
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  run = args[1] or "0"
  math.randomseed(id * 7919 + tonumber(run))
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local function at_2025()
  -- 2025-01-01T00:00:00Z plus up to 365 days, whole seconds
  local s = 1735689600 + math.random(0, 365 * 86400 - 1)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", s)
end

function request()
  n = n + 1
  local cust = math.random(0, 19999)
  local phone = string.format("+861%02d%08d", 30 + cust % 70, (cust * 48271) % 100000000)
  local key = string.format("wrk:%s:%d:%d", run, id, n)
  local props, typ
  if math.random() < 0.3 then
    typ = "order.paid"
    local lines, total = {}, 0
    for k = 1, math.random(1, 3) do
      local amount = 100 + math.random(0, 49999)
      total = total + amount
      lines[k] = string.format('{"sku":"SKU%03d","category":"%s","qty":%d,"amount":%d}',
        math.random(0, 299), CATS[math.random(1, 6)], math.random(1, 2), amount)
    end
    props = string.format('{"order_id":"W%s-%d-%d","amount":%d,"lines":[%s]}', run, id, n,
      total, table.concat(lines, ","))
  else
    typ = "page.view"
    props = string.format('{"page":"/products/SKU%03d"}', math.random(0, 299))
  end
  local body = string.format(
    '{"type":"%s","customer":{"phone":"%s"},"touchpoint":"%s","occurred_at":"%s","key":"%s","properties":%s}',
    typ, phone, TOUCH[math.random(1, 4)], at_2025(), key, props)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  -- errors: socket errors and answers of 400 or over (wrk's status count)
  local e = summary.errors
  io.write(string.format("result: mode=wrk requests=%d errors=%d seconds=%.2f rate=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, e.connect + e.read + e.write + e.timeout + e.status,
    summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
