//! The change feed: which types are synced, and one page of changes for a
//! device from its cursor.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{Duration, Utc};
use futures_util::future::BoxFuture;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Caller;
use crate::category::Category;
use crate::consent::audit::{self, NewEntry};
use crate::consent::service::reachable;
use crate::entities::{observation, person};
use crate::error::{ApiError, ErrorCode};
use crate::observations::model::Observation;

/// One changed record: its latest state, or a tombstone.
#[derive(Debug, Clone)]
pub struct Change {
    pub person_id: Uuid,
    pub seq: i64,
    pub type_name: &'static str,
    pub id: Uuid,
    pub version: i32,
    pub deleted: bool,
    /// Serialized once, straight into the response.
    pub data: Option<Box<serde_json::value::RawValue>>,
}

/// Fetches up to `limit` changes of one type for one person after `after`
/// and at most `upto` (the person's counter as the page's consent read saw
/// it), in change order, filtered to `categories`. Live rows only when
/// `live_only`.
pub type Fetch = for<'a> fn(
    &'a DatabaseConnection,
    Uuid,
    &'a [Category],
    Window,
    u64,
    bool,
) -> BoxFuture<'a, Result<Vec<Change>, DbErr>>;

/// The change numbers a page fetches for one person: above `after`, at most `upto`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub after: i64,
    pub upto: i64,
}

impl Window {
    /// How many change numbers the window holds.
    pub fn numbers(self) -> i64 {
        (self.upto - self.after).max(0)
    }
}

/// A synced record type. Adding one is adding a row to [`TYPES`].
pub struct SyncType {
    /// Singular wire name (`observation`).
    pub name: &'static str,
    pub fetch: Fetch,
}

pub static TYPES: &[SyncType] = &[
    SyncType { name: "observation", fetch: fetch_observations },
    SyncType { name: "dispensing", fetch: fetch_dispensings },
];

fn fetch_dispensings<'a>(
    db: &'a DatabaseConnection,
    person_id: Uuid,
    categories: &'a [Category],
    w: Window,
    limit: u64,
    live_only: bool,
) -> BoxFuture<'a, Result<Vec<Change>, DbErr>> {
    Box::pin(async move {
        use crate::entities::dispensing::{Column as C, Entity};
        if !categories.contains(&Category::Medications) {
            return Ok(vec![]);
        }
        let mut q = Entity::find()
            .filter(C::PersonId.eq(person_id))
            .filter(C::ChangeSeq.gt(w.after))
            .filter(C::ChangeSeq.lte(w.upto));
        if live_only {
            q = q.filter(C::DeletedAt.is_null());
        }
        let rows = q.order_by_asc(C::ChangeSeq).limit(limit).all(db).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let deleted = r.deleted_at.is_some();
                let (seq, id, version) = (r.change_seq, r.id, r.version);
                Change {
                    person_id,
                    seq,
                    type_name: "dispensing",
                    id,
                    version,
                    deleted,
                    data: if deleted {
                        None
                    } else {
                        serde_json::value::to_raw_value(&crate::medications::http::view(r, false)).ok()
                    },
                }
            })
            .collect())
    })
}

fn fetch_observations<'a>(
    db: &'a DatabaseConnection,
    person_id: Uuid,
    categories: &'a [Category],
    w: Window,
    limit: u64,
    live_only: bool,
) -> BoxFuture<'a, Result<Vec<Change>, DbErr>> {
    Box::pin(async move {
        use observation::Column as C;
        let mut q = observation::Entity::find()
            .filter(C::PersonId.eq(person_id))
            .filter(C::ChangeSeq.gt(w.after))
            .filter(C::ChangeSeq.lte(w.upto))
            .filter(C::Category.is_in(categories.iter().map(|c| c.as_str())));
        if live_only {
            q = q.filter(C::DeletedAt.is_null());
        }
        let rows = q.order_by_asc(C::ChangeSeq).limit(limit).all(db).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let deleted = r.deleted_at.is_some();
                Change {
                    person_id,
                    seq: r.change_seq,
                    type_name: "observation",
                    id: r.id,
                    version: r.version,
                    deleted,
                    data: if deleted {
                        None
                    } else {
                        serde_json::value::to_raw_value(&Observation::from_row(r)).ok()
                    },
                }
            })
            .collect())
    })
}

/// What the device has seen: per person, the last change number and the
/// categories it was filtered by (a bit per [`Category::ALL`] entry).
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct CursorState {
    v: u8,
    p: BTreeMap<Uuid, (i64, u8)>,
}

