#!/usr/bin/env python3
"""Peak memory of a burst of simultaneous sign-ins.

    scripts/memory_burst.py [--sign-ins 100] [--json FILE]

Builds `lumen` in release mode and, for each setting below, starts it on a
fresh SQLite file, opens the sign-in page once per client (a session and a
CSRF token each), then sends every client's sign-in at the same moment, for
addresses nobody registered (each costs one Argon2id check of 19 MiB). It
reads the process's peak resident set (VmHWM in /proc/PID/status) after the
burst:

- `--hash-workers` left at its default (the machine's cores, four times as
  many waiting, the rest answered 503 at once): must stay under 256 MiB;
- `--hash-workers 256` (the queue wider than the burst, as good as
  unbounded): the baseline, measured in the same run.

Exits non-zero if the bounded run reaches 256 MiB, or if any answer is not a
checked password (a 303 back to the form, `/login?error=incorrect`) or a 503
with Retry-After (refused).
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COOKIE = "lumen_csrf"
LIMIT_MIB = 256


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def send(request):
    try:
        response = OPENER.open(request, timeout=120)
    except urllib.error.HTTPError as error:
        response = error
    return response.status, response.headers, response.read().decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        kib = int(re.search(r"VmHWM:\s+(\d+) kB", status.read()).group(1))
    return kib / 1024


def burst(binary, sign_ins, workers):
    work = tempfile.mkdtemp(prefix="lumen-burst-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Every sign-in comes from one address: the per-client limit is off.
    args = [binary, "--addr", f"127.0.0.1:{port}", "--rate-limit", "0", "--database", os.path.join(work, "lumen.db")]
    if workers:
        args += ["--hash-workers", str(workers)]
    env = dict(os.environ, LUMEN_SEALING_KEY=os.urandom(32).hex(), RUST_LOG="lumen=error")
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                send(urllib.request.Request(base + "/login"))
                break
            except OSError:
                time.sleep(0.1)
        idle = peak_mib(server.pid)
        clients = []
        for _ in range(sign_ins):
            status, headers, page = send(urllib.request.Request(base + "/login"))
            cookie = next(h.split(";")[0] for h in headers.get_all("Set-Cookie") if h.startswith(COOKIE))
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            clients.append((cookie, csrf))
        start = threading.Barrier(sign_ins)
        answers = [None] * sign_ins

        def sign_in(i, cookie, csrf):
            body = urllib.parse.urlencode({"csrf": csrf, "email": f"nobody{i}@example.com", "password": "wrong password"}).encode()
            request = urllib.request.Request(base + "/login", data=body, method="POST")
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
            request.add_header("Cookie", cookie)
            start.wait()
            status, headers, _ = send(request)
            # A checked password is refused with a redirect to the form.
            if status == 303 and headers.get("Location") == "/login?error=incorrect":
                status = "checked"
            answers[i] = (status, headers.get("Retry-After"))

        threads = [threading.Thread(target=sign_in, args=(i, *c)) for i, c in enumerate(clients)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
        peak = peak_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    checked = sum(1 for status, _ in answers if status == "checked")
    refused = sum(1 for status, retry in answers if status == 503 and retry)
    return {
        "hash_workers": workers or "default",
        "sign_ins": sign_ins,
        "checked": checked,
        "refused_503": refused,
        "other": [a for a in answers if a[0] not in ("checked", 503)],
        "idle_peak_mib": round(idle, 1),
        "peak_mib": round(peak, 1),
        "seconds": round(elapsed, 2),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sign-ins", type=int, default=100)
    parser.add_argument("--json")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "-q", "--release", "--locked", "-p", "lumen"], cwd=ROOT, check=True)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "lumen")
    bounded = burst(binary, args.sign_ins, None)
    unbounded = burst(binary, args.sign_ins, 256)
    figures = {"bounded": bounded, "unbounded": unbounded, "limit_mib": LIMIT_MIB}
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(figures) + "\n")
    failures = []
    if bounded["peak_mib"] >= LIMIT_MIB:
        failures.append(f"peak {bounded['peak_mib']} MiB, limit {LIMIT_MIB}")
    for run in (bounded, unbounded):
        if run["other"] or run["checked"] + run["refused_503"] != args.sign_ins:
            failures.append(f"unexpected answers with {run['hash_workers']} workers: {run}")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"memory burst: {args.sign_ins} sign-ins peaked at {bounded['peak_mib']} MiB (unbounded: {unbounded['peak_mib']} MiB)")


if __name__ == "__main__":
    main()
