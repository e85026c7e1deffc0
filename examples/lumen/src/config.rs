//! Start-up settings, from flags and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the app keeps its data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Database {
    /// A SQLite file (created when missing): users, sessions and MFA records.
    Sqlite(PathBuf),
    /// A PostgreSQL database; every table lives in `schema`.
    Postgres {
        /// The connection URL (`postgres://…`).
        url: String,
        /// The schema the app's tables live in.
        schema: String,
    },
}

/// Start-up settings.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// The address to listen on.
    pub addr: SocketAddr,
    /// Where the data lives.
    pub database: Database,
    /// How long an enrollment QR code stays valid, in seconds.
    pub enrollment_ttl: u64,
    /// Whether cookies carry the `Secure` attribute (serve over HTTPS).
    pub secure_cookies: bool,
    /// The key that seals TOTP secrets, as 64 hex digits. When absent it is
    /// read from (or generated into) [`key_file`](Self::key_file).
    pub sealing_key: Option<String>,
    /// Password hashes computed at once (Argon2id, 19 MiB each); default:
    /// the machine's cores. Four times as many wait; beyond that a sign-in
    /// or registration is answered `503` with `Retry-After` at once.
    pub hash_workers: usize,
    /// Seconds a connection has to send a request's headers, also how long
    /// an idle keep-alive connection stays open (default 10).
    pub header_timeout: u64,
    /// Seconds a request has, body included, before a `408` (default 30).
    pub request_timeout: u64,
    /// Connections served at once; more wait to be accepted (default 1024).
    pub max_connections: usize,
    /// Posts (sign-ins, registrations, codes, every form and the JSON API)
    /// a minute per client address, in a burst or spread out; beyond, a
    /// `429` with `Retry-After`. `0` turns the limit off (default 20).
    pub rate_limit: u32,
    /// Behind a reverse proxy: the header the proxy writes the client's
    /// address into (such as `x-forwarded-for`; its last entry counts).
    /// Unset, the peer's address is the client's and no header is read.
    pub client_address_header: Option<http::HeaderName>,
    /// Mounts `/bench/guarded` and `/bench/unguarded`: the account page with
    /// and without the MFA guard, for the load test. Loopback addresses
    /// only.
    pub bench_routes: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("database", &self.database)
            .field("enrollment_ttl", &self.enrollment_ttl)
            .field("secure_cookies", &self.secure_cookies)
            .field("bench_routes", &self.bench_routes)
            .field("hash_workers", &self.hash_workers)
            .field("header_timeout", &self.header_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_connections", &self.max_connections)
            .field("rate_limit", &self.rate_limit)
            .field("client_address_header", &self.client_address_header)
            .field(
                "sealing_key",
                &self.sealing_key.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A flag or variable that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A flag this program does not know.
    #[error("unknown flag {0} (see --help)")]
    UnknownFlag(String),
    /// A flag without its value.
    #[error("{0} needs a value")]
    MissingValue(String),
    /// A value that does not parse.
    #[error("{name} is not valid: {reason}")]
    Invalid {
        /// The flag or variable.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `--help` was asked for.
    #[error("{USAGE}")]
    Help,
}

/// What `--help` prints.
pub const USAGE: &str = "\
Usage: lumen [--addr HOST:PORT] [--database PATH|postgres://URL] [--schema NAME]
             [--enrollment-ttl SECONDS] [--secure-cookies] [--hash-workers N]
             [--rate-limit N] [--client-address-header NAME] [--bench-routes]

  --addr            where to listen (LUMEN_ADDR; default 127.0.0.1:3000)
  --database        a SQLite file, or a postgres:// URL (LUMEN_DATABASE;
                    default lumen.db in the working directory)
  --schema          the PostgreSQL schema for the app's tables (LUMEN_SCHEMA;
                    default lumen)
  --enrollment-ttl  how long an enrollment QR code is valid (LUMEN_ENROLLMENT_TTL;
                    default 180)
  --secure-cookies  mark cookies Secure, for HTTPS (LUMEN_SECURE_COOKIES=1)
  --hash-workers    password hashes computed at once, 19 MiB each
                    (LUMEN_HASH_WORKERS; default the number of cores); four
                    times as many wait, more are answered 503 at once
  --rate-limit      posts a minute per client address (sign-ins, registrations,
                    codes); beyond, 429 (LUMEN_RATE_LIMIT; default 20, 0 for
                    none)
  --client-address-header
                    behind a reverse proxy, the header it writes the client's
                    address into, such as x-forwarded-for (its last entry
                    counts) (LUMEN_CLIENT_ADDRESS_HEADER; default none: the
                    peer's address)
  --bench-routes    for the load test: /bench/guarded and /bench/unguarded serve
                    the account page with and without the MFA guard
                    (loopback addresses only)

The key that seals TOTP secrets comes from LUMEN_SEALING_KEY (64 hex digits),
or from lumen.key beside the database, generated on first start.";

impl Config {
    /// The defaults: `127.0.0.1:3000`, `lumen.db`, QR codes valid 3 minutes.
    #[must_use]
    pub fn new(database: Database) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database,
            enrollment_ttl: 180,
            secure_cookies: false,
            sealing_key: None,
            hash_workers: std::thread::available_parallelism().map_or(2, usize::from),
            header_timeout: 10,
            request_timeout: 30,
            max_connections: 1024,
            rate_limit: 20,
            client_address_header: None,
            bench_routes: false,
        }
    }

    /// Reads flags (without the program name) over environment variables
    /// (`env` looks one up).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an unknown flag or a value that does not parse.
    pub fn from_args(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut addr = env("LUMEN_ADDR");
        let mut database = env("LUMEN_DATABASE");
        let mut schema = env("LUMEN_SCHEMA");
        let mut ttl = env("LUMEN_ENROLLMENT_TTL");
        let mut workers = env("LUMEN_HASH_WORKERS");
        let mut rate_limit = env("LUMEN_RATE_LIMIT");
        let mut address_header = env("LUMEN_CLIENT_ADDRESS_HEADER");
        let mut secure = env("LUMEN_SECURE_COOKIES").is_some_and(|v| v == "1" || v == "true");
        let mut bench = false;
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let slot = match flag.as_str() {
                "--addr" => &mut addr,
                "--database" => &mut database,
                "--schema" => &mut schema,
                "--enrollment-ttl" => &mut ttl,
                "--hash-workers" => &mut workers,
                "--rate-limit" => &mut rate_limit,
                "--client-address-header" => &mut address_header,
                "--secure-cookies" => {
                    secure = true;
                    continue;
                }
                "--bench-routes" => {
                    bench = true;
                    continue;
                }
                "-h" | "--help" => return Err(ConfigError::Help),
                _ => return Err(ConfigError::UnknownFlag(flag)),
            };
            *slot = Some(args.next().ok_or(ConfigError::MissingValue(flag))?);
        }
        let database = match database {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let schema = schema.unwrap_or_else(|| "lumen".to_owned());
                if !valid_schema(&schema) {
                    return Err(ConfigError::Invalid {
                        name: "--schema",
                        reason: "use lower-case letters, digits and _ (at most 63)",
                    });
                }
                Database::Postgres { url, schema }
            }
            Some(path) => Database::Sqlite(PathBuf::from(path.trim_start_matches("sqlite://"))),
            None => Database::Sqlite(PathBuf::from("lumen.db")),
        };
        let mut config = Self::new(database);
        if let Some(addr) = addr {
            config.addr = addr.parse().map_err(|_| ConfigError::Invalid {
                name: "--addr",
                reason: "expected HOST:PORT, such as 127.0.0.1:3000",
            })?;
        }
        if let Some(ttl) = ttl {
            config.enrollment_ttl = ttl.parse().ok().filter(|t| (1..=3600).contains(t)).ok_or(
                ConfigError::Invalid {
                    name: "--enrollment-ttl",
                    reason: "expected seconds between 1 and 3600",
                },
            )?;
        }
        if let Some(workers) = workers {
            config.hash_workers = workers
                .parse()
                .ok()
                .filter(|w| (1..=256).contains(w))
                .ok_or(ConfigError::Invalid {
                    name: "--hash-workers",
                    reason: "expected a number between 1 and 256",
                })?;
        }
        if let Some(limit) = rate_limit {
            config.rate_limit = limit.parse().ok().ok_or(ConfigError::Invalid {
                name: "--rate-limit",
                reason: "expected a number of posts a minute (0 for no limit)",
            })?;
        }
        if let Some(name) = address_header.filter(|n| !n.is_empty()) {
            config.client_address_header =
                Some(name.parse().map_err(|_| ConfigError::Invalid {
                    name: "--client-address-header",
                    reason: "expected a header name, such as x-forwarded-for",
                })?);
        }
        config.secure_cookies = secure;
        if bench && !config.addr.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                name: "--bench-routes",
                reason: "the unguarded copy of the account page is served on loopback addresses only",
            });
        }
        config.bench_routes = bench;
        config.sealing_key = env("LUMEN_SEALING_KEY");
        Ok(config)
    }

    /// Where the sealing key is kept when it is not given: `lumen.key`
    /// beside the SQLite file, or in the working directory.
    #[must_use]
    pub fn key_file(&self) -> PathBuf {
        match &self.database {
            Database::Sqlite(path) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("lumen.key"), |dir| dir.join("lumen.key")),
            Database::Postgres { .. } => PathBuf::from("lumen.key"),
        }
    }
}

