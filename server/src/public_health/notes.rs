//! Notes on a record: a programme nurse's guidance, the person's diary.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::entities::note;
use crate::error::ApiError;

pub async fn add(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    category: &str,
    text: String,
    author: Uuid,
    org: Option<Uuid>,
) -> Result<note::Model, ApiError> {
    Ok(note::ActiveModel::from(note::Model {
        id: Uuid::now_v7(),
        person_id,
        category: category.to_owned(),
        text,
        author_account_id: author,
        author_org_id: org,
        created_at: chrono::Utc::now(),
    })
    .insert(db)
    .await?)
}

/// The person's notes, newest first; `orgs` narrows to guidance from those organizations.
pub async fn list(
    db: &impl ConnectionTrait,
    person_id: Uuid,
    orgs: Option<&std::collections::BTreeSet<Uuid>>,
) -> Result<Vec<note::Model>, ApiError> {
    let mut q = note::Entity::find().filter(note::Column::PersonId.eq(person_id));
    if let Some(o) = orgs {
        q = q
            .filter(note::Column::Category.eq("guidance"))
            .filter(note::Column::AuthorOrgId.is_in(o.iter().copied()));
    }
    Ok(q.order_by_desc(note::Column::CreatedAt).order_by_desc(note::Column::Id).all(db).await?)
}
