//! Cards (UIDs kept only as keyed hashes), per-person settings, and the
//! emergency read itself.

use std::collections::BTreeSet;

use chrono::Utc;
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::consent::model::{OrgKind, OrgRole, Purpose};
use crate::entities::{
    card, emergency_access, emergency_setting as setting, grant, org_member, organization,
};
use crate::error::{ApiError, ErrorCode, FieldError};

/// What the emergency dataset may hold; the default opens all but `vitals`.
pub const PARTS: [&str; 5] = ["allergies", "medications", "conditions", "blood_type", "vitals"];
pub const DEFAULT_PARTS: [&str; 4] = ["allergies", "medications", "conditions", "blood_type"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, validator::Validate)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contact {
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// `長女`, `妻`, …
    #[validate(length(max = 50))]
    #[schema(max_length = 50)]
    pub relation: Option<String>,
    #[validate(length(min = 1, max = 30))]
    #[schema(min_length = 1, max_length = 30)]
    pub phone: String,
}

/// A person's emergency settings (defaults when never saved).
#[derive(Debug, Clone)]
pub struct Settings {
    pub enabled: bool,
    pub parts: BTreeSet<String>,
    pub contacts: Vec<Contact>,
}

/// UID bytes as uppercase hex without separators: `04:A2:3B…`, `04a23b…`
/// and `04 A2 3B …` are one card. 4 to 10 bytes (ISO/IEC 14443 UIDs are 4, 7 or 10).
pub fn normalize_uid(uid: &str) -> Option<String> {
    let hex: String =
        uid.chars().filter(|c| !matches!(c, ':' | '-' | ' ')).collect::<String>().to_ascii_uppercase();
    (hex.len().is_multiple_of(2)
        && (8..=20).contains(&hex.len())
        && hex.chars().all(|c| c.is_ascii_hexdigit()))
    .then_some(hex)
}

/// HMAC-SHA256 of the normalised UID under the card key, hex.
pub fn uid_hash(key: &str, uid: &str) -> Result<String, ApiError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
    mac.update(uid.as_bytes());
    Ok(crate::hash::hex(&mac.finalize().into_bytes()))
}

pub async fn register_card(
    db: &DatabaseConnection,
    key: &str,
    person_id: Uuid,
    uid: &str,
    by: Uuid,
) -> Result<card::Model, ApiError> {
    let uid = normalize_uid(uid).ok_or_else(|| {
        ApiError::validation(vec![FieldError::new(
            "cardUid",
            "must be the card's UID in hex: 4, 7 or 10 bytes",
        )])
    })?;
    let hash = uid_hash(key, &uid)?;
    let txn = crate::db::begin_write(db).await?;
    if let Some(existing) = card::Entity::find().filter(card::Column::UidHash.eq(&hash)).one(&txn).await? {
        if existing.retired_at.is_none() {
            return Err(ApiError::new(ErrorCode::Conflict, "This card is already registered."));
        }
        card::Entity::delete_by_id(existing.id).exec(&txn).await?;
    }
    let c = card::ActiveModel::from(card::Model {
        id: Uuid::now_v7(),
        person_id,
        uid_hash: hash,
        created_by: by,
        created_at: Utc::now(),
        retired_at: None,
    })
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(c)
}

