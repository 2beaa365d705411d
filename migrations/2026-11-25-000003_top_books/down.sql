DROP FUNCTION IF EXISTS top_books_of_authors(bigint[], text, integer, text, integer, boolean);
