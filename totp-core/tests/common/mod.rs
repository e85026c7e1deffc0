//! Helpers shared by the integration tests that drive external tools.

use std::path::PathBuf;
use std::process::Command;

/// Whether `CI=true`: there, a missing tool fails the test instead of skipping it.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Runs `program --version`-style probe `args`; `true` if the tool answers.
/// Outside CI a missing tool skips the test with a message; in CI it fails.
pub(crate) fn require(program: &str, probe: &[&str], install_hint: &str) -> bool {
    let found = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !in_ci(),
            "{program} is required when CI=true but was not found ({install_hint})"
        );
        eprintln!("SKIPPED: {program} not found ({install_hint})");
    }
    found
}

/// Runs a command to completion and returns its standard output; a failure
/// to start or a non-zero exit fails the test with the command's stderr.
pub(crate) fn stdout_of(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The Python interpreter with pyotp: `TOTP_CORE_PYTHON` if set, else the
/// workspace's `.venv` if present,
/// else `python3`.
#[allow(dead_code)]
pub(crate) fn python() -> PathBuf {
    // Named outright (the tests of the published crate, outside the
    // workspace, have no ../.venv), else the workspace's virtualenv.
    if let Some(python) = std::env::var_os("TOTP_CORE_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// A fresh scratch directory under the target directory.
#[allow(dead_code)]
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}
