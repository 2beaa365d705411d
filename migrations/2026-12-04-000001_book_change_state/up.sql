-- Book change events carry the state the change produced. The trigger now runs at COMMIT (a
-- deferred constraint trigger), when the book's authors are written too, and sends the book as
-- the API returns it, so a subscriber gets the state of this change and never a later or earlier
-- one read at delivery time. Notifications are delivered in commit order. A payload that would not
-- fit NOTIFY's 8000 bytes is sent without the book ("book": null, "truncated": true); the server
-- then reads the book once per process.
DROP TRIGGER books_notify_change ON books;
DROP FUNCTION notify_book_change();

CREATE FUNCTION notify_book_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  payload text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('bookstore_book_changes',
      json_build_object('kind', 'deleted', 'isbn', OLD.isbn, 'version', OLD.version)::text);
    RETURN NULL;
  END IF;
  SELECT json_build_object(
           'kind', CASE WHEN TG_OP = 'INSERT' THEN 'created' ELSE 'updated' END,
           'isbn', b.isbn,
           'version', b.version,
           'book', json_build_object(
             'isbn', b.isbn, 'title', b.title, 'category', b.category, 'year', b.year,
             'price_cents', b.price_cents, 'stock', b.stock,
             'authors', COALESCE((SELECT json_agg(json_build_object('id', a.id, 'name', a.name)
                                                  ORDER BY ba.position)
                                    FROM book_authors ba JOIN authors a ON a.id = ba.author_id
                                   WHERE ba.book_isbn = b.isbn), '[]'::json),
             'created_at', b.created_at, 'updated_at', b.updated_at, 'version', b.version))::text
    INTO payload
    FROM books b
   WHERE b.isbn = NEW.isbn;
  IF payload IS NULL THEN
    -- Deleted later in the same transaction: its DELETE sends the event.
    RETURN NULL;
  END IF;
  IF octet_length(payload) > 7900 THEN
    payload := json_build_object(
      'kind', CASE WHEN TG_OP = 'INSERT' THEN 'created' ELSE 'updated' END,
      'isbn', NEW.isbn, 'version', NEW.version, 'truncated', true)::text;
  END IF;
  PERFORM pg_notify('bookstore_book_changes', payload);
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER books_notify_change AFTER INSERT OR UPDATE OR DELETE ON books
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION notify_book_change();
