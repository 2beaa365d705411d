DROP VIEW IF EXISTS authors_with_counts;
DROP VIEW IF EXISTS books_with_authors;
