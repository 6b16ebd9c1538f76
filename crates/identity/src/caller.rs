//! What verification yields: the caller, or why there is none.
use std::fmt;

/// A caller whose token verified: the user it names and the roles it grants.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    user: i64,
    roles: Vec<String>,
}

impl Caller {
    /// What verification yields; tests of handlers build one as a verified token would.
    pub fn new(user: i64, roles: Vec<String>) -> Self {
        Self { user, roles }
    }

    /// The user id (the token's subject), always positive.
    pub fn user(&self) -> i64 {
        self.user
    }

    /// Whether the token grants `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Caller(user {}, roles {:?})", self.user, self.roles)
    }
}

/// What a call may do, as its server's authentication found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// The token verified: the caller acts for its own user.
    Caller(Caller),
    /// Nobody was checked ([`crate::Authentication::Unchecked`], which only the benchmarks set): the
    /// request's `user` fields are believed, as before user tokens existed.
    Unchecked,
}

impl Access {
    /// Whether the call may act on `user`'s data: the caller is that user.
    pub fn may_act_as(&self, user: i64) -> bool {
        match self {
            Self::Caller(caller) => caller.user == user,
            Self::Unchecked => true,
        }
    }

    /// Whether the caller's token grants `role` (never when nobody was checked).
    pub fn has_role(&self, role: &str) -> bool {
        match self {
            Self::Caller(caller) => caller.has_role(role),
            Self::Unchecked => false,
        }
    }

    /// The caller's user id, when a token was verified.
    pub fn user(&self) -> Option<i64> {
        match self {
            Self::Caller(caller) => Some(caller.user),
            Self::Unchecked => None,
        }
    }
}

/// Why a call has no caller: each message says what the client can fix, and none repeats the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no token: send `authorization: Bearer <token>` (or `x-api-key: <token>`)")]
    Missing,
    #[error("the token is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("malformed token: not a JWT signed with EdDSA, ES256 or RS256")]
    Malformed,
    #[error("tokens signed with {0} are refused: only EdDSA, ES256 and RS256 are accepted")]
    SymmetricAlgorithm(&'static str),
    #[error("the token's header names no key (kid)")]
    NoKeyId,
    #[error("the token names a key (kid) the identity provider does not publish: get a new token")]
    UnknownKey,
    #[error("the token's algorithm is not the one of the key it names")]
    WrongAlgorithm,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired: get a new one")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token was issued by another issuer (iss) than this service trusts")]
    WrongIssuer,
    #[error("the token is meant for another audience (aud) than this service")]
    WrongAudience,
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(String),
    #[error("the token's subject (sub) is not a user id: a positive integer")]
    NotAUser,
    #[error("the token's claims are malformed (roles must be an array of strings)")]
    BadClaims,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_acts_only_as_itself_and_has_only_its_roles() {
        let access = Access::Caller(Caller::new(7, vec!["support".into()]));
        assert!(access.may_act_as(7));
        assert!(!access.may_act_as(8));
        assert!(access.has_role("support"));
        assert!(!access.has_role("admin"));
        assert_eq!(access.user(), Some(7));
    }

    #[test]
    fn unchecked_access_believes_the_request_and_grants_no_role() {
        assert!(Access::Unchecked.may_act_as(8));
        assert!(!Access::Unchecked.has_role("support"));
        assert_eq!(Access::Unchecked.user(), None);
    }
}
