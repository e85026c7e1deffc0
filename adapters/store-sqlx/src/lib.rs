#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migrate;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(all(feature = "sessions", any(feature = "sqlite", feature = "postgres")))]
mod sessions;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use error::SqlxStoreError;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(all(feature = "sessions", feature = "postgres"))]
pub use sessions::PostgresSessionStore;
#[cfg(all(feature = "sessions", feature = "sqlite"))]
pub use sessions::SqliteSessionStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use sqlx;
