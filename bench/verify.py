#!/usr/bin/env python3
"""Correctness checks of the bookstore server before any timing (bench/run.sh runs this).

    python3 bench/verify.py http://127.0.0.1:PORT --cache on|off [--token ACCESS_TOKEN]

Compares the answers the benchmark workloads get (W1/W2 book by ISBN, W3 books by category, W4 the
nested GraphQL query, W5 the PUT body) with the data set formula of ../shared/dataset.md
(bench/dataset.py). With --token it also checks the W5 write path: a PUT without a token is a 401, a
PUT with the editor token is a 200, and the next GET shows the new stock (no stale cache entry); the
book is put back afterwards. Stdlib only. Exit 0 only when every check passes; each failure is printed.
"""

import argparse
import json
import random
import sys
import urllib.error
import urllib.request

import dataset

W4_QUERY = "{ authors(first: 50) { nodes { id name books(first: 10) { nodes { isbn title year } } } } }"
BOOK_FIELDS = ("isbn", "title", "category", "year", "price_cents", "stock", "authors")

failures = []
warnings = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)
    return cond


def http(method, url, body=None, headers=None):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, r.headers, raw
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def get_json(url, **kw):
    status, headers, raw = http("GET", url, **kw)
    try:
        return status, headers, json.loads(raw) if raw else None
    except ValueError:
        return status, headers, None


def subset(obj, keys):
    return {k: obj.get(k) for k in keys} if isinstance(obj, dict) else obj


def check_book(base, i, spelling=None, authors=2000):
    spelling = spelling or dataset.isbn13(i)
    status, headers, body = get_json(f"{base}/v1/book/{spelling}")
    expected = dataset.book(i, authors)
    if not check(status == 200, f"GET /v1/book/{spelling}: status {status}, expected 200"):
        return headers
    got = subset(body, BOOK_FIELDS)
    check(got == expected, f"GET /v1/book/{spelling}: got {json.dumps(got)}, expected {json.dumps(expected)}")
    check(headers.get("ETag") is not None, f"GET /v1/book/{spelling}: no ETag header")
    return headers


