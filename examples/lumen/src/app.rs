//! Start-up: databases, the sealing key, the MFA service and the server.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use mfa_axum::{HashedSessionIds, Mfa, SessionIdentity};
use mfa_flow::{AppKey, Clock, Keyring, MfaConfig, MfaService};
use mfa_store_sqlx::sqlx::postgres::PgPoolOptions;
use mfa_store_sqlx::sqlx::sqlite::SqlitePoolOptions;
use mfa_store_sqlx::{
    PostgresSessionStore, PostgresStore, SqliteSessionStore, SqliteStore, SqlxStoreError,
};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;
use tower_http::timeout::TimeoutLayer;
use tower_sessions::session_store::ExpiredDeletion;
use zeroize::Zeroizing;

use crate::client::ClientLimit;
use crate::config::{Config, Database};
use crate::cookies::{Cookies, derive};
use crate::db::Db;
use crate::flow::{AppClock, CustomerPolicy, LumenStore, USER_KEY};
use crate::handlers::{AppState, router};
use crate::security::Hashing;

/// The issuer authenticator apps show above the account.
pub(crate) const ISSUER: &str = "Lumen";

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be opened or set up.
    #[error("the database could not be opened or set up")]
    Database(#[from] mfa_store_sqlx::sqlx::Error),
    /// The MFA tables could not be set up.
    #[error("the MFA store could not be set up")]
    MfaStore(#[from] SqlxStoreError),
    /// The session table could not be set up.
    #[error("the session store could not be set up")]
    Sessions(#[source] SqlxStoreError),
    /// `LUMEN_SEALING_KEY` or the key file does not hold 64 hex digits.
    #[error("the sealing key in {0} is not 64 hex digits")]
    BadKey(String),
    /// The key file could not be read or written.
    #[error("the key file {path} could not be used")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite database file could not be created owner-only.
    #[error("the database file {path} could not be made readable by its owner only")]
    DatabaseFile {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database was set up with a sealing key, and neither
    /// `LUMEN_SEALING_KEY` nor the key file holds one.
    #[error(
        "the database was set up with a sealing key, but {path} is missing and \
         LUMEN_SEALING_KEY is not set: restore the key file from your backup (or set \
         LUMEN_SEALING_KEY to the key); a new key would lock out every enrolled user"
    )]
    KeyMissing {
        /// The key file.
        path: String,
    },
    /// The sealing key is not the one the database was set up with.
    #[error(
        "the sealing key is not the one this database was set up with: start with the \
         original key (LUMEN_SEALING_KEY or the key file); with this one no enrolled \
         user could sign in"
    )]
    KeyMismatch,
    /// A key could not be made.
    #[error("the sealing key could not be made")]
    Key(#[from] mfa_flow::KeyError),
    /// The address could not be bound.
    #[error("could not listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The app, ready to serve.
pub struct Lumen {
    router: Router,
    config: Config,
    sweeper: JoinHandle<()>,
}

impl std::fmt::Debug for Lumen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lumen")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, finishes the requests in flight, and returns.
    ///
    /// # Errors
    ///
    /// The server's I/O error, if it failed.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.unwrap_or(Ok(()))
    }
}

