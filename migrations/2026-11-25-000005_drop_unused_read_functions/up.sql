-- The views of the previous migration replaced these functions (no code calls them any more).
DROP FUNCTION IF EXISTS author_book_count(bigint);
DROP FUNCTION IF EXISTS book_authors_json(text);
