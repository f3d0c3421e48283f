//! The `phr` command line: `serve` (default), `migrate`, `openapi`, `admin`, `keygen`,
//! `audit`, and the SS-MIX2 transfer program (`push-ssmix2`, `import-ssmix2`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::clinical::transfer;
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
    /// Upload a facility's SS-MIX2 storage to a PHR server; a rerun sends only
    /// what earlier runs did not confirm. Exit 1 if any file failed.
    #[command(name = "push-ssmix2")]
    PushSsmix2 {
        /// Base URL of the PHR server, e.g. https://phr.example.jp
        #[arg(long)]
        server: String,
        /// The facility's API client (created by an organization admin).
        #[arg(long, env = "PHR_CLIENT_ID")]
        client_id: String,
        /// The client's secret; prefer the environment variable, which other
        /// users of the PC cannot see the way they see a command line.
        /// (A generated secret may begin with `-`: it is taken as the value.)
        #[arg(long, env = "PHR_CLIENT_SECRET", hide_env_values = true, allow_hyphen_values = true)]
        client_secret: String,
        /// What was sent (default: .phr-push-state in the storage root).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Attempts per request before a file is given up.
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
        max_attempts: u32,
        /// Patients uploaded at once (each patient's files always go in order).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=32))]
        concurrency: u16,
        /// Pause before each upload, in milliseconds (to spare a busy server).
        #[arg(long, default_value_t = 0, hide = true)]
        delay_ms: u64,
        /// First back-off wait, in milliseconds; doubles per failure up to a minute.
        #[arg(long, default_value_t = 500, hide = true)]
        retry_base_ms: u64,
        /// The storage root: the folder holding the <PID 1-3> folders.
        root: PathBuf,
    },
    /// Load a facility's SS-MIX2 storage straight into the configured database
    /// (bulk back-loads); files already there count as duplicates. Exit 1 if any file failed.
    #[command(name = "import-ssmix2")]
    ImportSsmix2 {
        /// The facility's organization id.
        #[arg(long)]
        facility: uuid::Uuid,
        /// The storage root: the folder holding the <PID 1-3> folders.
        root: PathBuf,
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
        Command::PushSsmix2 {
            server,
            client_id,
            client_secret,
            state,
            max_attempts,
            concurrency,
            delay_ms,
            retry_base_ms,
            root,
        } => {
            let opts = transfer::PushOptions {
                server,
                client_id,
                client_secret,
                root,
                state,
                max_attempts,
                concurrency: concurrency.into(),
                backoff: transfer::Backoff {
                    base: Duration::from_millis(retry_base_ms),
                    ..transfer::Backoff::default()
                },
                delay: Duration::from_millis(delay_ms),
            };
            let summary = transfer::push(opts).await?;
            anyhow::ensure!(summary.failed.is_empty(), "{} files failed; see above", summary.failed.len());
        }
        Command::ImportSsmix2 { facility, root } => {
            let settings = load()?;
            let conn = db::connect(&settings.database_url, 2).await?;
            if settings.migrate_on_start {
                db::migrate_up(&conn).await?;
            }
            let summary = transfer::import(&conn, facility, &root).await;
            conn.close().await?;
            let summary = summary?;
            anyhow::ensure!(summary.failed.is_empty(), "{} files failed; see above", summary.failed.len());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::*;

    /// Client secrets are random URL-safe base64 and may begin with `-`; the
    /// transfer tests failed now and then before this was allowed.
    #[test]
    fn a_client_secret_may_begin_with_a_hyphen() {
        let cli = Cli::try_parse_from([
            "phr",
            "push-ssmix2",
            "--server",
            "http://127.0.0.1:1",
            "--client-id",
            "c",
            "--client-secret",
            "-Pq3x",
            "/tmp/root",
        ])
        .unwrap();
        let Some(Command::PushSsmix2 { client_secret, .. }) = cli.command else { panic!("not push-ssmix2") };
        assert_eq!(client_secret, "-Pq3x");
    }
}
