#!/usr/bin/env python3
"""Each workspace member's rust-version is true of its locked dependencies.

Reads `cargo metadata --locked` and fails if any package a member needs (on
every platform: its own dependencies, dev-dependencies included, and theirs)
declares a `rust-version` above the member's. Members may claim different
versions (a crate on a dependency that needs a newer Rust says so alone). Together with clippy's `incompatible_msrv` lint (our own code
uses nothing newer) this is what CI proves of the MSRV, on the one toolchain
the machine has.

    python3 scripts/msrv_check.py [--claim 1.80]

`--claim` checks another version for every member (to see the check
refuse one that is not true).
"""

import argparse
import json
import subprocess
import sys


def version(text):
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def closure(root, nodes):
    """The packages `root` needs: all its own dependencies (dev-dependencies
    included: its tests run at its MSRV too), and theirs without theirs."""
    seen, todo = {root}, [(root, True)]
    while todo:
        node, own = todo.pop()
        for dep in nodes[node]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if (own or kinds & {None, "build"}) and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                todo.append((dep["pkg"], False))
    return seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claim", help="the rust-version to check for every member (default: each one's own)")
    args = parser.parse_args()
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--locked", "--format-version", "1"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    failed = False
    for member in metadata["workspace_members"]:
        ours = args.claim or packages[member]["rust_version"]
        needed = closure(member, nodes) - {member}
        higher = sorted(
            f"{p['name']} {p['version']} needs Rust {p['rust_version']}"
            for p in (packages[i] for i in needed)
            if p.get("rust_version") and version(p["rust_version"]) > version(ours)
        )
        name = packages[member]["name"]
        if higher:
            failed = True
            print(f"{name}: rust-version {ours} is not true of its locked dependencies:")
            for line in higher:
                print(f"  {line}")
        else:
            print(f"{name}: rust-version {ours}: none of its {len(needed)} locked dependencies needs more")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