fn mask(c: &BTreeSet<Category>) -> u8 {
    Category::ALL.iter().enumerate().filter(|(_, x)| c.contains(x)).fold(0, |m, (i, _)| m | (1 << i))
}

fn decode(cursor: Option<&str>) -> Result<CursorState, ApiError> {
    let Some(raw) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(CursorState::default());
    };
    let bad =
        || ApiError::new(ErrorCode::BadRequest, "The sync cursor is malformed; send one this server issued.");
    let bytes = B64.decode(raw).map_err(|_| bad())?;
    let state: CursorState = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if state.v != 1 || state.p.values().any(|(seq, _)| *seq < 0) {
        return Err(bad());
    }
    Ok(state)
}

fn encode(state: &CursorState) -> String {
    B64.encode(serde_json::to_vec(state).unwrap_or_default())
}

pub struct PullResult {
    pub changes: Vec<Change>,
    pub purge: Vec<Uuid>,
    pub cursor: String,
    pub has_more: bool,
    /// Every person the caller follows now.
    pub persons: Vec<Uuid>,
}

/// What a caller reaches on one person's record, as the feed needs it.
struct Followed {
    read: BTreeSet<Category>,
    /// Reached through grants only: reads are logged, with these grants' purpose.
    grants: Option<Vec<crate::consent::policy::Reach>>,
    /// The person's change counter when read.
    clock: i64,
    floor: i64,
}

fn followed(reach: Vec<crate::consent::service::Reachable>) -> BTreeMap<Uuid, Followed> {
    reach
        .into_iter()
        .map(|r| {
            let grants = (r.relationship == "grantee").then_some(r.grants);
            (
                r.person.id,
                Followed { read: r.read, grants, clock: r.person.change_seq, floor: r.person.sync_floor },
            )
        })
        .collect()
}

/// Whether the device is up to date: it follows exactly the persons the caller
/// reaches, with the same categories, and has seen every person's counter.
/// Then the page is empty, and no snapshot or record query is needed.
fn up_to_date(seen: &CursorState, now: &BTreeMap<Uuid, Followed>) -> bool {
    seen.p.len() == now.len()
        && seen.p.iter().all(|(p, (seq, m))| {
            now.get(p)
                .is_some_and(|f| *m == mask(&f.read) && *seq >= f.clock && (*seq == 0 || *seq >= f.floor))
        })
}

