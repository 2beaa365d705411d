-- W5 on the bookstore: a write mix. Each request is, with probability $BENCH_WRITE_SHARE (default
-- 0.1), an authenticated PUT /v1/book/{isbn} (full replacement: every field from the data set
-- formula for that book, as bench/dataset.py replace_body, with a changed stock in 200..999 so the
-- data stays valid), else a W1-style GET /v1/book/{isbn}; ISBNs uniformly random over the data set.
--   BENCH_TOKEN        editor access token (required)
--   BENCH_AUTHORS      authors in the data set (default 2000)
-- At the end, besides the shared WRKRESULT line, it prints `MIXRESULT <gets> <puts>` and one
-- `MIXSTATUS <status> <count> <first body>` line per non-2xx status seen, for the report.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile((os.getenv("BENCH_SHARED_WRK") or (here .. "../../../shared/bench/wrk")) .. "/common.lua")

local AUTHORS = tonumber(os.getenv("BENCH_AUTHORS") or "2000")
local WRITE_SHARE = tonumber(os.getenv("BENCH_WRITE_SHARE") or "0.1")
local TOKEN = os.getenv("BENCH_TOKEN")
if not TOKEN or TOKEN == "" then error("write-mix.lua: BENCH_TOKEN (an editor access token) is not set") end
local PUT_HEADERS = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. TOKEN }

-- Per-thread counters (globals, so that done() can read them with thread:get).
gets, puts = 0, 0
bad = {}        -- status -> count, non-2xx only
bad_body = {}   -- status -> first body seen

function book_body(n, stock)
  local first = 1 + (n - 1) % AUTHORS
  local ids = tostring(first)
  if n % 5 == 0 then
    local second = 1 + (n * 7) % AUTHORS
    if second ~= first then ids = ids .. "," .. second end
  end
  return string.format('{"title":"Book %d","category":"%s","year":%d,"price_cents":%d,"stock":%d,"author_ids":[%s]}',
    n, CATEGORIES[n % 8 + 1], 1950 + n % 75, 500 + (n * 37) % 5000, stock, ids)
end

function request()
  local n = math.random(1, BOOKS)
  if math.random() < WRITE_SHARE then
    puts = puts + 1
    return wrk.format("PUT", "/v1/book/" .. isbn13(n), PUT_HEADERS, book_body(n, math.random(200, 999)))
  end
  gets = gets + 1
  return wrk.format("GET", "/v1/book/" .. isbn13(n))
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    local k = tostring(status)
    bad[k] = (bad[k] or 0) + 1
    if not bad_body[k] then bad_body[k] = (body or ""):sub(1, 300):gsub("%s+", " ") end
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local shared_done = done
function done(summary, latency, requests)
  shared_done(summary, latency, requests)
  local g, p, statuses, bodies = 0, 0, {}, {}
  for _, t in ipairs(threads) do
    g = g + t:get("gets")
    p = p + t:get("puts")
    for k, v in pairs(t:get("bad")) do statuses[k] = (statuses[k] or 0) + v end
    for k, v in pairs(t:get("bad_body")) do bodies[k] = bodies[k] or v end
  end
  io.write(string.format("MIXRESULT\t%d\t%d\n", g, p))
  for k, v in pairs(statuses) do io.write(string.format("MIXSTATUS\t%s\t%d\t%s\n", k, v, bodies[k] or "")) end
end
