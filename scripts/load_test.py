#!/usr/bin/env python3
"""Load test of the Lumen demo app with wrk, on loopback.

    scripts/load_test.py --database sqlite|postgres [--duration 60]
                         [--connections 64] [--users 200] [--json FILE]

Builds `lumen` in release mode, starts it with `--bench-routes`, and runs:

  (a) `/bench/guarded` and `/bench/unguarded` (the account page with and
      without the MFA guard) with one level-2 session;
  (b) `POST /api/mfa/challenge` for many users, each with its own
      signed-in (level 1) session: half send their current valid code,
      half a wrong one.

Then it checks, and exits non-zero on any failure: no socket errors and no
5xx (nor any status other than those expected); every valid user accepted
exactly once (later requests carry a session id that the success replaced);
no invalid user ever accepted; and for every invalid user the failure
counts the audit log reports are exactly 1, 2, ..., k with k the count in
the store (every failure counted once, none lost, none twice).

Needs wrk, and psql for PostgreSQL (MFA_TEST_POSTGRES_URL, default
postgres://postgres@127.0.0.1:5432/test). Only the Python standard library.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "correct horse battery"
COOKIE = "lumen_session"


def totp(secret, at):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", at // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """Keeps its cookies; never follows redirects."""

    def __init__(self, base):
        self.base = base
        self.cookies = {}
        self.opener = urllib.request.build_opener(NoRedirect)

    @property
    def cookie(self):
        """The session cookie's value."""
        return self.cookies.get(COOKIE)

    def send(self, method, path, body=None, content_type=None):
        request = urllib.request.Request(self.base + path, data=body, method=method)
        request.add_header("Accept", "application/json" if content_type == "application/json" else "text/html")
        if content_type:
            request.add_header("Content-Type", content_type)
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        try:
            response = self.opener.open(request)
        except urllib.error.HTTPError as error:
            response = error
        for header in response.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";")[0].split("=", 1)
            if "Max-Age=0" in header:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response.status, response.read().decode()

    def csrf(self, path):
        _, page = self.send("GET", path)
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    def form(self, path, fields):
        fields = dict(fields, csrf=self.csrf(path if path != "/logout" else "/account"))
        body = urllib.parse.urlencode(fields).encode()
        return self.send("POST", path, body, "application/x-www-form-urlencoded")

    def json(self, path, value):
        return self.send("POST", path, json.dumps(value).encode(), "application/json")


def enrolled_user(base, email):
    """Registers with the OTP option, signs in and enrolls; returns the
    browser (at level 2) and the key."""
    browser = Browser(base)
    status, _ = browser.form("/register", {"name": "Load", "email": email, "password": PASSWORD, "customer": "1", "otp": "on"})
    assert status == 303, status
    status, _ = browser.form("/login", {"email": email, "password": PASSWORD})
    assert status == 303, status
    status, body = browser.json("/api/mfa/enrollment", {})
    assert status == 200, body
    secret = json.loads(body)["secret"]
    status, body = browser.json("/api/mfa/enrollment/confirm", {"code": totp(secret, int(time.time()))})
    assert status == 200, body
    return browser, secret


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


COUNT_LUA = """
counts = {}
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for status, n in pairs(c) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("STATUS %d %d\\n", status, n)) end
end
"""

CHALLENGE_LUA = COUNT_LUA + """
users = {}
for line in io.lines(os.getenv("LOAD_USERS")) do
  local fields = {}
  for field in line:gmatch("%S+") do table.insert(fields, field) end
  table.insert(users, fields)
end
base_step = tonumber(os.getenv("LOAD_BASE_STEP"))
counter = 0
function request()
  counter = counter + 1
  -- Eight requests in a row go to the same user, so a user's requests race.
  local user = users[(math.floor(counter / 8) % #users) + 1]
  local code = user[2 + math.floor(os.time() / 30) - base_step] or "000000"
  return wrk.format("POST", "/api/mfa/challenge", {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
    ["Cookie"] = "COOKIE_NAME=" .. user[1],
  }, '{"code":"' .. code .. '"}')
end
""".replace("COOKIE_NAME", COOKIE)


