-- W4 on the bookstore: POST /graphql, the first 50 authors (by id), each with their first 10 books
-- by (year, isbn) -- the same work as the peers' graphql-strawberry.lua and graphql-postgraphile.lua.
-- The shared helpers (json_string, the WRKRESULT summary line) are loaded from the peers' wrk
-- directory: $BENCH_SHARED_WRK, else ../shared/bench/wrk beside the repository.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile((os.getenv("BENCH_SHARED_WRK") or (here .. "../../../shared/bench/wrk")) .. "/common.lua")

QUERY = "{ authors(first: 50) { nodes { id name books(first: 10) { nodes { isbn title year } } } } }"

wrk.method = "POST"
wrk.path = "/graphql"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":' .. json_string(QUERY) .. '}'
