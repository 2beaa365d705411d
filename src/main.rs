//! The `bookstore` command: serve (default), migrate, seed, create-user, print-schema, print-openapi.

use std::io::Read;

use anyhow::Context;
use clap::{Parser, Subcommand};

use bookstore::{config::Config, domain::Role, seed};

#[derive(Parser)]
#[command(
    name = "bookstore",
    version,
    about = "Bookstore Gateway: REST and GraphQL over PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST and GraphQL APIs (the default). Runs migrations first unless BOOKSTORE_MIGRATE=off.
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Load demo data, or with --authors/--books/--magazines the benchmark data set.
    Seed {
        #[arg(long)]
        authors: Option<u32>,
        #[arg(long)]
        books: Option<u32>,
        #[arg(long)]
        magazines: Option<u32>,
        /// Replace a non-empty catalogue (users are kept).
        #[arg(long)]
        reset: bool,
        /// With the demo data: also create the demo editor `editor` with this password.
        #[arg(long, env = "BOOKSTORE_DEMO_EDITOR_PASSWORD", hide_env_values = true)]
        demo_editor_password: Option<String>,
    },
    /// Create a user; the password comes from --password-stdin or BOOKSTORE_USER_PASSWORD.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["admin", "editor"])]
        role: String,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print the GraphQL SDL.
    PrintSchema,
    /// Print the OpenAPI 3.1 description as JSON.
    PrintOpenapi,
}

fn init_tracing(json: bool) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if json {
        fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .init();
    } else {
        fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
}

/// mimalloc: malloc and free were a third of a cached read's instructions under glibc's allocator
/// (callgrind, W1); see bench/RESULTS.md for the figures, peak RSS included.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let production =
        std::env::var("BOOKSTORE_ENV").is_ok_and(|v| v.eq_ignore_ascii_case("production"));
    init_tracing(production);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => bookstore::server::serve(Config::from_env()?).await,
        Command::Migrate => {
            let applied = bookstore::db::run_migrations(&Config::database_url()?).await?;
            eprintln!("{} migration(s) applied", applied.len());
            Ok(())
        }
        Command::Seed {
            authors,
            books,
            magazines,
            reset,
            demo_editor_password,
        } => {
            let url = Config::database_url()?;
            bookstore::db::run_migrations(&url).await?;
            if authors.is_some() || books.is_some() || magazines.is_some() {
                let set = seed::Dataset {
                    authors: authors.unwrap_or(2000),
                    books: books.unwrap_or(20000),
                    magazines: magazines.unwrap_or(500),
                };
                set.load(&url, reset).await?;
                // Servers sharing a Redis must not keep serving the replaced catalogue.
                if let Ok(redis_url) = std::env::var("REDIS_URL") {
                    let prefix =
                        std::env::var("BOOKSTORE_CACHE_PREFIX").unwrap_or_else(|_| "bs".into());
                    match bookstore::cache::flush_shared(&redis_url, &prefix).await {
                        Ok(n) => eprintln!("dropped {n} cached entries in Redis"),
                        Err(e) => eprintln!("warning: could not empty the Redis cache ({e}); cached entries expire within 5 minutes"),
                    }
                }
                Ok(())
            } else {
                if seed::demo(&url).await? {
                    eprintln!("demo catalogue loaded");
                } else {
                    eprintln!("the catalogue already has data: demo catalogue not loaded");
                }
                if let Some(password) = demo_editor_password {
                    let app = bookstore::App::new(Config::from_env()?)?;
                    match app
                        .create_user_unchecked("editor", None, &password, Role::Editor)
                        .await
                    {
                        Ok(_) => eprintln!("demo editor `editor` created"),
                        Err(e) if e.to_string().contains("taken") => {
                            eprintln!("demo editor `editor` exists")
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
        }
        Command::CreateUser {
            username,
            email,
            role,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading the password from stdin")?;
                s.lines().next().unwrap_or("").to_owned()
            } else {
                std::env::var("BOOKSTORE_USER_PASSWORD")
                    .context("give the password with --password-stdin or BOOKSTORE_USER_PASSWORD")?
            };
            let role = Role::parse(&role).context("role must be admin or editor")?;
            let url = Config::database_url()?;
            bookstore::db::run_migrations(&url).await?;
            let app = bookstore::App::new(Config::from_env()?)?;
            let user = app
                .create_user_unchecked(&username, Some(&email), &password, role)
                .await?;
            eprintln!(
                "created {} user {} (id {})",
                user.role, user.username, user.id
            );
            Ok(())
        }
        Command::PrintSchema => {
            print!("{}", bookstore::graphql::sdl());
            Ok(())
        }
        Command::PrintOpenapi => {
            println!("{}", bookstore::http::openapi::openapi().to_pretty_json()?);
            Ok(())
        }
    }
}
