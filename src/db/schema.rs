// @generated automatically by Diesel CLI.

diesel::table! {
    authors (id) {
        id -> Int8,
        name -> Text,
        bio -> Nullable<Text>,
        born_year -> Nullable<Int4>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    book_authors (book_isbn, position) {
        book_isbn -> Text,
        author_id -> Int8,
        position -> Int2,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    books (isbn) {
        isbn -> Text,
        title -> Text,
        category -> Text,
        year -> Int4,
        price_cents -> Int4,
        stock -> Int4,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    magazines (id) {
        id -> Int8,
        title -> Text,
        issn -> Text,
        publisher -> Text,
        category -> Text,
        frequency -> Text,
        year -> Int4,
        price_cents -> Int4,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Int8,
        user_id -> Int8,
        family_id -> Uuid,
        token_hash -> Bytea,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        session_epoch -> Int4,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(book_authors -> authors (author_id));
diesel::joinable!(book_authors -> books (book_isbn));
diesel::joinable!(refresh_tokens -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    authors,
    book_authors,
    books,
    magazines,
    refresh_tokens,
    users,
);