/// A PostgreSQL identifier we can put in SQL without quoting.
pub(crate) fn valid_schema(schema: &str) -> bool {
    (1..=63).contains(&schema.len())
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_args(args.iter().map(|a| (*a).to_owned()), |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_flags_and_environment() {
        let config = parse(&[], &[]).unwrap();
        assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database, Database::Sqlite("lumen.db".into()));
        assert_eq!(config.enrollment_ttl, 180);
        assert_eq!(config.key_file(), PathBuf::from("lumen.key"));

        let config = parse(
            &["--addr", "0.0.0.0:8080", "--database", "/data/app.db"],
            &[("LUMEN_ADDR", "127.0.0.1:1"), ("LUMEN_SECURE_COOKIES", "1")],
        )
        .unwrap();
        assert_eq!(config.addr.to_string(), "0.0.0.0:8080");
        assert!(config.secure_cookies);
        assert_eq!(config.key_file(), PathBuf::from("/data/lumen.key"));

        let config = parse(&["--database", "postgres://db/app"], &[]).unwrap();
        assert_eq!(
            config.database,
            Database::Postgres {
                url: "postgres://db/app".to_owned(),
                schema: "lumen".to_owned()
            }
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(matches!(
            parse(&["--port"], &[]),
            Err(ConfigError::UnknownFlag(_))
        ));
        assert!(matches!(
            parse(&["--addr"], &[]),
            Err(ConfigError::MissingValue(_))
        ));
        assert!(matches!(
            parse(&["--addr", "nowhere"], &[]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            parse(&["--enrollment-ttl", "0"], &[]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            parse(&["--database", "postgres://x", "--schema", "a;drop"], &[]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            parse(&["--addr", "0.0.0.0:3000", "--bench-routes"], &[]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(parse(&["--bench-routes"], &[]).unwrap().bench_routes);
        assert!(matches!(
            parse(&["--rate-limit", "-1"], &[]),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            parse(&["--client-address-header", "x forwarded"], &[]),
            Err(ConfigError::Invalid { .. })
        ));
        let config = parse(
            &[
                "--rate-limit",
                "0",
                "--client-address-header",
                "X-Forwarded-For",
            ],
            &[("LUMEN_RATE_LIMIT", "7")],
        )
        .unwrap();
        assert_eq!(config.rate_limit, 0);
        assert_eq!(
            config.client_address_header.as_ref().map(|h| h.as_str()),
            Some("x-forwarded-for")
        );
        assert_eq!(
            parse(&[], &[("LUMEN_RATE_LIMIT", "7")]).unwrap().rate_limit,
            7
        );
        assert_eq!(parse(&[], &[]).unwrap().rate_limit, 20);
    }

    #[test]
    fn debug_hides_the_sealing_key() {
        let config = parse(&[], &[("LUMEN_SEALING_KEY", "00ff00ff")]).unwrap();
        assert!(!format!("{config:?}").contains("00ff00ff"));
    }
}
