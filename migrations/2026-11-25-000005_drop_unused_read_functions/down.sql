CREATE FUNCTION book_authors_json(p_isbn text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT COALESCE(json_agg(json_build_object('id', a.id, 'name', a.name) ORDER BY ba.position)::text, '[]')
    FROM book_authors ba JOIN authors a ON a.id = ba.author_id
   WHERE ba.book_isbn = p_isbn
$$;

-- How many books an author has.
CREATE FUNCTION author_book_count(p_author_id bigint) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT count(*) FROM book_authors WHERE author_id = p_author_id
$$;
