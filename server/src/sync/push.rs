//! Device writes: each mutation is authorized through the consent policy,
//! applied through its type's own service, and its result recorded under
//! (deviceId, mutationId) so a retried push returns the same results and
//! changes nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::consent::{Action, Scope, authorize};
use crate::entities::sync_mutation as record;
use crate::entities::{device, observation};
use crate::error::{ApiError, FieldError};
use crate::observations::http::OBSERVATION_CATEGORIES;
use crate::observations::model::{ItemStatus, Observation};
use crate::observations::{service as obs, store as obs_store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Upsert,
    Delete,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mutation {
    /// Unique per device (and within a push); a retry sends the same one.
    #[schema(min_length = 1, max_length = 64)]
    pub mutation_id: String,
    pub op: Op,
    /// `observation`.
    #[serde(rename = "type")]
    pub type_name: String,
    pub person_id: Uuid,
    pub id: Uuid,
    /// The version the device changed; a stale one is a conflict.
    pub base_version: Option<i32>,
    /// The record as its own endpoint accepts it (upserts).
    pub data: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MutationStatus {
    Applied,
    Conflict,
    Rejected,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MutationResult {
    pub mutation_id: String,
    pub status: MutationStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// The server's copy, on a conflict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldError>,
}

fn result(m: &Mutation, status: MutationStatus) -> MutationResult {
    MutationResult {
        mutation_id: m.mutation_id.clone(),
        status,
        version: None,
        current: None,
        errors: vec![],
    }
}

fn rejected(m: &Mutation, path: &str, message: impl Into<String>) -> MutationResult {
    MutationResult { errors: vec![FieldError::new(path, message)], ..result(m, MutationStatus::Rejected) }
}

/// The server copy for a conflict answer, only if the caller may read its category.
fn visible(access: &crate::consent::Access, row: observation::Model) -> Option<Value> {
    let readable = row.category.parse().is_ok_and(|c| access.categories.contains(&c));
    (readable && row.deleted_at.is_none())
        .then(|| serde_json::to_value(Observation::from_row(row)).unwrap_or_default())
}

async fn current(
    db: &DatabaseConnection,
    person_id: Uuid,
    id: Uuid,
) -> Result<Option<observation::Model>, ApiError> {
    Ok(obs_store::find_any(db, person_id, id).await?)
}

/// Applies `mutations` from `device_id`; returns one result per mutation in
/// input order and the persons whose records changed.
pub async fn push(
    db: &DatabaseConnection,
    caller: &Caller,
    device_id: Uuid,
    mutations: &[Mutation],
) -> Result<(Vec<MutationResult>, Vec<Uuid>), ApiError> {
    let dev = device::Entity::find_by_id(device_id).one(db).await?;
    if dev.is_none_or(|d| d.account_id != caller.account_id) {
        return Err(ApiError::field(
            "deviceId",
            "is not a device of this account; register it with POST /v1/devices",
        ));
    }
    let mut seen_ids = HashMap::new();
    for (i, m) in mutations.iter().enumerate() {
        // Characters, as the spec's maxLength counts them (bytes refused 22 kana).
        if m.mutation_id.is_empty() || m.mutation_id.chars().count() > 64 {
            return Err(ApiError::field(&format!("mutations/{i}/mutationId"), "must be 1 to 64 characters"));
        }
        if let Some(first) = seen_ids.insert(m.mutation_id.as_str(), i) {
            return Err(ApiError::field(
                &format!("mutations/{i}/mutationId"),
                format!("repeats mutation {first}"),
            ));
        }
    }
    // Mutations already applied: their recorded results, unchanged.
    let recorded: HashMap<String, MutationResult> = record::Entity::find()
        .filter(record::Column::DeviceId.eq(device_id))
        .filter(record::Column::MutationId.is_in(mutations.iter().map(|m| m.mutation_id.clone())))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| serde_json::from_str(&r.result).ok().map(|res| (r.mutation_id, res)))
        .collect();
    let mut results: Vec<Option<MutationResult>> =
        mutations.iter().map(|m| recorded.get(&m.mutation_id).cloned()).collect();
    let mut by_person: BTreeMap<Uuid, Vec<usize>> = BTreeMap::new();
    for (i, m) in mutations.iter().enumerate() {
        if results[i].is_none() {
            by_person.entry(m.person_id).or_default().push(i);
        }
    }
    let mut touched = Vec::new();
    for (person_id, idx) in by_person {
        let access = match authorize(
            db,
            caller,
            person_id,
            Action::Write,
            Scope::AnyOf(OBSERVATION_CATEGORIES),
            "sync/push",
        )
        .await
        {
            Ok(a) => a,
            Err(e) => {
                let why = e.to_problem().detail;
                for i in idx {
                    results[i] = Some(rejected(&mutations[i], "personId", why.clone()));
                }
                continue;
            }
        };
        let mut upserts: Vec<(usize, Value)> = Vec::new();
        for &i in &idx {
            let m = &mutations[i];
            if m.type_name != "observation" {
                results[i] = Some(rejected(
                    m,
                    "type",
                    format!("unknown type {:?}; synced types: observation", m.type_name),
                ));
                continue;
            }
            match m.op {
                Op::Upsert => match &m.data {
                    Some(Value::Object(d))
                        if d.get("id").and_then(Value::as_str) == Some(&m.id.to_string()) =>
                    {
                        upserts.push((i, Value::Object(d.clone())));
                    }
                    Some(Value::Object(_)) => {
                        results[i] = Some(rejected(m, "data/id", "must equal the mutation's id"))
                    }
                    _ => results[i] = Some(rejected(m, "data", "an upsert carries the record as an object")),
                },
                Op::Delete => {
                    let now = current(db, person_id, m.id).await?;
                    results[i] = Some(match now {
                        None => rejected(m, "id", "no such observation"),
                        Some(row) if m.base_version.is_some_and(|b| b != row.version) => MutationResult {
                            version: Some(row.version),
                            current: visible(&access, row),
                            ..result(m, MutationStatus::Conflict)
                        },
                        Some(_) => match obs::delete(db, &access, m.id).await {
                            Ok(()) => {
                                touched.push(person_id);
                                let version = current(db, person_id, m.id).await?.map(|r| r.version);
                                MutationResult { version, ..result(m, MutationStatus::Applied) }
                            }
                            // One refused mutation (a category not granted) does not sink the push.
                            Err(e @ (ApiError::Problem { .. } | ApiError::Unauthorized { .. })) => {
                                rejected(m, "id", e.to_problem().detail)
                            }
                            Err(e) => return Err(e),
                        },
                    });
                }
            }
        }
        if !upserts.is_empty() {
            let items: Vec<Value> = upserts.iter().map(|(_, v)| v.clone()).collect();
            let outcome = obs::upload_batch(db, &access, &items, Some(device_id)).await?;
            for ((i, _), r) in upserts.iter().zip(outcome) {
                let m = &mutations[*i];
                results[*i] = Some(match r.status {
                    ItemStatus::Created | ItemStatus::Unchanged => {
                        if r.status == ItemStatus::Created {
                            touched.push(person_id);
                        }
                        MutationResult { version: r.version, ..result(m, MutationStatus::Applied) }
                    }
                    ItemStatus::Conflict => {
                        let row = current(db, person_id, m.id).await?;
                        let row = row.filter(|r| r.person_id == person_id);
                        MutationResult {
                            version: row.as_ref().map(|r| r.version),
                            current: row.and_then(|r| visible(&access, r)),
                            ..result(m, MutationStatus::Conflict)
                        }
                    }
                    ItemStatus::Rejected => MutationResult {
                        errors: r
                            .errors
                            .into_iter()
                            .map(|e| FieldError::new(format!("data/{}", e.path), e.message))
                            .collect(),
                        ..result(m, MutationStatus::Rejected)
                    },
                });
            }
        }
    }
    let results: Vec<MutationResult> = results
        .into_iter()
        .zip(mutations)
        .map(|(r, m)| r.unwrap_or_else(|| rejected(m, "", "not processed")))
        .collect();
    // Record what was newly decided, so a retry returns it unchanged. Refusals
    // for want of access are not recorded: the same mutation may pass once a
    // grant starts.
    let now = Utc::now();
    for (r, m) in results.iter().zip(mutations) {
        let access_refusal =
            r.status == MutationStatus::Rejected && r.errors.iter().any(|e| e.path == "personId");
        if recorded.contains_key(&m.mutation_id) || access_refusal {
            continue;
        }
        let row = record::Model {
            device_id,
            mutation_id: m.mutation_id.clone(),
            account_id: caller.account_id,
            result: serde_json::to_string(r).unwrap_or_default(),
            created_at: now,
        };
        // A concurrent retry may have recorded it first; its result stands.
        if let Err(e) = record::ActiveModel::from(row).insert(db).await
            && !crate::accounts::service::is_unique_violation(&e)
        {
            return Err(e.into());
        }
    }
    touched.sort();
    touched.dedup();
    Ok((results, touched))
}
