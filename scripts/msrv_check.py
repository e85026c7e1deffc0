#!/usr/bin/env python3
"""The workspace's rust-version is true of its locked dependencies.

Reads `cargo metadata --locked` and fails if any package in Cargo.lock (every
platform, dev-dependencies included) declares a `rust-version` above the
workspace's. Together with clippy's `incompatible_msrv` lint (our own code
uses nothing newer) this is what CI proves of the MSRV, on the one toolchain
the machine has.

    python3 scripts/msrv_check.py [--claim 1.80]

`--claim` checks another version than the workspace's (to see the check
refuse one that is not true).
"""

import argparse
import json
import subprocess
import sys
import tomllib


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claim", help="the rust-version to check (default: the workspace's)")
    args = parser.parse_args()
    with open("Cargo.toml", "rb") as f:
        ours = args.claim or tomllib.load(f)["workspace"]["package"]["rust-version"]
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--locked", "--format-version", "1"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = metadata["packages"]
    higher = sorted(
        f"{p['name']} {p['version']} needs Rust {p['rust_version']}"
        for p in packages
        if p.get("rust_version") and version(p["rust_version"]) > version(ours)
    )
    if higher:
        print(f"rust-version {ours} is not true of Cargo.lock:")
        for line in higher:
            print(f"  {line}")
        sys.exit(1)
    declared = sum(1 for p in packages if p.get("rust_version"))
    print(f"rust-version {ours}: none of {len(packages)} locked packages needs more ({declared} declare one)")


if __name__ == "__main__":
    main()
