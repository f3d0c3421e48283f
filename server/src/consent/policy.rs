//! The one authorization decision: (caller, person, categories, action) →
//! [`Access`] or an error. Callers with no relation to the person get 404, so
//! a person's existence does not leak; a relation that lacks the category or
//! action gets 403.
//!
//! Today the relation is ownership (an account's own person). Grants, guardians
//! and organisations extend `relation` without changing any caller.

use std::collections::BTreeSet;

use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use crate::auth::Caller;
use crate::category::Category;
use crate::entities::account;
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
}

/// What the caller may do on one person's record, for filtering lists in the query.
#[derive(Debug, Clone)]
pub struct Access {
    pub person_id: Uuid,
    pub account_id: Uuid,
    /// Categories the caller may use for the requested action.
    pub categories: BTreeSet<Category>,
    /// The caller is the person (their own record): nothing to log.
    pub is_self: bool,
}

impl Access {
    /// Errors with 403 unless `category` is allowed.
    pub fn require(&self, category: Category) -> Result<(), ApiError> {
        if self.categories.contains(&category) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("The caller has no access to the `{}` category of this record.", category.as_str()),
            ))
        }
    }
}

/// Decides whether `caller` may perform `action` on `person_id`'s record.
/// `category`, when given, must be allowed (403 otherwise); without it the
/// result lists every allowed category (for list endpoints).
pub async fn authorize(
    db: &impl ConnectionTrait,
    caller: &Caller,
    person_id: Uuid,
    action: Action,
    category: Option<Category>,
) -> Result<Access, ApiError> {
    let categories = relation(db, caller, person_id, action).await?;
    let Some(categories) = categories else {
        return Err(ApiError::not_found("person"));
    };
    let access = Access { person_id, account_id: caller.account_id, categories, is_self: true };
    if let Some(c) = category {
        access.require(c)?;
    }
    if access.categories.is_empty() {
        return Err(ApiError::new(ErrorCode::Forbidden, "The caller may not do this on this record."));
    }
    Ok(access)
}

/// `None`: no relation at all. `Some(set)`: related, with these categories.
async fn relation(
    db: &impl ConnectionTrait,
    caller: &Caller,
    person_id: Uuid,
    _action: Action,
) -> Result<Option<BTreeSet<Category>>, ApiError> {
    let account = account::Entity::find_by_id(caller.account_id)
        .one(db)
        .await?
        .ok_or(ApiError::Unauthorized { invalid: true })?;
    if account.person_id == person_id {
        return Ok(Some(Category::ALL.into_iter().collect()));
    }
    Ok(None)
}