pub async fn cards(db: &impl ConnectionTrait, person_id: Uuid) -> Result<Vec<card::Model>, ApiError> {
    Ok(card::Entity::find()
        .filter(card::Column::PersonId.eq(person_id))
        .order_by_asc(card::Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn retire_card(db: &impl ConnectionTrait, person_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    let c = card::Entity::find_by_id(id)
        .filter(card::Column::PersonId.eq(person_id))
        .filter(card::Column::RetiredAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("card"))?;
    let mut a: card::ActiveModel = c.into();
    a.retired_at = Set(Some(Utc::now()));
    a.update(db).await?;
    Ok(())
}

pub async fn settings(db: &impl ConnectionTrait, person_id: Uuid) -> Result<Settings, ApiError> {
    Ok(match setting::Entity::find_by_id(person_id).one(db).await? {
        Some(s) => Settings {
            enabled: s.enabled,
            parts: s.categories.split(',').filter(|p| !p.is_empty()).map(str::to_owned).collect(),
            contacts: serde_json::from_str(&s.contacts).unwrap_or_default(),
        },
        None => Settings {
            enabled: true,
            parts: DEFAULT_PARTS.iter().map(|p| (*p).to_owned()).collect(),
            contacts: vec![],
        },
    })
}

pub async fn save_settings(db: &impl ConnectionTrait, person_id: Uuid, s: &Settings) -> Result<(), ApiError> {
    let parts: Vec<&str> = s.parts.iter().map(String::as_str).collect();
    let row = setting::Model {
        person_id,
        enabled: s.enabled,
        categories: parts.join(","),
        contacts: serde_json::to_string(&s.contacts).map_err(|e| ApiError::Internal(e.into()))?,
        updated_at: Utc::now(),
    };
    if setting::Entity::find_by_id(person_id).one(db).await?.is_some() {
        setting::ActiveModel::from(row).reset_all().update(db).await?;
    } else {
        setting::ActiveModel::from(row).insert(db).await?;
    }
    Ok(())
}

/// The hospital or clinic the caller acts for as a clinician.
pub async fn clinician_org(
    db: &impl ConnectionTrait,
    account_id: Uuid,
) -> Result<Option<organization::Model>, ApiError> {
    for m in org_member::Entity::find().filter(org_member::Column::AccountId.eq(account_id)).all(db).await? {
        if m.role != OrgRole::Clinician.as_str() {
            continue;
        }
        if let Some(o) = organization::Entity::find_by_id(m.org_id).one(db).await?
            && (o.kind == OrgKind::Hospital.as_str() || o.kind == OrgKind::Clinic.as_str())
        {
            return Ok(Some(o));
        }
    }
    Ok(None)
}

pub async fn find_card(db: &impl ConnectionTrait, hash: &str) -> Result<Option<card::Model>, ApiError> {
    Ok(card::Entity::find()
        .filter(card::Column::UidHash.eq(hash))
        .filter(card::Column::RetiredAt.is_null())
        .one(db)
        .await?)
}

/// Family members with a grant in force on the person (any category): they are told of emergencies.
pub async fn family(db: &impl ConnectionTrait, person_id: Uuid) -> Result<BTreeSet<Uuid>, ApiError> {
    let now = Utc::now();
    Ok(grant::Entity::find()
        .filter(grant::Column::PersonId.eq(person_id))
        .filter(grant::Column::Purpose.eq(Purpose::Family.as_str()))
        .filter(grant::Column::RevokedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .filter(|g| crate::consent::policy::in_force(g, now))
        .filter_map(|g| g.grantee_account_id)
        .collect())
}

pub async fn record_access(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    card_id: Uuid,
    clinician: Uuid,
    org_id: Uuid,
    reason: &str,
) -> Result<emergency_access::Model, ApiError> {
    Ok(emergency_access::ActiveModel::from(emergency_access::Model {
        id: Uuid::now_v7(),
        person_id,
        card_id,
        clinician_account_id: clinician,
        org_id,
        reason: reason.to_owned(),
        created_at: Utc::now(),
    })
    .insert(db)
    .await?)
}

pub async fn accesses(
    db: &impl ConnectionTrait,
    person_id: Uuid,
) -> Result<Vec<emergency_access::Model>, ApiError> {
    Ok(emergency_access::Entity::find()
        .filter(emergency_access::Column::PersonId.eq(person_id))
        .order_by_desc(emergency_access::Column::CreatedAt)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]

    use super::*;

    #[test]
    fn uids_normalize_to_bare_uppercase_hex() {
        assert_eq!(normalize_uid("04:a2:3b:c1:5d:80:11").as_deref(), Some("04A23BC15D8011"));
        assert_eq!(normalize_uid("04 A2 3B C1").as_deref(), Some("04A23BC1"));
        assert_eq!(normalize_uid("04A23"), None, "odd number of digits");
        assert_eq!(normalize_uid("04A2"), None, "too short");
        assert_eq!(normalize_uid("zz:zz:zz:zz"), None);
    }
}
