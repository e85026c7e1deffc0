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
    /// challenge and enrollment pages themselves, and every path an
    /// `allow`ed prefix covers.
    pub(crate) fn is_open(&self, path: &str) -> bool {
        path == self.sign_in
            || path == self.challenge
            || path == self.enrollment
            || self.open.iter().any(|prefix| covers(prefix, path))
    }
}

/// Whether `prefix` covers `path` segment by segment: `/login` covers
/// `/login`, `/login/` and `/login/step`, never `/login-as-admin`.
///
/// Fails closed: a prefix that does not start with `/` covers nothing, the
/// root prefix `/` covers only `/`, and a path with a dot segment (`.`,
/// `..`), an empty segment inside it (`//`) or a percent-encoded `.`, `/` or
/// `\` is never covered, whatever a wildcard route would make of it.
pub(crate) fn covers(prefix: &str, path: &str) -> bool {
    if !prefix.starts_with('/') {
        return false;
    }
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return path == "/";
    }
    let below = match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    };
    below && plain(path)
}

/// A path without dot segments, inner empty segments or encoded
/// separators and dots.
fn plain(path: &str) -> bool {
    let inner = path.strip_suffix('/').unwrap_or(path);
    let segments_ok = inner
        .split('/')
        .skip(1)
        .all(|segment| !matches!(segment, "" | "." | ".."));
    let lower = path.to_ascii_lowercase();
    segments_ok && !["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e))
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
            ("/", "/", true),
            ("/", "/anything", false),
        ] {
            assert_eq!(covers(prefix, path), open, "{prefix} {path}");
        }
    }

    #[test]
    fn dot_segments_empty_segments_and_encoded_separators_are_never_open() {
        let paths = Paths {
            open: vec!["/files/public".to_owned(), "/login".to_owned()],
            ..Paths::default()
        };
        for path in [
            "/files/public/../secret",
            "/files/public/./x",
            "/files/public/%2e%2e/secret",
            "/files/public/%2E%2E/secret",
            "/files/public/a%2fb",
            "/files/public/a%5Cb",
            "/files/public//x",
            "/login/..",
        ] {
            assert!(!paths.is_open(path), "{path}");
        }
        assert!(paths.is_open("/files/public/app.css"));
    }

    #[test]
    fn an_empty_or_root_prefix_opens_no_other_path() {
        for prefix in ["", "/", "login"] {
            let paths = Paths {
                open: vec![prefix.to_owned()],
                ..Paths::default()
            };
            for path in ["/account", "/x/y"] {
                assert!(!paths.is_open(path), "{prefix:?} opened {path}");
            }
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