/// One page of the feed for `caller` from `cursor`.
///
/// A poll that finds nothing new, the common case, costs one statement: the
/// consent read ([`reachable`]) carries each person's change counter, and a
/// cursor at or past every counter has nothing to fetch.
///
/// Otherwise each type is read for each person up to that counter, without a
/// transaction around the reads. None is needed: counter order is commit
/// order (a writer takes its numbers by locking the person's row and holds the
/// lock until it commits), so every change numbered at or below a counter the
/// consent read saw had committed by then and is visible to every later
/// statement, and a change made since has a higher number and is left for the
/// next page. The one removal a later statement could see that the counter
/// does not order, tombstone pruning, deletes only what a floor raised at
/// least an hour earlier covers ([`prune_tombstones`]).
pub async fn pull(
    db: &DatabaseConnection,
    caller: &Caller,
    cursor: Option<&str>,
    limit: u64,
) -> Result<PullResult, ApiError> {
    // The consent read comes first: it also refuses an erased account (the
    // handler takes the caller without its own account lookup).
    let now = followed(reachable(db, caller).await?);
    let seen = decode(cursor)?;
    if up_to_date(&seen, &now) {
        return Ok(PullResult {
            changes: vec![],
            purge: vec![],
            cursor: encode(&CursorState { v: 1, p: seen.p }),
            has_more: false,
            persons: now.into_keys().collect(),
        });
    }

    // Cursors older than the tombstone window cannot be continued.
    for (p, (seq, _)) in &seen.p {
        if *seq > 0 && now.get(p).is_some_and(|f| *seq < f.floor) {
            return Err(ApiError::new(
                ErrorCode::ResyncRequired,
                "The cursor is older than the deletion history kept; discard local data and sync from the start.",
            ));
        }
    }

    let mut purge = Vec::new();
    let mut next = CursorState { v: 1, p: BTreeMap::new() };
    let mut starts: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (p, (seq, m)) in &seen.p {
        match now.get(p) {
            None => purge.push(*p),
            Some(f) if mask(&f.read) != *m => {
                // Access changed: the device drops what it holds and reloads what it may see now.
                purge.push(*p);
                starts.insert(*p, 0);
            }
            Some(_) => {
                starts.insert(*p, *seq);
            }
        }
    }
    for p in now.keys() {
        starts.entry(*p).or_insert(0);
    }

    let mut changes: Vec<Change> = Vec::new();
    let mut has_more = false;
    for (p, start) in &starts {
        let Some(f) = now.get(p) else { continue };
        let cats: Vec<Category> = f.read.iter().copied().collect();
        let mut last = *start;
        let remaining = limit.saturating_sub(changes.len() as u64);
        if remaining == 0 {
            has_more = true;
            next.p.insert(*p, (last, mask(&f.read)));
            continue;
        }
        // Each type's next `remaining + 1` changes; merged in change order.
        let window = Window { after: *start, upto: f.clock };
        let mut merged: Vec<Change> = Vec::new();
        let mut found: BTreeSet<i64> = BTreeSet::new();
        for t in TYPES {
            // Change numbers are dense per person and each belongs to one
            // record: once the types read so far hold every number in the
            // window, the others have nothing in it (the usual page after an
            // upload is all observations: one query, not one per type).
            if window.numbers() <= found.len() as i64 {
                break;
            }
            let got = (t.fetch)(db, *p, &cats, window, remaining + 1, *start == 0).await?;
            found.extend(got.iter().map(|c| c.seq));
            merged.extend(got);
        }
        merged.sort_by_key(|c| c.seq);
        if merged.len() as u64 > remaining {
            has_more = true;
            merged.truncate(remaining as usize);
            if let Some(c) = merged.last() {
                last = c.seq;
            }
        } else {
            // Every change up to the counter the consent read saw has been
            // looked at, including those in categories the caller cannot see:
            // the cursor moves past them, so the next poll is up to date.
            last = merged.last().map_or(last, |c| c.seq).max(f.clock);
        }
        changes.extend(merged);
        next.p.insert(*p, (last, mask(&f.read)));
    }

    // Reads through a grant are accesses like any other, logged with the
    // organisation and purpose of the grant that carries them.
    let mut per_person: BTreeMap<Uuid, usize> = BTreeMap::new();
    for c in &changes {
        *per_person.entry(c.person_id).or_default() += 1;
    }
    for p in per_person.keys() {
        if let Some(Followed { read, grants: Some(grants), .. }) = now.get(p) {
            let carrier = crate::consent::policy::carrier(grants, read);
            let entry = NewEntry {
                person_id: *p,
                actor_account_id: Some(caller.account_id),
                actor_org_id: carrier.and_then(|r| r.org_id),
                action: "read",
                resource: "sync",
                categories: read,
                purpose: carrier.map(|r| r.purpose.as_str()),
            };
            audit::append(db, entry).await?;
        }
    }
    let persons = now.into_keys().collect();
    Ok(PullResult { changes, purge, cursor: encode(&next), has_more, persons })
}

/// Drops tombstones older than `retention`. A pull reads the floor in its
/// consent read and the tombstones in later statements ([`pull`]), so a
/// tombstone may go only once the floor over it has stood for `grace`,
/// longer than any pull takes, whichever instance raised it: otherwise a pull
/// that saw the old floor could find the tombstone gone and move its cursor
/// past a deletion it never sent. So a run first deletes the old tombstones
/// under a floor raised at least `grace` ago (`sync_floor_raises`), then
/// raises each person's `sync_floor` over the old tombstones left and records
/// when; cursors below a floor get `resync_required` from then on. Returns how
/// many tombstones were deleted.
pub async fn prune_tombstones(
    db: &DatabaseConnection,
    retention: Duration,
    grace: Duration,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let now = Utc::now();
    let cutoff = now - retention;
    let removed = db
        .execute_raw(crate::db::statement(
            backend,
            "DELETE FROM observations WHERE deleted_at < $1 AND change_seq <= \
             (SELECT f.floor FROM sync_floor_raises f WHERE f.person_id = observations.person_id AND f.raised_at <= $2)",
            [cutoff.into(), (now - grace).into()],
        ))
        .await?
        .rows_affected();
    let old = observation::Entity::find()
        .filter(observation::Column::DeletedAt.lt(cutoff))
        .select_only()
        .column(observation::Column::PersonId)
        .column_as(observation::Column::ChangeSeq.max(), "max_seq")
        .group_by(observation::Column::PersonId)
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?;
    for (person_id, max_seq) in old {
        let txn = crate::db::begin_write(db).await?;
        // A floor raised now starts its wait; one already over these
        // tombstones keeps its time (a floor raised before this table
        // existed gets one now).
        let sql = if set_floor(&txn, person_id, max_seq).await? {
            "INSERT INTO sync_floor_raises (person_id, floor, raised_at) VALUES ($1, $2, $3) \
             ON CONFLICT (person_id) DO UPDATE SET floor = excluded.floor, raised_at = excluded.raised_at"
        } else {
            "INSERT INTO sync_floor_raises (person_id, floor, raised_at) VALUES ($1, $2, $3) \
             ON CONFLICT (person_id) DO NOTHING"
        };
        txn.execute_raw(crate::db::statement(backend, sql, [person_id.into(), max_seq.into(), now.into()]))
            .await?;
        txn.commit().await?;
    }
    Ok(removed)
}