/// The application key's 32 bytes: from the configuration, else from the
/// key file, else generated into a new key file (readable by the owner
/// only). The MFA secrets are sealed under it and the session ids hashed
/// with it.
fn sealing_key(config: &Config, known: bool) -> Result<Zeroizing<[u8; 32]>, StartError> {
    if let Some(hex) = &config.sealing_key {
        return AppKey::material_from_hex(hex)
            .map_err(|_| StartError::BadKey("LUMEN_SEALING_KEY".into()));
    }
    let path = config.key_file();
    let shown = path.display().to_string();
    let io = |source| StartError::KeyFile {
        path: shown.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => AppKey::material_from_hex(&text).map_err(|_| StartError::BadKey(shown.clone())),
        // The database was set up with a key that is not here: a new one
        // would turn every enrolled user's codes away.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && known => {
            Err(StartError::KeyMissing {
                path: shown.clone(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let hex = AppKey::generate_hex().map_err(|e| io(std::io::Error::other(e)))?;
            write_new_key(&path, &hex).map_err(io)?;
            tracing::warn!(
                target: "lumen",
                "generated a new sealing key in {shown}: keep it safe and back it up; \
                 without it no enrolled user can sign in (set LUMEN_SEALING_KEY in production)"
            );
            AppKey::material_from_hex(&hex).map_err(|_| StartError::BadKey(shown.clone()))
        }
        Err(e) => Err(io(e)),
    }
}

/// The application key, checked against the check value the database
/// recorded at its first start (recorded now if this is it): a start with
/// another key, or none where the database knows one (a recorded check, or
/// MFA records from before checks were recorded), refuses. The keyring also
/// holds the same key under id 1, the id records were sealed under before
/// ids were derived from the key, so those still open (and are re-sealed).
async fn checked_key(
    config: &Config,
    db: &Db,
) -> Result<(Zeroizing<[u8; 32]>, Keyring), StartError> {
    let recorded = db.key_check().await?;
    let known = recorded.is_some() || db.has_mfa_records().await?;
    let key = sealing_key(config, known)?;
    let app_key = AppKey::from_bytes_with_derived_id(key.as_slice())?;
    let check = app_key.check().to_hex();
    let recorded = match recorded {
        Some(recorded) => recorded,
        // First start: record it (another instance may have won the race).
        None => db.record_key_check(&check).await?,
    };
    if recorded != check {
        return Err(StartError::KeyMismatch);
    }
    let derived_id = app_key.id();
    let mut keyring = Keyring::new(app_key);
    if derived_id != 1 {
        keyring = keyring.with_previous(AppKey::from_bytes(1, key.as_slice())?)?;
    }
    Ok((key, keyring))
}

/// Creates the SQLite database file readable and writable by its owner
/// only, or narrows an existing one (and its WAL and shared-memory files,
/// which SQLite creates with the database file's permissions).
fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let file = format!("{}{suffix}", path.display());
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn write_new_key(path: &Path, hex: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{hex}")?;
    file.sync_all()
}

impl Lumen {
    /// Opens (and sets up) the database, reads or makes the sealing key,
    /// and builds the app. `clock` is the flow's clock: the system clock,
    /// or a manual one in tests.
    ///
    /// # Errors
    ///
    /// [`StartError`] when the database, the key or the stores cannot be set
    /// up.
    pub async fn new(config: Config, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        // The decoy hash for unknown addresses is made now, so that the
        // first such sign-in does not take longer than the others.
        let _ = tokio::task::spawn_blocking(crate::security::decoy_hash).await;
        let issuer = ISSUER;
        let (db, store) = match &config.database {
            Database::Sqlite(path) => {
                owner_only(path).map_err(|source| StartError::DatabaseFile {
                    path: path.display().to_string(),
                    source,
                })?;
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(SqliteStore::connect_options(path))
                    .await?;
                let db = Db::Sqlite(pool.clone());
                db.setup().await?;
                let store = SqliteStore::from_pool(pool);
                store.migrate().await?;
                (db, LumenStore::Sqlite(store))
            }
            Database::Postgres { url, schema } => {
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .connect(url)
                    .await?;
                let db = Db::Postgres(pool.clone(), schema.clone());
                db.setup().await?;
                let store = PostgresStore::from_pool(pool, schema)?;
                store.migrate().await?;
                (db, LumenStore::Postgres(store))
            }
        };
        let (key, keyring) = checked_key(&config, &db).await?;
        let clock = AppClock(clock);
        let service = MfaService::new(
            store,
            clock.clone(),
            keyring,
            MfaConfig::new(issuer).with_enrollment_ttl(config.enrollment_ttl),
        );
        let policy = CustomerPolicy { db: db.clone() };
        let mfa = Mfa::builder(service, policy, SessionIdentity::new(USER_KEY))
            .sign_in_page("/login")
            .challenge_page("/mfa/challenge")
            .enrollment_page("/mfa/enroll")
            .build();
        let state = AppState {
            mfa,
            db: db.clone(),
            hashing: Arc::new(Hashing::new(config.hash_workers)),
            cookies: Arc::new(Cookies::new(key.as_slice(), config.secure_cookies)),
        };
        // Session ids are hashed under a key of their own.
        let session_key = derive(key.as_slice(), "session ids");
        let limit = ClientLimit::new(config.rate_limit);
        let (router, sweeper) = match &db {
            Db::Sqlite(pool) => {
                let sessions = SqliteSessionStore::from_pool(pool.clone());
                sessions.migrate().await.map_err(StartError::Sessions)?;
                let sessions = HashedSessionIds::new(sessions, session_key.as_slice());
                (
                    router(
                        state,
                        sessions.clone(),
                        clock.clone(),
                        &config,
                        limit.as_ref(),
                    ),
                    sweep(sessions, db.clone(), clock.clone(), limit),
                )
            }
            Db::Postgres(pool, schema) => {
                let sessions = PostgresSessionStore::from_pool(pool.clone(), schema)
                    .map_err(StartError::Sessions)?;
                sessions.migrate().await.map_err(StartError::Sessions)?;
                let sessions = HashedSessionIds::new(sessions, session_key.as_slice());
                (
                    router(
                        state,
                        sessions.clone(),
                        clock.clone(),
                        &config,
                        limit.as_ref(),
                    ),
                    sweep(sessions, db.clone(), clock.clone(), limit),
                )
            }
        };
        Ok(Self {
            router,
            config,
            sweeper,
        })
    }

    /// The app as a router (for in-process tests).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Binds the configured address and serves in the background.
    ///
    /// # Errors
    ///
    /// [`StartError::Bind`] if the address cannot be bound.
    pub async fn serve(self) -> Result<Running, StartError> {
        let addr = self.config.addr;
        let bind = |source| StartError::Bind { addr, source };
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let limits = Limits::from(&self.config);
        let router = self.router.layer(TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            limits.request,
        ));
        let sweeper = self.sweeper;
        let task = tokio::spawn(async move {
            accept(listener, router, limits, stopped).await;
            sweeper.abort();
            Ok(())
        });
        Ok(Running { addr, stop, task })
    }
}

/// The longest a connection is served.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(600);

/// What a connection may take.
#[derive(Clone, Copy, Debug)]
struct Limits {
    headers: Duration,
    request: Duration,
    connections: usize,
}

impl From<&Config> for Limits {
    fn from(config: &Config) -> Self {
        Self {
            headers: Duration::from_secs(config.header_timeout.max(1)),
            request: Duration::from_secs(config.request_timeout.max(1)),
            connections: config.max_connections.max(1),
        }
    }
}

/// Accepts connections until `stopped`, at most `limits.connections` at
/// once, each with a deadline for its request headers (which also closes
/// idle keep-alive connections); then lets the open ones finish.
async fn accept(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    mut stopped: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut stopped => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tracing::warn!(target: "lumen", error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        // The client's address, for the audit log.
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        ));
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.headers)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        // However it behaves (a client that never reads its answers
        // stalls hyper's writes, which no read timeout sees), a connection
        // lasts ten minutes at most.
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
}

/// Every minute: deletes expired sessions, forgets the sign-in attempts of
/// addresses idle for a day, and the clients whose post budget is whole.
fn sweep<S: ExpiredDeletion + 'static>(
    sessions: S,
    db: Db,
    clock: AppClock,
    limit: Option<ClientLimit>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(e) = sessions.delete_expired().await {
                tracing::warn!(target: "lumen", error = %e, "could not delete expired sessions");
            }
            if let Err(e) = db.forget_idle_attempts(clock.now()).await {
                tracing::warn!(target: "lumen", error = %e, "could not forget idle sign-in attempts");
            }
            if let Some(limit) = &limit {
                limit.forget_idle();
            }
        }
    })
}
