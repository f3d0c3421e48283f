//! The `phr` command line: `serve` (default), `migrate`, `openapi`, `admin`, `keygen`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::startup::{AppState, Application};
use crate::{db, openapi, telemetry};

#[derive(Debug, Parser)]
#[command(name = "phr", version, about = "Personal health record API and sync service")]
pub struct Cli {
    /// Optional TOML settings file; `PHR_*` environment variables win over it.
    #[arg(long, global = true, env = "PHR_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply, revert or list schema migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the OpenAPI document (or write it to --out).
    Openapi {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Administrative tasks on the configured database.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Print a new token signing key for PHR_SIGNING_KEY.
    Keygen,
    /// Access-log integrity.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// Check every person's access-log hash chain; exit 1 at the first broken link.
    Verify,
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    Up,
    Down {
        /// How many migrations to revert (default: all).
        #[arg(long)]
        steps: Option<u32>,
    },
    Status,
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Create a system administrator account.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, env = "PHR_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let load = || Settings::load(cli.config.as_deref());
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let settings = load()?;
            telemetry::init(&settings.log_format);
            tracing::info!(bind = %settings.bind, database = %db::redact(&settings.database_url), "starting");
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "listening");
            app.run_until_stopped().await.context("server")?;
            tracing::info!("stopped");
        }
        Command::Migrate { action } => {
            let settings = load()?;
            let conn = db::connect(&settings.database_url, 2).await?;
            match action {
                MigrateAction::Up => db::migrate_up(&conn).await?,
                MigrateAction::Down { steps } => db::migrate_down(&conn, steps).await?,
                MigrateAction::Status => {}
            }
            for (name, applied) in db::migration_status(&conn).await? {
                println!("{} {name}", if applied { "applied" } else { "pending" });
            }
        }
        Command::Openapi { out } => {
            let json = openapi::spec_json()?;
            match out {
                Some(path) => {
                    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?
                }
                None => print!("{json}"),
            }
        }
        Command::Admin { action: AdminAction::CreateAdmin { email, password } } => {
            let state = AppState::init(load()?).await?;
            let account = crate::accounts::service::create_admin(&state, &email, password)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.to_problem().detail))?;
            println!("created system administrator {} (account {})", account.email, account.id);
        }
        Command::Keygen => println!("{}", crate::auth::keys::generate_spec()),
        Command::Audit { action: AuditAction::Verify } => {
            let settings = load()?;
            let conn = db::connect(&settings.database_url, 2).await?;
            let (checked, broken) = crate::consent::audit::verify(&conn).await?;
            match broken {
                None => println!("ok: {checked} access-log entries verified"),
                Some(b) => anyhow::bail!(
                    "access log broken at person {} entry {}: {} ({checked} entries before it verified)",
                    b.person_id,
                    b.seq,
                    b.reason
                ),
            }
        }
    }
    Ok(())
}
