//! Who must use MFA: the application's answer per user.

use std::future::Future;

use mfa_flow::Policy;

use crate::identity::UserId;

/// What the application tells the MFA layer about a signed-in user.
pub trait UserPolicy: Send + Sync + 'static {
    /// Whether MFA is optional or required for this user (usually from the
    /// user's customer). When the answer cannot be found, answer
    /// [`Policy::Required`]: the stricter one.
    fn policy(&self, user: &UserId) -> impl Future<Output = Policy> + Send;

    /// The account name an authenticator app shows (usually the email
    /// address). Defaults to the user id.
    fn account_name(&self, user: &UserId) -> impl Future<Output = String> + Send {
        let name = user.as_str().to_owned();
        async move { name }
    }
}

/// One policy for everybody.
impl UserPolicy for Policy {
    async fn policy(&self, _user: &UserId) -> Policy {
        *self
    }
}
