//! GraphQL door.
pub fn sdl() -> String {
    String::new()
}
