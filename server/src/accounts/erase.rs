//! Erasure on request: an account and its own record, or a dependent's
//! record, removed in one transaction.
//!
//! What goes: every row of the person's record (observations and their
//! roll-ups, dispensings and scans, facts, lab results, prescriptions,
//! facility documents and links, notes, alerts and rules, cards, emergency
//! settings and accesses, enrolments), grants given and received, invitations,
//! share codes, transfers, guardianships, and for an account its devices and
//! push tokens, sessions, notifications and preferences, memberships.
//!
//! What stays: the access log about the person, under a random pseudonym —
//! the chain is re-linked under the pseudonym and closed with an `erase`
//! entry that names the head the chain had before, so `phr audit verify`
//! still passes and an external copy of the old head can still be matched.
//! Rows of other people's records that name the account as their author
//! (who scanned a dispensing, who acknowledged an alert) keep the row and
//! lose the name (the nil UUID). Other people's access-log entries keep the
//! account id of an actor that read their record: it is part of their chain.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use uuid::Uuid;

use crate::consent::audit::{GENESIS, entry_hash};
use crate::db::begin_write;
use crate::entities::{access_log, account, guardian, person};
use crate::error::{ApiError, ErrorCode};

/// Tables whose `person_id` rows are the person's record.
const PERSON_ROWS: [&str; 23] = [
    "observations",
    "sync_floor_raises",
    "observation_rollups",
    "dispensings",
    "qr_scans",
    "health_facts",
    "lab_results",
    "prescriptions",
    "clinical_documents",
    "patient_links",
    "grants",
    "invitations",
    "share_codes",
    "transfers",
    "guardians",
    "notifications",
    "alerts",
    "alert_rules",
    "enrollments",
    "notes",
    "cards",
    "emergency_settings",
    "emergency_accesses",
];

/// (table, column) that name an account as the author of a row that may
/// belong to someone else's record: the row stays, the name goes.
const AUTHORED_BY: [(&str, &str); 19] = [
    ("dispensings", "created_by"),
    ("qr_scans", "created_by"),
    ("health_facts", "created_by"),
    ("invitations", "created_by"),
    ("invitations", "accepted_by"),
    ("share_codes", "created_by"),
    ("share_codes", "redeemed_by"),
    ("transfers", "created_by"),
    ("transfers", "claimed_by"),
    ("grants", "created_by"),
    ("alert_rules", "created_by"),
    ("alerts", "acked_by"),
    ("cards", "created_by"),
    ("patient_links", "created_by"),
    ("org_clients", "created_by"),
    ("programs", "created_by"),
    ("enrollments", "enrolled_by"),
    ("notes", "author_account_id"),
    ("emergency_accesses", "clinician_account_id"),
];

async fn delete_where(
    db: &impl ConnectionTrait,
    table: &str,
    column: &str,
    id: Uuid,
) -> Result<(), ApiError> {
    let q = Query::delete()
        .from_table(Alias::new(table))
        .and_where(Expr::col(Alias::new(column)).eq(id))
        .to_owned();
    db.execute(&q).await?;
    Ok(())
}

/// Which dependents stop the erasure of an account: persons without an
/// account of their own whose only guardian it is.
pub async fn sole_dependents(
    db: &impl ConnectionTrait,
    account_id: Uuid,
) -> Result<Vec<person::Model>, ApiError> {
    let mut out = Vec::new();
    for g in guardian::Entity::find().filter(guardian::Column::AccountId.eq(account_id)).all(db).await? {
        let has_account = account::Entity::find()
            .filter(account::Column::PersonId.eq(g.person_id))
            .one(db)
            .await?
            .is_some();
        let others = guardian::Entity::find()
            .filter(guardian::Column::PersonId.eq(g.person_id))
            .filter(guardian::Column::AccountId.ne(account_id))
            .one(db)
            .await?
            .is_some();
        if !has_account
            && !others
            && let Some(p) = person::Entity::find_by_id(g.person_id).one(db).await?
        {
            out.push(p);
        }
    }
    Ok(out)
}

