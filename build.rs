//! Rebuild when a migration is added: `embed_migrations!` reads the `migrations/` directory at
//! compile time, and cargo does not notice a new sub-directory on its own (diesel's documented
//! advice). Nothing else happens here.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
