//! Durability on SQLite: a child process confirms an enrollment, reports it,
//! and is killed with SIGKILL straight away; the enrollment is there when the
//! database is opened again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mfa_flow::totp_core::{Secret, Totp, TotpConfig};
use mfa_flow::{AppKey, CodeKind, Keyring, ManualClock, MfaConfig, MfaService, StateKind};
use mfa_store_sqlx::SqliteStore;

const CHILD_DB: &str = "MFA_DURABILITY_CHILD_DB";
const START: u64 = 1_700_000_000;
const USER: &str = "durable-user";

async fn service(path: &str, now: u64) -> MfaService<SqliteStore, ManualClock> {
    let store = SqliteStore::open(path).await.unwrap();
    store.migrate().await.unwrap();
    MfaService::new(
        store,
        ManualClock::new(now),
        Keyring::new(AppKey::from_bytes(1, &[4; 32]).unwrap()),
        MfaConfig::new("Durability"),
    )
}

/// The child's part, run only by `a_confirmed_enrollment_survives_sigkill`.
#[tokio::test]
#[ignore = "run as a child process by a_confirmed_enrollment_survives_sigkill"]
async fn child_confirms_then_waits_to_be_killed() {
    let path = std::env::var(CHILD_DB).expect("run by the parent test");
    let service = service(&path, START).await;
    let ticket = service
        .begin_enrollment(USER, "d@example.com")
        .await
        .unwrap();
    let app = Totp::new(
        TotpConfig::default(),
        &Secret::from_base32(ticket.expose_secret()).unwrap(),
    );
    let code = app.generate(START).unwrap();
    assert!(
        service
            .confirm_enrollment(USER, code.as_str())
            .await
            .unwrap()
            .is_accepted()
    );
    // The call has returned: tell the parent, which kills us at once.
    println!("CONFIRMED {}", ticket.expose_secret());
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[test]
fn a_confirmed_enrollment_survives_sigkill() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-durability");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let path = path.to_str().unwrap().to_owned();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_confirms_then_waits_to_be_killed"])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest may print the test's name on the same line first.
            if let Some((_, secret)) = line.split_once("CONFIRMED ") {
                let _ = tx.send(secret.trim().to_owned());
                return;
            }
        }
    });
    let secret = rx.recv_timeout(Duration::from_secs(120));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let secret = secret.expect("the child confirmed the enrollment");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let service = service(&path, START + 30).await;
        assert_eq!(service.status(USER).await.unwrap().state, StateKind::Active);
        let app = Totp::new(
            TotpConfig::default(),
            &Secret::from_base32(&secret).unwrap(),
        );
        let code = app.generate(START + 30).unwrap();
        assert!(
            service
                .login(USER, code.as_str(), CodeKind::Any)
                .await
                .unwrap()
                .is_accepted()
        );
    });
}
