//! Starting the app as a user does: the `lumen` binary on an empty
//! directory (database and key file created, URL printed), again on the same
//! directory (the key is reused), a restart that keeps people signed in (on
//! SQLite and PostgreSQL), and clear failures for a bad key or flag.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;
use std::sync::Arc;

use common::process::Server;
use common::{Backend, Client, app};
use http::StatusCode;

#[test]
fn the_binary_needs_nothing_but_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[]);
    let page = server.get("/login", &mut common::Jar::default());
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign in to Lumen"));
    assert!(dir.path().join("lumen.db").exists());
    let key_file = dir.path().join("lumen.key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is the owner's only");
    }
    let log = server.stop();
    assert!(log.contains("generated a new sealing key"), "{log}");
    assert!(!log.contains(key.trim()), "the key is never logged");

    // Started again, it keeps the database and the key.
    let server = Server::start(dir.path(), &[], &[]);
    assert_eq!(
        server.get("/register", &mut common::Jar::default()).status,
        200
    );
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    let log = server.stop();
    assert!(!log.contains("generated a new sealing key"), "{log}");
}

/// The binary in `dir`, to its exit within 30 s (killed after that, as
/// one that serves instead of refusing): (exit code, standard error).
fn run_to_exit(dir: &std::path::Path, key: Option<&str>) -> (Option<i32>, String) {
    use std::io::Read as _;
    let mut command = Command::new(env!("CARGO_BIN_EXE_lumen"));
    command
        .current_dir(dir)
        .args(["--addr", "127.0.0.1:0"])
        .env_remove("LUMEN_SEALING_KEY")
        .env_remove("LUMEN_DATABASE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(key) = key {
        command.env("LUMEN_SEALING_KEY", key);
    }
    let mut child = command.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break Some(0);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    (status, text)
}

/// A key cannot be silently replaced: once the database knows its key, a
/// start with another key, or with the key file gone, refuses and says
/// what to do.
#[test]
fn a_lost_or_different_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[]);
    assert_eq!(
        server.get("/login", &mut common::Jar::default()).status,
        200
    );
    server.stop();
    let key_file = dir.path().join("lumen.key");
    let key = std::fs::read_to_string(&key_file).unwrap();

    // The key file deleted: no new key is made.
    std::fs::remove_file(&key_file).unwrap();
    let (code, text) = run_to_exit(dir.path(), None);
    assert_ne!(code, Some(0));
    assert!(text.contains("restore the key file"), "{text}");
    assert!(!key_file.exists(), "no new key was made");

    // Another key: refused, and neither key is shown.
    let other = "ab".repeat(32);
    let (code, text) = run_to_exit(dir.path(), Some(&other));
    assert_ne!(code, Some(0));
    assert!(
        text.contains("not the one this database was set up with"),
        "{text}"
    );
    assert!(
        !text.contains(&other) && !text.contains(key.trim()),
        "{text}"
    );

    // The original key: it starts.
    let server = Server::start(dir.path(), &[], &[("LUMEN_SEALING_KEY", key.trim())]);
    assert_eq!(
        server.get("/login", &mut common::Jar::default()).status,
        200
    );
    server.stop();
}

#[test]
fn bad_settings_stop_it_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lumen"))
        .current_dir(dir.path())
        .args(["--addr", "127.0.0.1:0"])
        .env("LUMEN_SEALING_KEY", "not a key")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(
        text.contains("LUMEN_SEALING_KEY is not 64 hex digits"),
        "{text}"
    );
    assert!(!text.contains("not a key"), "the value is not echoed");

    let out = Command::new(env!("CARGO_BIN_EXE_lumen"))
        .current_dir(dir.path())
        .arg("--port")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("unknown flag --port")
    );

    let out = Command::new(env!("CARGO_BIN_EXE_lumen"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("--database")
    );
}

async fn a_restart_keeps_people_signed_in(backend: Backend) {
    let Some(test) = app(backend).await else {
        return;
    };
    let mut client = Client::new(&test);
    client.register("ada@example.com", "1", false).await;
    client
        .sign_in("ada@example.com", "correct horse battery")
        .await;
    assert_eq!(client.get("/account").await.status, StatusCode::OK);
    // A new process on the same database: the session is still there.
    let restarted = lumen::Lumen::new(test.config.clone(), Arc::new(test.clock.clone()))
        .await
        .unwrap();
    let mut again = Client {
        router: restarted.router(),
        cookies: client.cookies.clone(),
    };
    let page = again.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Welcome, Ada Lovelace"));
}

#[tokio::test]
async fn a_restart_keeps_people_signed_in_on_sqlite() {
    a_restart_keeps_people_signed_in(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_restart_keeps_people_signed_in_on_postgres() {
    a_restart_keeps_people_signed_in(Backend::Postgres).await;
}

/// Slow clients are cut off: headers not sent within the header timeout
/// close the connection, a body not sent within the request timeout is a
/// 408, and an idle keep-alive connection is closed.
#[tokio::test]
async fn slow_and_idle_connections_are_cut_off() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;
    use tokio::time::{Duration, timeout};

    let Some(test) = app(Backend::Sqlite).await else {
        return;
    };
    let mut config = test.config.clone();
    config.header_timeout = 1;
    config.request_timeout = 1;
    let lumen = lumen::Lumen::new(config, Arc::new(test.clock.clone()))
        .await
        .unwrap();
    let running = lumen.serve().await.unwrap();
    let addr = running.addr;
    // Everything the server sends on `stream` until it closes it, or None
    // if it keeps it open for 5 s.
    async fn until_closed(stream: &mut TcpStream) -> Option<String> {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&seen).into_owned()),
                Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
                Err(_) => return None,
            }
        }
    }

    // Half the headers, then nothing.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /login HTTP/1.1\r\nHost: lumen\r\n")
        .await
        .unwrap();
    assert!(
        until_closed(&mut slow).await.is_some(),
        "slow headers kept open"
    );

    // The headers of a form, a tenth of its body, then nothing.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /login HTTP/1.1\r\nHost: lumen\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=a%40",
    )
    .await
    .unwrap();
    let answer = until_closed(&mut slow).await;
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 408")),
        "slow body: {answer:?}"
    );

    // One request, then an idle keep-alive connection.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /login HTTP/1.1\r\nHost: lumen\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut idle).await;
    assert!(
        answer
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 200")),
        "idle keep-alive: {answer:?}"
    );
    running.stop().await.unwrap();
}

/// Sign-in failures and successes are audited with the client's address and
/// user agent, never the password.
#[test]
fn sign_ins_are_audited_with_address_and_agent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[("RUST_LOG", "lumen=info")]);
    let mut cookie = common::Jar::default();
    let answer = server.sign_in(&mut cookie, "nobody@example.com", "a secret guess");
    assert_eq!(answer.outcome(), "incorrect", "{}", answer.head);
    let log = server.stop();
    let line = log
        .lines()
        .find(|l| l.contains("lumen::audit") && l.contains("sign_in_failed"))
        .unwrap_or_else(|| panic!("no audit event in {log}"));
    assert!(line.contains("nobody@example.com"), "{line}");
    assert!(line.contains("127.0.0.1"), "{line}");
    assert!(line.contains("lumen-test-agent"), "{line}");
    assert!(
        !log.contains("a secret guess"),
        "the password is never logged"
    );
}
