//! Queries on observations. Every query starts with the person id, so each is a
//! range scan of one of the `(person_id, …)` indexes.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Iterable, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::service::ListFilter;
use crate::category::Category;
use crate::entities::observation::{self, Column, Entity};

/// Rows per INSERT: 23 columns × 400 stays under SQLite's and PostgreSQL's bind limits.
const INSERT_CHUNK: usize = 400;
const LOOKUP_CHUNK: usize = 500;

/// A row's column values in `Column::iter()` order, for multi-row INSERTs.
pub fn values_of(r: &observation::Model) -> Vec<sea_orm::sea_query::SimpleExpr> {
    vec![
        r.id.into(),
        r.person_id.into(),
        r.kind.clone().into(),
        r.category.clone().into(),
        r.value0.into(),
        r.value1.into(),
        r.value2.into(),
        r.code.clone().into(),
        r.text.clone().into(),
        r.original.clone().into(),
        r.start_ms.into(),
        r.end_ms.into(),
        r.utc_offset_s.into(),
        r.source_app.clone().into(),
        r.source_device.clone().into(),
        r.source_method.clone().into(),
        r.note.clone().into(),
        r.content_hash.clone().into(),
        r.dedup_key.clone().into(),
        r.version.into(),
        r.created_at.into(),
        r.updated_at.into(),
        r.deleted_at.into(),
        r.change_seq.into(),
    ]
}

/// Inserts rows whose id and dedup key are both new; returns the ids inserted.
/// Existing ones are skipped by the database (`ON CONFLICT DO NOTHING`), which
/// also settles races between two phones uploading the same sample at once.
pub async fn insert_new<'a>(
    db: &impl ConnectionTrait,
    rows: impl Iterator<Item = &'a observation::Model>,
) -> Result<HashSet<Uuid>, DbErr> {
    let rows: Vec<&observation::Model> = rows.collect();
    let mut inserted = HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut stmt = Query::insert();
        stmt.into_table(Entity).columns(Column::iter());
        for r in chunk {
            stmt.values(values_of(r)).map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        stmt.on_conflict(OnConflict::new().do_nothing().to_owned()).returning_col(Column::Id);
        for row in db.query_all(&stmt).await? {
            inserted.insert(row.try_get_by_index::<Uuid>(0)?);
        }
    }
    Ok(inserted)
}

pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, observation::Model>, DbErr> {
    let ids: Vec<Uuid> = ids.collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(LOOKUP_CHUNK) {
        for r in Entity::find().filter(Column::Id.is_in(chunk.iter().copied())).all(db).await? {
            out.insert(r.id, r);
        }
    }
    Ok(out)
}

pub async fn find_by_dedup_keys<'a>(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    keys: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, observation::Model>, DbErr> {
    let keys: Vec<&str> = keys.collect();
    let mut out = HashMap::new();
    for chunk in keys.chunks(LOOKUP_CHUNK) {
        let found = Entity::find()
            .filter(Column::PersonId.eq(person_id))
            .filter(Column::DedupKey.is_in(chunk.iter().copied()))
            .all(db)
            .await?;
        for r in found {
            out.insert(r.dedup_key.clone(), r);
        }
    }
    Ok(out)
}

/// Newest first by (start_ms, id); `cursor` is the last row of the previous page.
pub async fn list(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    categories: &[Category],
    f: &ListFilter,
) -> Result<Vec<observation::Model>, DbErr> {
    let mut q = Entity::find()
        .filter(Column::PersonId.eq(person_id))
        .filter(Column::DeletedAt.is_null())
        .filter(Column::Category.is_in(categories.iter().map(|c| c.as_str())));
    if let Some(k) = f.kind {
        q = q.filter(Column::Kind.eq(k.name));
    }
    if let Some(from) = f.from_ms {
        q = q.filter(Column::StartMs.gte(from));
    }
    if let Some(to) = f.to_ms {
        q = q.filter(Column::StartMs.lt(to));
    }
    if let Some((start, id)) = f.cursor {
        q = q.filter(
            Condition::any()
                .add(Column::StartMs.lt(start))
                .add(Condition::all().add(Column::StartMs.eq(start)).add(Column::Id.lt(id))),
        );
    }
    q.order_by_desc(Column::StartMs).order_by_desc(Column::Id).limit(f.limit + 1).all(db).await
}

pub async fn find_live(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    id: Uuid,
) -> Result<Option<observation::Model>, DbErr> {
    Entity::find()
        .filter(Column::Id.eq(id))
        .filter(Column::PersonId.eq(person_id))
        .filter(Column::DeletedAt.is_null())
        .one(db)
        .await
}

pub async fn find_any(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    id: Uuid,
) -> Result<Option<observation::Model>, DbErr> {
    Entity::find().filter(Column::Id.eq(id)).filter(Column::PersonId.eq(person_id)).one(db).await
}

pub async fn soft_delete(
    db: &impl ConnectionTrait,
    id: Uuid,
    version: i32,
    change_seq: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::ChangeSeq, Expr::value(change_seq))
        .col_expr(Column::DeletedAt, Expr::value(now))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::value(version))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

pub async fn latest_of_kind(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    kind: &str,
) -> Result<Option<observation::Model>, DbErr> {
    Entity::find()
        .filter(Column::PersonId.eq(person_id))
        .filter(Column::Kind.eq(kind))
        .filter(Column::DeletedAt.is_null())
        .order_by_desc(Column::StartMs)
        .order_by_desc(Column::Id)
        .one(db)
        .await
}
