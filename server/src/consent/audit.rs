//! The access log: append-only, one hash chain per person. Each entry's hash
//! covers its fields and the previous entry's hash, so changing, removing or
//! reordering an entry breaks the chain from there on; `phr audit verify`
//! finds the first broken link. Chains are per person so that accesses to
//! different records never wait on each other; `(person_id, seq)` is unique,
//! so two writers cannot fork a chain (the loser retries on the new head).

use std::collections::BTreeSet;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::model::categories_to_csv;
use crate::category::Category;
use crate::db::begin_write;
use crate::entities::access_log::{self, Column, Entity};
use crate::error::ApiError;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub struct NewEntry<'a> {
    pub person_id: Uuid,
    pub actor_account_id: Option<Uuid>,
    pub actor_org_id: Option<Uuid>,
    pub action: &'a str,
    pub resource: &'a str,
    pub categories: &'a BTreeSet<Category>,
    pub purpose: Option<&'a str>,
}

fn opt(u: Option<Uuid>) -> String {
    u.map(|u| u.to_string()).unwrap_or_default()
}

/// The chained hash of an entry; `at` is hashed at microsecond precision, the
/// precision both databases store.
pub fn entry_hash(e: &access_log::Model) -> String {
    let fields = [
        e.prev_hash.clone(),
        e.seq.to_string(),
        e.person_id.to_string(),
        e.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        opt(e.actor_account_id),
        opt(e.actor_org_id),
        e.action.clone(),
        e.resource.clone(),
        e.categories.clone(),
        e.purpose.clone().unwrap_or_default(),
    ];
    // Entries without a reason hash as they did before the column existed.
    match &e.reason {
        None => crate::hash::sha256_fields(fields),
        Some(r) => crate::hash::sha256_fields(fields.into_iter().chain([r.clone()])),
    }
}

/// Appends one entry to the person's chain.
pub async fn append(db: &DatabaseConnection, e: NewEntry<'_>) -> Result<(), ApiError> {
    append_with_reason(db, e, None).await
}

/// A chain's last entry: its `seq` and `hash`.
type Head = (i64, String);

/// The head this process last appended to each person's chain, so that the
/// next access logged for that person is one statement. A head that is no
/// longer the last (another instance appended since) is caught by the unique
/// `(person_id, seq)`; one the database no longer holds (restored from a
/// backup, failed over to a replica that missed it) inserts nothing, since
/// the insert requires the remembered head to exist. Either way the append
/// reads the real head and tries again: a stale entry costs a retry, never a
/// fork or a gap. Bounded: emptied when it reaches `HEADS_MAX` persons.
static HEADS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<Uuid, Head>>> =
    std::sync::LazyLock::new(Default::default);
const HEADS_MAX: usize = 16_384;

fn remembered(person_id: Uuid) -> Option<Head> {
    HEADS.lock().ok().and_then(|h| h.get(&person_id).cloned())
}

fn remember(person_id: Uuid, head: Option<Head>) {
    if let Ok(mut heads) = HEADS.lock() {
        match head {
            Some(head) => {
                if heads.len() >= HEADS_MAX {
                    heads.clear();
                }
                heads.insert(person_id, head);
            }
            None => {
                heads.remove(&person_id);
            }
        }
    }
}

/// Appends one entry with the actor's stated reason (emergency access).
pub async fn append_with_reason(
    db: &DatabaseConnection,
    e: NewEntry<'_>,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    let categories = categories_to_csv(e.categories);
    // With a remembered head the append is one INSERT (it commits alone).
    // Without one, the head is read first. PostgreSQL: the unique
    // `(person_id, seq)` settles a race between two appenders, so reading the
    // head and inserting need no transaction around them (each statement
    // commits alone). SQLite: `BEGIN IMMEDIATE` takes the write lock first, so
    // there is no race.
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let mut last_err = None;
    for attempt in 0..5 {
        let known = if attempt == 0 { remembered(e.person_id) } else { None };
        let outcome = if let Some(head) = known {
            insert_after(db, &e, &categories, reason, Some(head)).await
        } else if postgres {
            match read_head(db, e.person_id).await {
                Ok(head) => insert_after(db, &e, &categories, reason, head).await,
                Err(err) => Err(err),
            }
        } else {
            let txn = begin_write(db).await?;
            let appended = match read_head(&txn, e.person_id).await {
                Ok(head) => insert_after(&txn, &e, &categories, reason, head).await,
                Err(err) => Err(err),
            };
            match appended {
                Ok(head) => txn.commit().await.map(|()| head),
                Err(err) => {
                    txn.rollback().await?;
                    Err(err)
                }
            }
        };
        match outcome {
            Ok(Some(head)) => {
                remember(e.person_id, Some(head));
                return Ok(());
            }
            // The remembered head is not in the database: read it.
            Ok(None) => remember(e.person_id, None),
            Err(err) if crate::accounts::service::is_unique_violation(&err) => {
                remember(e.person_id, None);
                last_err = Some(err);
            }
            Err(err) => {
                remember(e.person_id, None);
                return Err(err.into());
            }
        }
    }
    Err(last_err
        .map(ApiError::from)
        .unwrap_or_else(|| ApiError::Internal(anyhow::anyhow!("access log contention"))))
}

