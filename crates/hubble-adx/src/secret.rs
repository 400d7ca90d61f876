//! `Secret`: a string that must never be printed (access tokens, client secrets, SAS signatures,
//! authorization contexts). Guarantees: `Debug` prints `Secret(***)`, there is no `Display`, and
//! the only way to read the value is the explicit [`Secret::expose`].

use std::fmt;
use std::sync::Arc;

/// A sensitive string. Cheap to clone; redacted in `Debug`; not `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a sensitive value.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// Returns the secret value. Call sites should only pass it straight into a request.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("eyJhbGciOi.super-secret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(Secret(***))");
        assert_eq!(s.expose(), "eyJhbGciOi.super-secret");
    }
}