def cache_status(headers):
    return (headers.get("Cache-Status") or "").strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--cache", choices=["on", "off"], required=True)
    ap.add_argument("--token")
    ap.add_argument("--books", type=int, default=20000)
    ap.add_argument("--authors", type=int, default=2000)
    ap.add_argument("--sample", type=int, default=200)
    a = ap.parse_args()
    base = a.base.rstrip("/")
    rng = random.Random(20000)

    status, _, _ = http("GET", f"{base}/healthz")
    check(status == 200, f"GET /healthz: status {status}")

    # W1/W2: book by ISBN. The brief's example first, then other spellings, edges and a random sample.
    status, _, body = get_json(f"{base}/v1/book/9780000000422")
    check(status == 200 and body.get("title") == "Book 42" and body.get("category") == "science"
          and [x.get("id") for x in body.get("authors", [])] == [42],
          f"GET /v1/book/9780000000422: status {status}, body {body}")
    check_book(base, 42, dataset.hyphenated(42), a.authors)
    check_book(base, 42, dataset.isbn10(42), a.authors)
    for i in [1, 5, 8, 2000, a.books] + rng.sample(range(1, a.books + 1), a.sample):
        check_book(base, i, None, a.authors)
    status, _, _ = http("GET", f"{base}/v1/book/{dataset.isbn13(a.books + 1)}")
    check(status == 404, f"GET /v1/book/{dataset.isbn13(a.books + 1)} (book {a.books + 1}): status {status}, expected 404")

    # The cache mode actually in force, as the server reports it (RFC 9211 Cache-Status).
    isbn = dataset.isbn13(4242)
    seen = [cache_status(check_book(base, 4242, None, a.authors) or {}) for _ in range(3)]
    if not any(seen):
        warnings.append("the server sends no Cache-Status header: cannot confirm BOOKSTORE_CACHE=" + a.cache)
    elif a.cache == "off":
        check(all("hit" not in s.split(";")[-1] and "bypass" in s for s in seen),
              f"BOOKSTORE_CACHE=off but GET /v1/book/{isbn} answered Cache-Status {seen}")
    else:
        check(any(s.endswith("hit") or "; hit" in s for s in seen[1:]),
              f"BOOKSTORE_CACHE=on but three GETs of /v1/book/{isbn} were never a cache hit: {seen}")

    # W3: every category, limit 20: the first 20 books of that category by ISBN (the default sort).
    for k, cat in enumerate(dataset.CATEGORIES):
        status, _, body = get_json(f"{base}/v1/books?category={cat}&limit=20")
        if not check(status == 200 and isinstance(body, dict), f"GET /v1/books?category={cat}&limit=20: status {status}"):
            continue
        items = body.get("items") or []
        check(len(items) == 20, f"GET /v1/books?category={cat}&limit=20: {len(items)} items, expected 20")
        check(all(x.get("category") == cat for x in items), f"GET /v1/books?category={cat}: an item of another category")
        first = [i for i in range(1, a.books + 1) if i % 8 == k][:20]
        expected = [dataset.book(i, a.authors) for i in first]
        got = [subset(x, BOOK_FIELDS) for x in items]
        diff = next((n for n, (g, e) in enumerate(zip(got, expected)) if g != e), None)
        check(got == expected, f"GET /v1/books?category={cat}&limit=20: items differ from the data set, first at "
                               f"#{diff}: got {json.dumps(got[diff]) if diff is not None else got[len(expected):]}, "
                               f"expected {json.dumps(expected[diff]) if diff is not None else expected[len(got):]}")
        check(isinstance(body.get("next_cursor"), str), f"GET /v1/books?category={cat}&limit=20: next_cursor missing")

    # W4: 50 authors by id, each with the first 10 of their books by (year, isbn).
    status, _, raw = http("POST", f"{base}/graphql", {"query": W4_QUERY})
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if check(status == 200 and isinstance(body, dict) and not body.get("errors") and body.get("data"),
             f"W4 POST /graphql: status {status}, body {raw[:500]!r}"):
        nodes = body["data"]["authors"]["nodes"]
        per_author = dataset.books_of_authors(set(range(1, 51)), a.books, a.authors)
        expected = []
        for aid in range(1, 51):
            mine = sorted(per_author[aid], key=lambda i: (1950 + i % 75, dataset.isbn13(i)))[:10]
            expected.append({"id": str(aid), "name": f"Author {aid}", "books": {"nodes": [
                {"isbn": dataset.isbn13(i), "title": f"Book {i}", "year": 1950 + i % 75} for i in mine]}})
        check(len(nodes) == 50, f"W4: {len(nodes)} authors, expected 50")
        for got, exp in zip(nodes, expected):
            if not check(got == exp, f"W4: author {exp['id']}: got {json.dumps(got)[:400]}, expected {json.dumps(exp)[:400]}"):
                break

    # W5: the write path with the editor token (full replacement, changed stock, then put back).
    if a.token:
        i = 7
        url = f"{base}/v1/book/{dataset.isbn13(i)}"
        auth = {"Authorization": "Bearer " + a.token}
        check_book(base, i, None, a.authors)
        check_book(base, i, None, a.authors)  # a cache hit now, when the cache is on
        status, headers, _ = http("PUT", url, dataset.replace_body(i, 777, a.authors))
        check(status == 401 and (headers.get("WWW-Authenticate") or "").startswith("Bearer"),
              f"PUT {url} without a token: status {status}, expected 401 with WWW-Authenticate: Bearer")
        status, _, raw = http("PUT", url, dataset.replace_body(i, 777, a.authors), auth)
        body = json.loads(raw) if raw.startswith(b"{") else None
        check(status == 200 and body and body.get("stock") == 777, f"PUT {url} with the editor token: status {status}, body {raw[:300]!r}")
        status, _, body = get_json(url)
        check(status == 200 and body.get("stock") == 777,
              f"GET {url} right after the PUT: stock {body.get('stock') if body else None}, expected 777 (stale cache?)")
        original = dataset.book(i, a.authors)["stock"]
        status, _, _ = http("PUT", url, dataset.replace_body(i, original, a.authors), auth)
        check(status == 200, f"PUT {url} (putting stock back): status {status}")
        check_book(base, i, None, a.authors)

    for w in warnings:
        print("WARNING: " + w, file=sys.stderr)
    if failures:
        print(f"verify: {len(failures)} of {checks} checks FAILED (cache {a.cache})", file=sys.stderr)
        return 1
    print(f"verify: {checks} checks passed (cache {a.cache}{', with the W5 write path' if a.token else ''})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