async fn read_head(db: &impl ConnectionTrait, person_id: Uuid) -> Result<Option<Head>, sea_orm::DbErr> {
    Ok(Entity::find()
        .filter(Column::PersonId.eq(person_id))
        .order_by_desc(Column::Seq)
        .limit(1)
        .one(db)
        .await?
        .map(|h| (h.seq, h.hash)))
}

/// Inserts the next entry after `head` (none: the chain's first) and returns
/// the new head; a unique violation means another entry took that place
/// first. Nothing is inserted, and `None` returned, unless the database holds
/// `head` (a remembered head may be one it lost).
async fn insert_after(
    db: &impl ConnectionTrait,
    e: &NewEntry<'_>,
    categories: &str,
    reason: Option<&str>,
    head: Option<Head>,
) -> Result<Option<Head>, sea_orm::DbErr> {
    let (seq, prev_hash) = head.map_or_else(|| (1, GENESIS.to_owned()), |(seq, hash)| (seq + 1, hash));
    let mut row = access_log::Model {
        id: Uuid::now_v7(),
        person_id: e.person_id,
        seq,
        at: now_micros(),
        actor_account_id: e.actor_account_id,
        actor_org_id: e.actor_org_id,
        action: e.action.to_owned(),
        resource: e.resource.to_owned(),
        categories: categories.to_owned(),
        purpose: e.purpose.map(str::to_owned),
        reason: reason.map(str::to_owned),
        prev_hash,
        hash: String::new(),
    };
    row.hash = entry_hash(&row);
    let head = (row.seq, row.hash.clone());
    let inserted = db
        .execute_raw(crate::db::statement(
            db.get_database_backend(),
            "INSERT INTO access_log (id, person_id, seq, at, actor_account_id, actor_org_id, action, resource, \
             categories, purpose, reason, prev_hash, hash) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 \
             WHERE $14 = 0 OR EXISTS (SELECT 1 FROM access_log WHERE person_id = $2 AND seq = $14 AND hash = $12)",
            [
                row.id.into(),
                row.person_id.into(),
                row.seq.into(),
                row.at.into(),
                row.actor_account_id.into(),
                row.actor_org_id.into(),
                row.action.into(),
                row.resource.into(),
                row.categories.into(),
                row.purpose.into(),
                row.reason.into(),
                row.prev_hash.into(),
                row.hash.into(),
                (row.seq - 1).into(),
            ],
        ))
        .await?
        .rows_affected();
    Ok((inserted == 1).then_some(head))
}

pub(crate) fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Newest first; `before_seq` continues a page.
pub async fn list(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    before_seq: Option<i64>,
    limit: u64,
) -> Result<Vec<access_log::Model>, sea_orm::DbErr> {
    let mut q = Entity::find().filter(Column::PersonId.eq(person_id));
    if let Some(f) = from {
        q = q.filter(Column::At.gte(f));
    }
    if let Some(t) = to {
        q = q.filter(Column::At.lt(t));
    }
    if let Some(s) = before_seq {
        q = q.filter(Column::Seq.lt(s));
    }
    q.order_by_desc(Column::Seq).limit(limit).all(db).await
}

/// The first broken link found, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub person_id: Uuid,
    pub seq: i64,
    pub reason: String,
}

/// Walks every person's chain. Returns (entries checked, first break).
pub async fn verify(db: &impl ConnectionTrait) -> Result<(u64, Option<Break>), sea_orm::DbErr> {
    let mut checked = 0;
    let mut after: Option<(Uuid, i64)> = None;
    let mut expect_prev = GENESIS.to_owned();
    let mut expect_seq = 1;
    loop {
        // Keyset over (person_id, seq) in pages, so memory stays flat.
        let mut q = Entity::find().order_by_asc(Column::PersonId).order_by_asc(Column::Seq).limit(1000);
        if let Some((p, s)) = after {
            q = q.filter(
                sea_orm::Condition::any()
                    .add(Column::PersonId.gt(p))
                    .add(sea_orm::Condition::all().add(Column::PersonId.eq(p)).add(Column::Seq.gt(s))),
            );
        }
        let page = q.all(db).await?;
        if page.is_empty() {
            return Ok((checked, None));
        }
        for e in page {
            if after.is_none_or(|(p, _)| p != e.person_id) {
                expect_prev = GENESIS.to_owned();
                expect_seq = 1;
            }
            let broken = |reason: String| Break { person_id: e.person_id, seq: e.seq, reason };
            if e.seq != expect_seq {
                return Ok((
                    checked,
                    Some(broken(format!(
                        "expected entry {expect_seq}, found {}: an entry is missing",
                        e.seq
                    ))),
                ));
            }
            if e.prev_hash != expect_prev {
                return Ok((checked, Some(broken("does not link to the entry before it".into()))));
            }
            if entry_hash(&e) != e.hash {
                return Ok((
                    checked,
                    Some(broken("its contents do not match its hash: the entry was modified".into())),
                ));
            }
            checked += 1;
            expect_prev = e.hash.clone();
            expect_seq = e.seq + 1;
            after = Some((e.person_id, e.seq));
        }
    }
}
