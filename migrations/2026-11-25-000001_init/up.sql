-- Bookstore schema. The CHECK constraints mirror the validation rules of the API contract, so that
-- no write path (including a future one) can store what the API would refuse.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- ISBN-13 check digit: weights 1,3,1,3,...; prefix 978/979.
CREATE FUNCTION isbn13_is_valid(isbn text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT isbn ~ '^97[89][0-9]{10}$'
     AND (SELECT sum(substr(isbn, i, 1)::int * CASE WHEN i % 2 = 1 THEN 1 ELSE 3 END)
            FROM generate_series(1, 13) AS i) % 10 = 0
$$;

-- ISSN NNNN-NNNC: weights 8..2 over the seven digits, check = (11 - sum mod 11) mod 11, 10 = 'X'.
CREATE FUNCTION issn_is_valid(issn text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT issn ~ '^[0-9]{4}-[0-9]{3}[0-9X]$'
     AND (SELECT CASE (11 - sum(substr(replace(issn, '-', ''), i, 1)::int * (9 - i)) % 11) % 11
                   WHEN 10 THEN 'X' ELSE ((11 - sum(substr(replace(issn, '-', ''), i, 1)::int * (9 - i)) % 11) % 11)::text END
            FROM generate_series(1, 7) AS i) = right(issn, 1)
$$;

CREATE TABLE users (
    id             BIGSERIAL PRIMARY KEY,
    username       TEXT        NOT NULL CHECK (username ~ '^[a-z0-9_.-]{3,32}$'),
    email          TEXT        NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254 AND email LIKE '%_@_%'),
    password_hash  TEXT        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role           TEXT        NOT NULL CHECK (role IN ('admin', 'editor')),
    -- Bumped on every password change: access tokens carry it and stop working when it moves on.
    session_epoch  INTEGER     NOT NULL DEFAULT 1,
    version        INTEGER     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_role_idx ON users (role);

-- Rotating single-use refresh tokens. Only a SHA-256 of the token is stored. A token belongs to a
-- family (one login); presenting a token that was already used revokes the whole family.
CREATE TABLE refresh_tokens (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   UUID        NOT NULL,
    token_hash  BYTEA       NOT NULL CHECK (octet_length(token_hash) = 32),
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ,
    version     INTEGER     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE authors (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT        NOT NULL CHECK (name = btrim(name) AND char_length(name) BETWEEN 1 AND 200),
    bio         TEXT        CHECK (char_length(bio) <= 10000),
    born_year   INTEGER     CHECK (born_year BETWEEN -3000 AND 9999),
    version     INTEGER     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- `name` filter: case-insensitive substring (ILIKE) served by a trigram index.
CREATE INDEX authors_name_trgm_idx ON authors USING gin (lower(name) gin_trgm_ops);

CREATE TABLE books (
    isbn         TEXT        PRIMARY KEY CHECK (isbn13_is_valid(isbn)),
    title        TEXT        NOT NULL CHECK (title = btrim(title) AND char_length(title) BETWEEN 1 AND 500),
    category     TEXT        NOT NULL CHECK (category IN ('fiction', 'non_fiction', 'science', 'history',
                                                          'children', 'technology', 'fantasy', 'biography')),
    year         INTEGER     NOT NULL CHECK (year BETWEEN 1450 AND 9999),
    price_cents  INTEGER     NOT NULL CHECK (price_cents BETWEEN 0 AND 10000000),
    stock        INTEGER     NOT NULL CHECK (stock BETWEEN 0 AND 1000000),
    version      INTEGER     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Keyset pagination: every (sort key, isbn) pair of the contract, and the category/year filters.
CREATE INDEX books_title_isbn_idx ON books (title, isbn);
CREATE INDEX books_year_isbn_idx ON books (year, isbn);
CREATE INDEX books_price_isbn_idx ON books (price_cents, isbn);
CREATE INDEX books_category_isbn_idx ON books (category, isbn);
CREATE INDEX books_category_year_isbn_idx ON books (category, year, isbn);
CREATE INDEX books_title_trgm_idx ON books USING gin (lower(title) gin_trgm_ops);

-- Ordered many-to-many: a book's authors in their given order (position 1..=10).
CREATE TABLE book_authors (
    book_isbn   TEXT        NOT NULL REFERENCES books (isbn) ON DELETE CASCADE,
    author_id   BIGINT      NOT NULL REFERENCES authors (id) ON DELETE RESTRICT,
    position    SMALLINT    NOT NULL CHECK (position BETWEEN 1 AND 10),
    version     INTEGER     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (book_isbn, position),
    CONSTRAINT book_authors_book_author_key UNIQUE (book_isbn, author_id)
);
CREATE INDEX book_authors_author_idx ON book_authors (author_id, book_isbn);

CREATE TABLE magazines (
    id           BIGSERIAL PRIMARY KEY,
    title        TEXT        NOT NULL CHECK (title = btrim(title) AND char_length(title) BETWEEN 1 AND 500),
    issn         TEXT        NOT NULL CHECK (issn_is_valid(issn)),
    publisher    TEXT        NOT NULL CHECK (publisher = btrim(publisher) AND char_length(publisher) BETWEEN 1 AND 200),
    category     TEXT        NOT NULL CHECK (category IN ('fiction', 'non_fiction', 'science', 'history',
                                                          'children', 'technology', 'fantasy', 'biography')),
    frequency    TEXT        NOT NULL CHECK (frequency IN ('weekly', 'biweekly', 'monthly', 'quarterly', 'yearly')),
    year         INTEGER     NOT NULL CHECK (year BETWEEN 1450 AND 9999),
    price_cents  INTEGER     NOT NULL CHECK (price_cents BETWEEN 0 AND 10000000),
    version      INTEGER     NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT magazines_issn_key UNIQUE (issn)
);
CREATE INDEX magazines_category_id_idx ON magazines (category, id);
CREATE INDEX magazines_frequency_id_idx ON magazines (frequency, id);
CREATE INDEX magazines_year_id_idx ON magazines (year, id);

-- Change events for subscriptions across server processes (LISTEN bookstore_book_changes).
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
