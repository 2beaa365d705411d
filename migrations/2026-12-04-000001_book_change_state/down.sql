DROP TRIGGER books_notify_change ON books;
DROP FUNCTION notify_book_change();
CREATE FUNCTION notify_book_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('bookstore_book_changes', json_build_object('kind', 'deleted', 'isbn', OLD.isbn)::text);
    RETURN OLD;
  ELSIF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('bookstore_book_changes', json_build_object('kind', 'created', 'isbn', NEW.isbn)::text);
  ELSE
    PERFORM pg_notify('bookstore_book_changes', json_build_object('kind', 'updated', 'isbn', NEW.isbn)::text);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER books_notify_change AFTER INSERT OR UPDATE OR DELETE ON books
    FOR EACH ROW EXECUTE FUNCTION notify_book_change();
