#!/usr/bin/env python3
"""Clean build time of totp-core against totp-rs, measured in the same run.

Each case is a one-line binary that depends on the crate with the given
features, built from nothing (its own target directory, dev profile) with
the dependencies already downloaded. The cases run interleaved, `--rounds`
times, and the median wall time of each is reported, with the number of
crates compiled and whether a proc-macro crate (and which `syn`) is among
them.

    python3 scripts/build_time.py [--rounds 3] [--json FILE]
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

with open(os.path.join(ROOT, "Cargo.toml")) as f:
    TOTP_RS = re.search(r'^totp-rs = \{ version = "([^"]+)"', f.read(), re.M).group(1)

CORE = {"path": os.path.join(ROOT, "totp-core")}
# Like against like: the core with what it has by default (URIs, secret
# generation, QR codes), and without QR codes; totp-rs with the features
# that give the same.
CASES = [
    ("totp-core (default: std, qr)", "totp-core", {**CORE}),
    ("totp-core (std, no qr)", "totp-core", {**CORE, "default-features": False, "features": ["std"]}),
    ("totp-rs (otpauth, gen_secret, zeroize, qr)", "totp-rs",
     {"version": TOTP_RS, "features": ["otpauth", "gen_secret", "zeroize", "qr"]}),
    ("totp-rs (otpauth, gen_secret, zeroize)", "totp-rs",
     {"version": TOTP_RS, "features": ["otpauth", "gen_secret", "zeroize"]}),
    # Its defaults: codes from a secret, no URIs, no generation, no zeroize.
    ("totp-rs (default)", "totp-rs", {"version": TOTP_RS}),
]


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(json.dumps(x) for x in v) + "]"
    return json.dumps(v)


def probe(work, index, crate, spec):
    directory = os.path.join(work, f"case{index}")
    os.makedirs(os.path.join(directory, "src"), exist_ok=True)
    fields = ", ".join(f"{k} = {toml_value(v)}" for k, v in spec.items())
    with open(os.path.join(directory, "Cargo.toml"), "w") as f:
        f.write(f'[package]\nname = "probe{index}"\nversion = "0.0.0"\nedition = "2024"\n\n'
                f'[dependencies]\n{crate} = {{ {fields} }}\n\n[workspace]\n')
    with open(os.path.join(directory, "src", "main.rs"), "w") as f:
        f.write("fn main() {}\n")
    # The workspace's versions, so both sides build what CI locked.
    shutil.copy(os.path.join(ROOT, "Cargo.lock"), os.path.join(directory, "Cargo.lock"))
    subprocess.run(["cargo", "fetch", "-q"], cwd=directory, check=True)
    return directory


def build(directory):
    target = os.path.join(directory, "target")
    shutil.rmtree(target, ignore_errors=True)
    env = dict(os.environ, CARGO_TARGET_DIR=target, CARGO_TERM_COLOR="never")
    env.pop("RUSTFLAGS", None)
    began = time.monotonic()
    done = subprocess.run(["cargo", "build", "--offline"], cwd=directory, env=env,
                          check=True, capture_output=True, text=True)
    elapsed = time.monotonic() - began
    compiled = re.findall(r"^\s*Compiling (\S+) v(\S+)", done.stderr, re.M)
    return elapsed, compiled


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="append the figures to this JSON-lines file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="build-time-") as work:
        dirs = [probe(work, i, crate, spec) for i, (_, crate, spec) in enumerate(CASES)]
        times = [[] for _ in CASES]
        compiled = [None for _ in CASES]
        for _ in range(args.rounds):
            for i, directory in enumerate(dirs):
                elapsed, crates = build(directory)
                times[i].append(elapsed)
                compiled[i] = crates
    results = []
    for (name, _, _), t, crates in zip(CASES, times, compiled):
        syns = sorted(v for c, v in crates if c == "syn")
        results.append({
            "case": name,
            "median_s": round(statistics.median(t), 2),
            "runs_s": [round(x, 2) for x in t],
            "crates": len(crates),
            "syn": syns,
        })
    print(f"{'case':<46} {'median':>8} {'crates':>7}  syn")
    for r in results:
        print(f"{r['case']:<46} {r['median_s']:>7.2f}s {r['crates']:>7}  {', '.join(r['syn']) or '-'}")
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps({"cores": os.cpu_count(), "results": results}) + "\n")


if __name__ == "__main__":
    main()
