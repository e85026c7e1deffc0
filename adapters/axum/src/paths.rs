//! Which paths the guard leaves open, matched by path segments.

/// Where the guard sends people, and what it leaves open.
#[derive(Clone, Debug)]
pub(crate) struct Paths {
    pub(crate) sign_in: String,
    pub(crate) challenge: String,
    pub(crate) enrollment: String,
    pub(crate) open: Vec<String>,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            sign_in: "/login".to_owned(),
            challenge: "/mfa/challenge".to_owned(),
            enrollment: "/mfa/enroll".to_owned(),
            open: Vec::new(),
        }
    }
}

impl Paths {
    /// Whether the guard lets `path` through without looking: the sign-in,
    /// challenge and enrolment pages themselves, and every path an
    /// `allow`ed prefix covers.
    pub(crate) fn is_open(&self, path: &str) -> bool {
        path == self.sign_in
            || path == self.challenge
            || path == self.enrollment
            || self.open.iter().any(|prefix| covers(prefix, path))
    }
}

/// Whether `prefix` covers `path` segment by segment: `/login` covers
/// `/login` and `/login/step`, never `/login-as-admin`.
pub(crate) fn covers(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cover_whole_segments_only() {
        for (prefix, path, open) in [
            ("/login", "/login", true),
            ("/login", "/login/", true),
            ("/login", "/login/step", true),
            ("/login/", "/login/step", true),
            ("/login/", "/login", true),
            ("/login", "/login-as-admin", false),
            ("/login", "/login-history", false),
            ("/login", "/loginx/step", false),
            ("/login", "/", false),
            ("/login", "/account/login", false),
            ("/static", "/static/app.css", true),
            ("/static", "/staticfiles", false),
            ("/", "/anything", true),
        ] {
            assert_eq!(covers(prefix, path), open, "{prefix} {path}");
        }
    }

    #[test]
    fn only_the_flow_pages_are_open_by_default() {
        let paths = Paths::default();
        for path in ["/login", "/mfa/challenge", "/mfa/enroll"] {
            assert!(paths.is_open(path), "{path}");
        }
        for path in ["/mfa/devices", "/mfa/", "/login/x", "/mfa/enroll/x", "/"] {
            assert!(!paths.is_open(path), "{path}");
        }
    }
}