/// Erases the account, its own record, and — with `erase_dependents` — the
/// records of dependents it alone looks after (otherwise they are a 409).
/// Dependents with another guardian are handed over to them.
pub async fn erase_account(
    db: &DatabaseConnection,
    account_id: Uuid,
    erase_dependents: bool,
) -> Result<(), ApiError> {
    let txn = begin_write(db).await?;
    let acc = account::Entity::find_by_id(account_id)
        .one(&txn)
        .await?
        .ok_or(ApiError::Unauthorized { invalid: true })?;
    let sole = sole_dependents(&txn, account_id).await?;
    if !sole.is_empty() && !erase_dependents {
        let names: Vec<String> = sole.iter().map(|p| p.display_name.clone()).collect();
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "You are the only guardian of {}: add another guardian first, or confirm with \
                 eraseDependents that their records go too.",
                names.join(", ")
            ),
        ));
    }
    // The account's own things first: its row references its person.
    let devices: Vec<Uuid> = crate::entities::device::Entity::find()
        .filter(crate::entities::device::Column::AccountId.eq(account_id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|d| d.id)
        .collect();
    for d in devices {
        delete_where(&txn, "push_outbox", "device_id", d).await?;
    }
    for (table, column) in [
        ("sync_mutations", "account_id"),
        ("devices", "account_id"),
        ("refresh_tokens", "account_id"),
        ("notifications", "account_id"),
        ("notification_preferences", "account_id"),
        ("org_members", "account_id"),
        ("guardians", "account_id"),
        ("grants", "grantee_account_id"),
    ] {
        delete_where(&txn, table, column, account_id).await?;
    }
    for (table, column) in AUTHORED_BY {
        let q = Query::update()
            .table(Alias::new(table))
            .value(Alias::new(column), Uuid::nil())
            .and_where(Expr::col(Alias::new(column)).eq(account_id))
            .to_owned();
        txn.execute(&q).await?;
    }
    delete_where(&txn, "accounts", "id", account_id).await?;
    for d in sole {
        erase_person(&txn, d.id).await?;
    }
    erase_person(&txn, acc.person_id).await?;
    txn.commit().await?;
    tracing::info!("account erased on request");
    Ok(())
}

/// Erases one person's record (inside the caller's transaction).
pub async fn erase_person(db: &impl ConnectionTrait, person_id: Uuid) -> Result<(), ApiError> {
    // Pushes that name the person (other people's devices were told about them).
    let q = Query::delete()
        .from_table(Alias::new("push_outbox"))
        .and_where(Expr::col(Alias::new("data")).like(format!("%{person_id}%")))
        .to_owned();
    db.execute(&q).await?;
    for table in PERSON_ROWS {
        delete_where(db, table, "person_id", person_id).await?;
    }
    pseudonymize_log(db, person_id).await?;
    delete_where(db, "persons", "id", person_id).await?;
    Ok(())
}

/// Moves the person's access log under a random pseudonym, re-links the
/// chain and closes it with an `erase` entry naming the former head.
async fn pseudonymize_log(db: &impl ConnectionTrait, person_id: Uuid) -> Result<(), ApiError> {
    let entries = access_log::Entity::find()
        .filter(access_log::Column::PersonId.eq(person_id))
        .order_by_asc(access_log::Column::Seq)
        .all(db)
        .await?;
    let former_head = entries.last().map(|e| e.hash.clone());
    if former_head.is_none() {
        return Ok(());
    }
    // The log's rows need a person to belong to: a stand-in that holds nothing.
    let pseudonym = Uuid::new_v4();
    let now = chrono::Utc::now();
    person::ActiveModel::from(person::Model {
        id: pseudonym,
        display_name: "(erased)".into(),
        birth_date: None,
        sex: None,
        name_kana: None,
        time_zone: "Asia/Tokyo".into(),
        change_seq: 0,
        sync_floor: 0,
        created_at: now,
        updated_at: now,
    })
    .insert(db)
    .await?;
    let mut prev = GENESIS.to_owned();
    let mut seq = 0;
    for e in entries {
        seq = e.seq;
        let mut row = e.clone();
        row.person_id = pseudonym;
        row.prev_hash = prev.clone();
        row.hash = entry_hash(&row);
        prev = row.hash.clone();
        let mut a: access_log::ActiveModel = e.into();
        a.person_id = Set(pseudonym);
        a.prev_hash = Set(row.prev_hash);
        a.hash = Set(row.hash);
        a.update(db).await?;
    }
    if let Some(head) = former_head {
        let mut closing = access_log::Model {
            id: Uuid::now_v7(),
            person_id: pseudonym,
            seq: seq + 1,
            at: crate::consent::audit::now_micros(),
            actor_account_id: None,
            actor_org_id: None,
            action: "erase".into(),
            resource: "record".into(),
            categories: String::new(),
            purpose: None,
            reason: Some(format!("erased on request; the chain's head before pseudonymization was {head}")),
            prev_hash: prev,
            hash: String::new(),
        };
        closing.hash = entry_hash(&closing);
        access_log::ActiveModel::from(closing).insert(db).await?;
    }
    Ok(())
}
