use migration::{Migrator, MigratorTrait};
use phr_tests::{drop_postgres_database, fresh_postgres_database};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

async fn up_down_up(db: &DatabaseConnection) {
    Migrator::up(db, None).await.unwrap();
    let n = Migrator::migrations().len();
    assert_eq!(Migrator::get_applied_migrations(db).await.unwrap().len(), n);
    Migrator::down(db, None).await.unwrap();
    assert!(Migrator::get_applied_migrations(db).await.unwrap().is_empty());
    // Down really removed the tables: creating one of the same name works.
    db.execute_unprepared("CREATE TABLE accounts (x INTEGER)").await.unwrap();
    db.execute_unprepared("DROP TABLE accounts").await.unwrap();
    Migrator::up(db, None).await.unwrap();
    assert_eq!(Migrator::get_pending_migrations(db).await.unwrap().len(), 0);
}

#[tokio::test]
async fn migrations_go_up_down_up_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = phr::db::connect(&format!("sqlite://{}/m.db?mode=rwc", dir.path().display()), 2).await.unwrap();
    up_down_up(&db).await;
}

#[tokio::test]
async fn migrations_go_up_down_up_on_postgres() {
    let Some((admin, name, url)) = fresh_postgres_database().await else {
        eprintln!("skipped: PHR_TEST_POSTGRES_URL is not set");
        return;
    };
    let db = Database::connect(&url).await.unwrap();
    up_down_up(&db).await;
    db.close().await.unwrap();
    drop_postgres_database(admin, name);
}
