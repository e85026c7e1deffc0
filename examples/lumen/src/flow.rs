//! The MFA service as the app uses it: one store type for either database,
//! a clock that tests can replace, the customers' policy, and where the
//! signed-in user is kept.

use std::sync::Arc;

use mfa_axum::{UserId, UserPolicy};
use mfa_flow::{Clock, Policy, Saved, Store, StoredRecord};
use mfa_store_sqlx::{PostgresStore, SqliteStore, SqlxStoreError};

use crate::db::Db;

/// The MFA records, in the same database as the users.
#[derive(Clone, Debug)]
pub(crate) enum LumenStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store for LumenStore {
    type Error = SqlxStoreError;

    async fn load(&self, user: &str) -> Result<Option<StoredRecord>, Self::Error> {
        match self {
            Self::Sqlite(s) => s.load(user).await,
            Self::Postgres(s) => s.load(user).await,
        }
    }

    async fn save(&self, user: &str, record: &StoredRecord) -> Result<Saved, Self::Error> {
        match self {
            Self::Sqlite(s) => s.save(user, record).await,
            Self::Postgres(s) => s.save(user, record).await,
        }
    }

    async fn delete(&self, user: &str, version: u64) -> Result<Saved, Self::Error> {
        match self {
            Self::Sqlite(s) => s.delete(user, version).await,
            Self::Postgres(s) => s.delete(user, version).await,
        }
    }
}

/// The clock of the flow and of the sign-in throttle: the system clock, or
/// a manual one in tests.
#[derive(Clone)]
pub(crate) struct AppClock(pub(crate) Arc<dyn Clock>);

impl Clock for AppClock {
    fn now(&self) -> u64 {
        self.0.now()
    }
}

/// MFA is required for the users of "multi-factor required" customers and
/// optional for the others; authenticator apps show the email address.
#[derive(Clone, Debug)]
pub(crate) struct CustomerPolicy {
    pub(crate) db: Db,
}

impl UserPolicy for CustomerPolicy {
    async fn policy(&self, user: &UserId) -> Policy {
        match self.db.user(user.as_str()).await {
            Ok(Some(u)) if !u.customer.mfa_required => Policy::Optional,
            Ok(Some(_)) => Policy::Required,
            // Unknown user or database down: the stricter answer.
            Ok(None) | Err(_) => Policy::Required,
        }
    }

    async fn account_name(&self, user: &UserId) -> String {
        match self.db.user(user.as_str()).await {
            Ok(Some(u)) => u.email,
            _ => user.as_str().to_owned(),
        }
    }
}

/// The session key holding the signed-in user's id: Lumen's own sign-in
/// writes it, and mfa-axum reads it (`SessionIdentity`) to know who is
/// signed in.
pub(crate) const USER_KEY: &str = "lumen.user";