/// Raises the person's floor to `floor`; whether it rose.
async fn set_floor(db: &impl sea_orm::ConnectionTrait, person_id: Uuid, floor: i64) -> Result<bool, DbErr> {
    person::Entity::update_many()
        .col_expr(person::Column::SyncFloor, sea_orm::sea_query::Expr::value(floor))
        .filter(person::Column::Id.eq(person_id))
        .filter(person::Column::SyncFloor.lt(floor))
        .exec(db)
        .await
        .map(|r| r.rows_affected > 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A seeded xorshift generator: the same cases on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// `SYNC_FUZZ_SCALE=100 cargo test -p phr-server --lib cursor` runs longer.
    fn rounds(n: usize) -> usize {
        n * std::env::var("SYNC_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1)
    }

    fn valid(rng: &mut Rng) -> CursorState {
        let mut p = BTreeMap::new();
        for _ in 0..rng.below(4) {
            p.insert(Uuid::from_u128(u128::from(rng.next())), ((rng.next() >> 2) as i64, rng.next() as u8));
        }
        CursorState { v: 1, p }
    }

    #[test]
    fn cursors_round_trip() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..rounds(2_000) {
            let s = valid(&mut rng);
            assert_eq!(decode(Some(&encode(&s))).unwrap(), s);
        }
    }

    #[test]
    fn damaged_and_random_cursors_are_refused_never_a_panic() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ {}\":,.\x00\xff";
        for _ in 0..rounds(20_000) {
            let mut text = encode(&valid(&mut rng)).into_bytes();
            match rng.below(4) {
                // Random characters.
                0 => {
                    text = (0..rng.below(200)).map(|_| alphabet[rng.below(alphabet.len())]).collect();
                }
                // A few characters of a real cursor changed, dropped or added.
                1 => {
                    for _ in 0..=rng.below(3) {
                        if text.is_empty() {
                            break;
                        }
                        let i = rng.below(text.len());
                        match rng.below(3) {
                            0 => text[i] = alphabet[rng.below(alphabet.len())],
                            1 => {
                                text.remove(i);
                            }
                            _ => text.insert(i, alphabet[rng.below(alphabet.len())]),
                        }
                    }
                }
                // Well-formed base64 of JSON that is not a cursor of ours.
                2 => {
                    let json = [
                        r#"{"v":2,"p":{}}"#,
                        r#"{"v":1,"p":{"00000000-0000-0000-0000-000000000001":[-1,0]}}"#,
                        r#"{"v":1,"p":{"x":[1,1]}}"#,
                        r#"{"v":1,"p":{"00000000-0000-0000-0000-000000000001":[99999999999999999999,0]}}"#,
                        r#"{"v":1,"p":{"00000000-0000-0000-0000-000000000001":[1,256]}}"#,
                        "[]",
                        "null",
                    ][rng.below(7)];
                    text = B64.encode(json).into_bytes();
                }
                // Truncated.
                _ => {
                    let keep = rng.below(text.len().max(1));
                    text.truncate(keep);
                }
            }
            let raw = String::from_utf8_lossy(&text).into_owned();
            if raw.trim().is_empty() {
                // No cursor at all: a first pull, from the beginning.
                assert_eq!(decode(Some(&raw)).unwrap(), CursorState::default());
                continue;
            }
            if let Ok(state) = decode(Some(&raw)) {
                // Whatever is accepted is a cursor this server could have issued.
                assert_eq!(state.v, 1, "{raw}");
                assert!(state.p.values().all(|(seq, _)| *seq >= 0), "{raw}");
            }
        }
    }
}
