#!/usr/bin/env python3
"""Runs the tests of the five library crates as published: from their
`.crate` files, not from the workspace.

`cargo package` (run first) builds each library from its own `.crate`, but
not its tests, examples or doctests. This script unpacks the `.crate` files
from `target/package/` into a scratch workspace whose `[patch.crates-io]`
points each crate at its unpacked copy (so each finds the others as it
would on crates.io once they are published), and runs `cargo test` there
with the workspace's `Cargo.lock` and target directory (third-party crates
are not built again). A test that reads a file outside its package, or a
dev-dependency only the workspace has, fails here.

Usage: python3 scripts/package_tests.py [extra cargo test arguments]
(not --locked: cargo rewrites the copied lock file to drop the demo apps'
dependencies; the script then checks that no version changed.)
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tomllib

CRATES = ["totp-core", "mfa-flow", "mfa-axum", "mfa-store-sqlx", "mfa-store-redis"]

root = pathlib.Path(__file__).resolve().parent.parent
target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
version = "0.1.0"
scratch = target / "package-tests"

shutil.rmtree(scratch, ignore_errors=True)
scratch.mkdir(parents=True)
members = []
for crate in CRATES:
    archive = target / "package" / f"{crate}-{version}.crate"
    if not archive.is_file():
        sys.exit(f"{archive} is missing: run cargo package over the five crates first")
    with tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
    members.append(f"{crate}-{version}")

# A .crate stores every file with one fixed old time, and cargo decides what
# to rebuild by modification times: without this, a test binary built from
# an earlier package would be taken as up to date.
for path in scratch.rglob("*"):
    os.utime(path)

manifest = ["[workspace]", 'resolver = "3"', "members = ["]
manifest += [f'    "{m}",' for m in members]
manifest += ["]", "", "[patch.crates-io]"]
manifest += [f'{c} = {{ path = "{m}" }}' for c, m in zip(CRATES, members)]
# The workspace's optimisation of argon2 and friends does not matter here;
# the packaged manifests carry their own lints.
(scratch / "Cargo.toml").write_text("\n".join(manifest) + "\n")
shutil.copy(root / "Cargo.lock", scratch / "Cargo.lock")

# totp-core's pyotp test finds the workspace's virtualenv relative to its
# package, which the unpacked copy is not in.
env = dict(
    os.environ,
    CARGO_TARGET_DIR=str(target),
    TOTP_CORE_PYTHON=str(root / ".venv" / "bin" / "python"),
)
# Every feature, so the feature-gated tests (mfa-flow's conformance suite,
# mfa-axum's axum-login tests and README example) run too.
command = ["cargo", "test", "--workspace", "--all-features", *sys.argv[1:]]
print("+", " ".join(command), f"(in {scratch})", flush=True)
status = subprocess.run(command, cwd=scratch, env=env).returncode

# cargo drops from the copied lock file what the scratch workspace does not
# use (the demo apps' dependencies) and keeps the rest; nothing may have
# moved to another version.
def locked(path):
    with open(path, "rb") as f:
        return {(p["name"], p["version"]) for p in tomllib.load(f)["package"]}

moved = locked(scratch / "Cargo.lock") - locked(root / "Cargo.lock")
if moved:
    print("resolved differently from Cargo.lock:", sorted(moved), file=sys.stderr)
    status = status or 1
sys.exit(status)
