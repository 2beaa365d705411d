"""The benchmark data set of ../shared/dataset.md as formulas (stdlib only).

`bookstore seed --authors N --books M --magazines K` must load exactly this; verify.py compares the
server's answers with it. Defaults: N = 2000 authors, M = 20000 books.
"""

CATEGORIES = ["fiction", "non_fiction", "science", "history", "children", "technology", "fantasy", "biography"]


def isbn13(i):
    """ISBN-13 of book i: '978' + i zero-padded to 9 digits + the EAN-13 check digit."""
    p = "978%09d" % i
    s = sum(int(d) * (1 if k % 2 == 0 else 3) for k, d in enumerate(p))
    return p + str((10 - s % 10) % 10)


def isbn10(i):
    """The ISBN-10 spelling of book i (same 9 digits, mod-11 check character)."""
    body = "%09d" % i
    s = sum((10 - k) * int(d) for k, d in enumerate(body))
    c = (11 - s % 11) % 11
    return body + ("X" if c == 10 else str(c))


def hyphenated(i):
    """isbn13(i) with hyphens: 978-0-00-000042-2."""
    s = isbn13(i)
    return "-".join([s[0:3], s[3], s[4:6], s[6:12], s[12]])


def author_ids(i, authors=2000):
    first = 1 + (i - 1) % authors
    ids = [first]
    if i % 5 == 0:
        second = 1 + (i * 7) % authors
        if second != first:
            ids.append(second)
    return ids


def book(i, authors=2000):
    """Book i as REST renders it (without timestamps and version)."""
    return {
        "isbn": isbn13(i),
        "title": "Book %d" % i,
        "category": CATEGORIES[i % 8],
        "year": 1950 + i % 75,
        "price_cents": 500 + (i * 37) % 5000,
        "stock": (i * 13) % 200,
        "authors": [{"id": a, "name": "Author %d" % a} for a in author_ids(i, authors)],
    }


def replace_body(i, stock, authors=2000):
    """The full PUT /v1/book/{isbn} body for book i with another stock (bench/wrk/write-mix.lua builds the same)."""
    b = book(i, authors)
    return {
        "title": b["title"],
        "category": b["category"],
        "year": b["year"],
        "price_cents": b["price_cents"],
        "stock": stock,
        "author_ids": [a["id"] for a in b["authors"]],
    }


def books_of_authors(author_set, books=20000, authors=2000):
    """{author id: [book i, ...]} for the given authors, every book they are linked to."""
    out = {a: [] for a in author_set}
    for i in range(1, books + 1):
        for a in author_ids(i, authors):
            if a in out:
                out[a].append(i)
    return out
