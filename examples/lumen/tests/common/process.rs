//! The `lumen` binary as a child process, and plain HTTP/1.1 to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// A `lumen` process, stopped on drop.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `lumen` in `dir` with `args` on a free port; waits for the URL
    /// it prints.
    pub fn start(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lumen"));
        command
            .current_dir(dir)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("LUMEN_SEALING_KEY")
            .env_remove("LUMEN_DATABASE")
            .env_remove("LUMEN_SCHEMA")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Self { child, url }
    }

    /// Stops it and returns what it logged.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut text = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// One request with the cookies of `cookie`, updated from the answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        cookie: &mut super::Jar,
        body: Option<(&str, &str)>,
    ) -> Reply {
        let host = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(host).unwrap();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some(value) = cookie.header() {
            head.push_str(&format!("Cookie: {value}\r\n"));
        }
        let (content_type, text) = body.unwrap_or(("text/plain", ""));
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nAccept: application/json, text/html\r\nUser-Agent: lumen-test-agent\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        ));
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        for line in head.lines() {
            if line.to_ascii_lowercase().starts_with("set-cookie: ") {
                cookie.store(&line["set-cookie: ".len()..]);
            }
        }
        Reply {
            status,
            head: head.to_owned(),
            body: body.to_owned(),
        }
    }

    pub fn get(&self, path: &str, cookie: &mut super::Jar) -> Reply {
        self.request("GET", path, cookie, None)
    }

    /// Posts a form (fields already URL-encoded by the caller's choice of
    /// plain values).
    pub fn form(&self, path: &str, cookie: &mut super::Jar, fields: &[(&str, &str)]) -> Reply {
        let text: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", super::urlencode(v)))
            .collect();
        let text = text.join("&");
        self.request(
            "POST",
            path,
            cookie,
            Some(("application/x-www-form-urlencoded", &text)),
        )
    }

    pub fn json(&self, path: &str, cookie: &mut super::Jar, body: &str) -> Reply {
        self.request("POST", path, cookie, Some(("application/json", body)))
    }

    /// Signs in (fetching the form's CSRF token first).
    pub fn sign_in(&self, cookie: &mut super::Jar, email: &str, password: &str) -> Reply {
        let csrf = csrf_of(&self.get("/login", cookie).body);
        self.form(
            "/login",
            cookie,
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
    }
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The error key of a refused form's redirect (`303`, `…?error=KEY`),
    /// or the status as text for any other answer.
    pub fn outcome(&self) -> String {
        let location = self.head.lines().find_map(|l| {
            l.strip_prefix("location: ")
                .or(l.strip_prefix("Location: "))
        });
        match location.and_then(|l| l.split_once("?error=")) {
            Some((_, key)) if self.status == 303 => key.trim().to_owned(),
            _ => self.status.to_string(),
        }
    }
}

/// The CSRF token of a page's first form.
pub fn csrf_of(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a form") + 19;
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].to_owned()
}
