#!/usr/bin/env bash
# Generates a TypeScript client description from the OpenAPI document with openapi-typescript and
# type-checks a small client against it (strict tsc): a check that the document is usable by a
# real generator, not only valid. Not part of `make test` (it needs npm and the npm registry).
#   scripts/ts-client-check.sh [BOOKSTORE_BIN]     (default: target/debug/bookstore)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/debug/bookstore}"
[ -x "$bin" ] || { echo "[ts] $bin not found: cargo build --bin bookstore first" >&2; exit 1; }
command -v npm >/dev/null || { echo "[ts] npm not found (Debian: apt-get install npm)" >&2; exit 1; }
dir="target/ts-client"
mkdir -p "$dir"
"$bin" print-openapi > "$dir/openapi.json"
cd "$dir"
[ -x node_modules/.bin/openapi-typescript ] && [ -x node_modules/.bin/tsc ] \
  || npm install --silent --no-audit --no-fund openapi-typescript@7.13.0 typescript@5 >/dev/null
node_modules/.bin/openapi-typescript openapi.json -o api.d.ts >/dev/null
cat > client.ts <<'TS'
import type { components, paths } from "./api";
type Schemas = components["schemas"];
const book: Schemas["BookInput"] = {
  isbn: "978-0-306-40615-7", title: "Kindred", category: "fiction", year: 1979,
  price_cents: 1299, stock: 3, author_ids: [1],
};
const patch: Schemas["AuthorPatch"] = { bio: null };
type Invalid = paths["/v1/book"]["post"]["responses"]["422"]["content"]["application/problem+json"];
const problem: Invalid = {
  type: "https://bookstore.example/problems/validation-error", title: "Unprocessable Entity",
  status: 422, detail: "invalid fields: isbn", instance: "/v1/book", request_id: "r",
  errors: [{ field: "isbn", message: "has an invalid check digit" }],
};
type Query = NonNullable<paths["/v1/books"]["get"]["parameters"]["query"]>;
const query: Query = { limit: 10, sort: "title", order: "desc", category: "science" };
type Page = paths["/v1/books"]["get"]["responses"]["200"]["content"]["application/json"];
const last: Page["next_cursor"] = null;
export { book, patch, problem, query, last };
TS
node_modules/.bin/tsc --strict --noEmit --skipLibCheck client.ts api.d.ts
echo "[ts] openapi-typescript client generated and type-checked ($dir/api.d.ts)"
