//! The per-person change counter.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use uuid::Uuid;

/// Reserves `n` consecutive change numbers for `person_id` inside the caller's
/// transaction and returns the first. Holds the person row's lock until commit.
pub async fn advance(db: &impl ConnectionTrait, person_id: Uuid, n: i64) -> Result<i64, DbErr> {
    Ok(advance_in_zone(db, person_id, n).await?.0)
}

/// [`advance`], also returning the person's time zone (read under the same
/// lock, in the same round trip) for writers that bucket by local day.
pub async fn advance_in_zone(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    n: i64,
) -> Result<(i64, String), DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE persons SET change_seq = change_seq + $1 WHERE id = $2 RETURNING change_seq, time_zone"
        }
        _ => "UPDATE persons SET change_seq = change_seq + ? WHERE id = ? RETURNING change_seq, time_zone",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [n.into(), person_id.into()]))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("person {person_id}")))?;
    let last: i64 = row.try_get_by_index(0)?;
    Ok((last - n + 1, row.try_get_by_index(1)?))
}
