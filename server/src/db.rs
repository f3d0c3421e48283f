//! Opening the database (SQLite embedded default or PostgreSQL) and the
//! transaction helpers every service uses.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

/// Connects and, for SQLite, sets the pragmas a concurrent server needs:
/// WAL so readers never block the writer, a busy timeout so writers queue
/// instead of failing, and foreign keys on.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).connect_timeout(Duration::from_secs(5)).acquire_timeout(Duration::from_secs(5));
    if url.starts_with("sqlite:") {
        create_sqlite_dir(url)?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // An in-memory database is private to its connection: one connection only.
        opts.max_connections(if in_memory { 1 } else { max_connections.max(2) })
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
    } else {
        // SQLx pings a connection when it goes back to the pool (closing it if
        // the ping fails) and, by default, again when it is taken out: one
        // extra round trip per statement outside a transaction. Only a
        // connection that sat idle a while can have been dropped since its
        // release ping (the database restarted, a proxy timed it out), so only
        // those are pinged before use.
        opts.max_connections(max_connections).test_before_acquire_if_idle_for(Duration::from_secs(1));
    }
    Database::connect(opts).await.with_context(|| format!("connecting to {}", redact(url)))
}

/// Creates the directory of a file-backed SQLite URL (`sqlite://dir/x.db?mode=rwc`).
fn create_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let opts = SqliteConnectOptions::from_str(url).context("parsing the SQLite URL")?;
    let file = opts.get_filename();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
        && !is_memory(file)
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating database directory {}", dir.display()))?;
    }
    Ok(())
}

fn is_memory(file: &Path) -> bool {
    file.to_string_lossy().contains(":memory:")
}

/// The URL without its password, for logs and errors.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Starts a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the write
/// lock is taken up front and concurrent writers wait on the busy timeout
/// instead of failing when a read lock cannot be upgraded.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// A hand-written statement for either backend: written with PostgreSQL's
/// `$N` parameters, which become SQLite's `?N` (same numbering, so a
/// parameter may be used more than once). For the few reads on every request
/// that join what the entity API would fetch in several round trips.
pub fn statement(
    backend: sea_orm::DbBackend,
    sql: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    let sql = match backend {
        sea_orm::DbBackend::Postgres => sql.to_owned(),
        _ => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    };
    sea_orm::Statement::from_sql_and_values(backend, sql, values)
}

pub async fn migrate_up(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("applying migrations")
}

pub async fn migrate_down(db: &DatabaseConnection, steps: Option<u32>) -> anyhow::Result<()> {
    Migrator::down(db, steps).await.context("reverting migrations")
}

/// (name, applied?) for every known migration, oldest first.
pub async fn migration_status(db: &DatabaseConnection) -> anyhow::Result<Vec<(String, bool)>> {
    let applied: Vec<String> =
        Migrator::get_applied_migrations(db).await?.into_iter().map(|m| m.name().to_owned()).collect();
    Ok(Migrator::migrations()
        .into_iter()
        .map(|m| {
            let name = m.name().to_owned();
            let done = applied.contains(&name);
            (name, done)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn statements_number_sqlite_parameters_like_postgres() {
        use sea_orm::DbBackend;
        let pg = super::statement(DbBackend::Postgres, "SELECT $1, $2 WHERE a = $1", [1.into(), 2.into()]);
        assert_eq!(pg.sql, "SELECT $1, $2 WHERE a = $1");
        let lite = super::statement(
            DbBackend::Sqlite,
            "SELECT $1, $2 WHERE a = $1 AND b = '$'",
            [1.into(), 2.into()],
        );
        assert_eq!(lite.sql, "SELECT ?1, ?2 WHERE a = ?1 AND b = '$'");
    }

    #[test]
    fn redact_hides_password_only() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("sqlite://phr-data/phr.db?mode=rwc"), "sqlite://phr-data/phr.db?mode=rwc");
    }
}
