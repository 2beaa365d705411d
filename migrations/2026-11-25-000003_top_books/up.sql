-- The first books (by year, then ISBN) of many authors at once, for GraphQL's Author.books.
-- PL/pgSQL so PostgreSQL keeps the plan of the LATERAL query per connection instead of planning
-- it on every request.
CREATE FUNCTION top_books_of_authors(
    p_author_ids bigint[], p_category text, p_after_year integer, p_after_isbn text,
    p_limit integer, p_descending boolean)
RETURNS TABLE (author_id bigint, isbn text, title text, category text, year integer,
               price_cents integer, stock integer, version integer,
               created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  IF p_descending THEN
    RETURN QUERY
      SELECT a.id, b.isbn, b.title, b.category, b.year, b.price_cents, b.stock, b.version, b.created_at, b.updated_at
        FROM unnest(p_author_ids) AS a(id)
        CROSS JOIN LATERAL (
          SELECT bk.* FROM book_authors ba JOIN books bk ON bk.isbn = ba.book_isbn
           WHERE ba.author_id = a.id
             AND (p_category IS NULL OR bk.category = p_category)
             AND (p_after_year IS NULL OR (bk.year, bk.isbn) < (p_after_year, p_after_isbn))
           ORDER BY bk.year DESC, bk.isbn DESC
           LIMIT p_limit) b;
  ELSE
    RETURN QUERY
      SELECT a.id, b.isbn, b.title, b.category, b.year, b.price_cents, b.stock, b.version, b.created_at, b.updated_at
        FROM unnest(p_author_ids) AS a(id)
        CROSS JOIN LATERAL (
          SELECT bk.* FROM book_authors ba JOIN books bk ON bk.isbn = ba.book_isbn
           WHERE ba.author_id = a.id
             AND (p_category IS NULL OR bk.category = p_category)
             AND (p_after_year IS NULL OR (bk.year, bk.isbn) > (p_after_year, p_after_isbn))
           ORDER BY bk.year, bk.isbn
           LIMIT p_limit) b;
  END IF;
END $$;
