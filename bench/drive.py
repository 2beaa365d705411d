"""Sends a fixed number of requests of one workload over one keep-alive connection, in order,
and fails on any non-2xx answer: the load for instruction counting (bench/profile.sh
--callgrind), where a fixed count matters and speed does not.

    python3 bench/drive.py http://127.0.0.1:PORT W1 2000 [--seed 1]
"""

import argparse
import http.client
import json
import random
import sys
import urllib.parse

import dataset

W4_QUERY = "{ authors(first: 50) { nodes { id name books(first: 10) { nodes { isbn title year } } } } }"


def requests(workload, n, rng, books):
    for _ in range(n):
        if workload in ("W1", "W2"):
            yield "GET", f"/v1/book/{dataset.isbn13(rng.randint(1, books))}", None
        elif workload == "W3":
            yield "GET", f"/v1/books?category={rng.choice(dataset.CATEGORIES)}&limit=20", None
        elif workload == "W4":
            yield "POST", "/graphql", json.dumps({"query": W4_QUERY})
        else:
            raise SystemExit(f"drive.py: unknown workload {workload} (W1..W4)")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("workload")
    p.add_argument("count", type=int)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--books", type=int, default=20000)
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=a.timeout)
    rng = random.Random(a.seed)
    for method, path, body in requests(a.workload, a.count, rng, a.books):
        # As wrk sends them: Host, and for a body its type and length; no Accept-Encoding (which
        # http.client would otherwise add as `identity`).
        conn.putrequest(method, path, skip_accept_encoding=True)
        payload = body.encode() if body else None
        if payload is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(payload)))
        conn.endheaders(payload)
        r = conn.getresponse()
        data = r.read()
        if not 200 <= r.status < 300:
            print(f"drive.py: {method} {path} -> {r.status}: {data[:300]!r}", file=sys.stderr)
            sys.exit(1)
    conn.close()


if __name__ == "__main__":
    main()