def wrk(url, seconds, connections, script, headers=(), env=None):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run(command + [url], capture_output=True, text=True, env=env, check=True).stdout
    result = {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "statuses": {int(s): int(n) for s, n in re.findall(r"STATUS (\d+) (\d+)", out)},
        "socket_errors": re.search(r"Socket errors:.*", out).group(0) if "Socket errors" in out else None,
    }
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        result[f"p{pct}_ms"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    print(out, flush=True)
    return result


def records(args, schema, db_path):
    """Every user's stored MFA record."""
    if args.database == "sqlite":
        with sqlite3.connect(db_path) as db:
            rows = db.execute("SELECT user_id, record FROM mfa_records").fetchall()
    else:
        out = subprocess.run(["psql", args.postgres, "-At", "-F", "\t", "-c", f"SELECT user_id, record FROM {schema}.mfa_records"], capture_output=True, text=True, check=True).stdout
        rows = [line.split("\t", 1) for line in out.splitlines() if line]
    return {user: json.loads(record) for user, record in rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--json", help="append the figures to this file (JSON lines)")
    parser.add_argument("--postgres", default=os.environ.get("MFA_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()

    subprocess.run(["cargo", "build", "-q", "--release", "--locked", "-p", "lumen"], cwd=ROOT, check=True)
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "lumen")
    work = tempfile.mkdtemp(prefix="lumen-load-")
    db_path = os.path.join(work, "lumen.db")
    schema = f"lumen_load_{int(time.time())}"
    database = ["--database", db_path] if args.database == "sqlite" else ["--database", args.postgres, "--schema", schema]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = os.path.join(work, "lumen.log")
    env = dict(os.environ, LUMEN_SEALING_KEY=os.urandom(32).hex(), RUST_LOG="lumen=warn,mfa_axum=warn,mfa_flow::audit=info")
    with open(log_path, "w") as log:
        server = subprocess.Popen([binary, "--addr", f"127.0.0.1:{port}", "--bench-routes", "--rate-limit", "0", *database], stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    server.stdout.readline()
    failures = []
    figures = {"database": args.database, "duration_s": args.duration, "connections": args.connections}
    try:
        # (a) The same page with and without the guard, one level-2 session.
        browser, _ = enrolled_user(base, "page@example.com")
        status, page = browser.send("GET", "/bench/guarded")
        assert status == 200 and "Welcome" in page, status
        count_lua = os.path.join(work, "count.lua")
        with open(count_lua, "w") as f:
            f.write(COUNT_LUA)
        cookie = f"Cookie: {COOKIE}={browser.cookie}"
        for name in ("guarded", "unguarded"):
            result = wrk(f"{base}/bench/{name}", args.duration, args.connections, count_lua, [cookie])
            figures[name] = result
            if set(result["statuses"]) != {200} or result["socket_errors"]:
                failures.append(f"/bench/{name}: statuses {result['statuses']}, {result['socket_errors']}")
        figures["guarded_vs_unguarded"] = figures["guarded"]["requests_per_s"] / figures["unguarded"]["requests_per_s"]

        # (b) The challenge endpoint: many users, each signed in at level 1.
        users = []
        for i in range(args.users):
            email = f"user{i}@example.com"
            user, secret = enrolled_user(base, email)
            user.form("/logout", {})
            status, _ = user.form("/login", {"email": email, "password": PASSWORD})
            assert status == 303, status
            users.append((email, user.cookie, secret, i % 2 == 0))
        # Start on a fresh step, after every confirming step.
        time.sleep(30 - time.time() % 30 + 1)
        base_step = int(time.time()) // 30
        users_file = os.path.join(work, "users.txt")
        with open(users_file, "w") as f:
            for _, cookie_value, secret, valid in users:
                codes = []
                for step in range(base_step, base_step + args.duration // 30 + 3):
                    right = totp(secret, step * 30)
                    codes.append(right if valid else f"{(int(right) + 1) % 1_000_000:06d}")
                f.write(" ".join([cookie_value, *codes]) + "\n")
        challenge_lua = os.path.join(work, "challenge.lua")
        with open(challenge_lua, "w") as f:
            f.write(CHALLENGE_LUA)
        wrk_env = dict(os.environ, LOAD_USERS=users_file, LOAD_BASE_STEP=str(base_step))
        result = wrk(f"{base}/api/mfa/challenge", args.duration, args.connections, challenge_lua, env=wrk_env)
        figures["challenge"] = result
        unexpected = set(result["statuses"]) - {200, 401, 429}
        if unexpected or result["socket_errors"]:
            failures.append(f"challenge: statuses {result['statuses']}, {result['socket_errors']}")
    finally:
        server.terminate()
        server.wait(timeout=30)

    # What the server did, from its audit log and its store.
    accepted, counted = {}, {}
    pattern = re.compile(r'mfa_flow::audit: user="([^"]+)" event="(\w+)" outcome="(\w+)"')
    with open(log_path) as log:
        for line in log:
            match = pattern.search(line)
            if not match:
                continue
            user, event, outcome = match.groups()
            written = re.search(r" failures=(\d+)", line)
            failures_after = written and written.group(1)
            if event not in ("verify_code", "login"):
                continue
            if outcome == "accepted":
                accepted[user] = accepted.get(user, 0) + 1
            elif outcome in ("invalid", "replayed") and failures_after:
                counted.setdefault(user, []).append(int(failures_after))
    stored = records(args, schema, db_path)
    # The app's user ids are opaque: look them up in its users table.
    if args.database == "sqlite":
        with sqlite3.connect(db_path) as db:
            ids = dict(db.execute("SELECT email, id FROM users").fetchall())
    else:
        out = subprocess.run(["psql", args.postgres, "-At", "-F", "\t", "-c", f"SELECT email, id FROM {schema}.users"], capture_output=True, text=True, check=True).stdout
        ids = dict(line.split("\t", 1) for line in out.splitlines() if line)
    valid_total = 0
    for email, _, _, valid in users:
        user = ids[email]
        if valid:
            valid_total += 1
            if accepted.get(user, 0) != 1:
                failures.append(f"{email}: accepted {accepted.get(user, 0)} times, expected once")
        else:
            if accepted.get(user):
                failures.append(f"{email}: a wrong code was accepted")
            k = stored[user]["throttle"]["failures"]
            if sorted(counted.get(user, [])) != list(range(1, k + 1)):
                failures.append(f"{email}: failure counts {sorted(counted.get(user, []))} but {k} stored")
    if figures["challenge"]["statuses"].get(200, 0) != valid_total:
        failures.append(f"{figures['challenge']['statuses'].get(200, 0)} answers 200, expected {valid_total}")
    figures["checked_users"] = len(users)
    figures["failed_checks"] = failures

    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(figures) + "\n")
    if args.database == "postgres":
        subprocess.run(["psql", args.postgres, "-qc", f"DROP SCHEMA IF EXISTS {schema} CASCADE"], check=False)
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    print(f"load test on {args.database}: all checks passed")


if __name__ == "__main__":
    main()
