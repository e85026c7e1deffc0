//! The Lumen flow in headless Chromium, driven over WebDriver: register,
//! sign in, enroll by decoding the QR code from a screenshot, sign in with
//! codes and recovery codes, the reveal, the QR code running out in place,
//! the multi-factor-required customer, turning MFA on later, and every page
//! at phone and desktop widths with axe-core.
//!
//! Needs `chromium`, `chromedriver` and `zbarimg` (Debian `chromium`,
//! `chromium-driver`, `zbar-tools`), and axe-core (`npm install axe-core`;
//! `LUMEN_AXE_JS` names its `axe.min.js`, by default
//! `target/axe/node_modules/axe-core/axe.min.js`); with `CI=true` their
//! absence fails the test, otherwise it is skipped. Screenshots of each page
//! are saved in `target/screenshots/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Backend, TestApp, app_with_ttl, authenticator, code, in_ci};
use fantoccini::{Client, ClientBuilder, Locator};
use mfa_flow::ManualClock;
use mfa_flow::totp_core::KeyUri;

const PASSWORD: &str = "correct horse battery";

/// How long to wait for a page: generous, for a busy 2-core CI machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// A chromedriver process, stopped on drop.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tools_present() -> bool {
    let missing: Vec<&str> = ["chromium", "chromedriver", "zbarimg"]
        .into_iter()
        .filter(|tool| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !in_ci(),
        "CI=true but {missing:?} missing: install chromium chromium-driver zbar-tools"
    );
    eprintln!("SKIPPED: {missing:?} not installed (Debian: chromium chromium-driver zbar-tools)");
    false
}

/// A headless Chromium session through a fresh chromedriver; downloads go
/// to `downloads`.
async fn browser(downloads: &std::path::Path) -> (Driver, Client) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1200,1000"],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false
            }
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        if let Ok(client) = ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            return (driver, client);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot of the page; returns where.
async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client.screenshot().await.unwrap();
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    path
}

/// The text zbarimg reads from the QR code in an image.
fn decode_qr(path: &PathBuf) -> String {
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "no QR code found in {}",
        path.display()
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The path of the page the browser shows.
async fn path(client: &Client) -> String {
    client.current_url().await.unwrap().path().to_owned()
}

async fn wait_for_path(client: &Client, expected: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while path(client).await != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {expected}, the browser is on {}",
            path(client).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The element, waiting for the page to show it.
async fn element(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap()
}

/// Types `text` into the field, finding it again if a page that was still
/// loading replaced it (a stale element).
async fn fill(client: &Client, css: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let field = element(client, css).await;
        let typed = match field.clear().await {
            Ok(()) => field.send_keys(text).await,
            Err(e) => Err(e),
        };
        match typed {
            Ok(()) => return,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("could not type into {css}: {e}"),
        }
    }
}

async fn click(client: &Client, css: &str) {
    element(client, css).await.click().await.unwrap();
}

/// The text of an element, waiting for the page to show it.
/// The text of the element with `id`, shown or not.
async fn js_text(client: &Client, id: &str) -> String {
    let script = "const e = document.getElementById(arguments[0]); return e ? e.textContent : '';";
    let value = client
        .execute(script, vec![serde_json::Value::from(id)])
        .await
        .unwrap();
    value.as_str().unwrap_or_default().to_owned()
}

async fn text(client: &Client, css: &str) -> String {
    element(client, css).await.text().await.unwrap()
}

struct Session {
    base: String,
    client: Client,
}

impl Session {
    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn register(&self, email: &str, customer: &str, otp: bool) {
        self.goto("/register").await;
        fill(&self.client, "input[name=name]", "Ada Lovelace").await;
        fill(&self.client, "input[name=email]", email).await;
        fill(&self.client, "input[name=password]", PASSWORD).await;
        self.client
            .find(Locator::Css("#customer"))
            .await
            .unwrap()
            .select_by_value(customer)
            .await
            .unwrap();
        let option = self.client.find(Locator::Css("#otp")).await.unwrap();
        if otp && !option.is_selected().await.unwrap() {
            option.click().await.unwrap();
        }
    }

    async fn submit(&self) {
        click(&self.client, "main form button[type=submit]").await;
    }

    async fn sign_in(&self, email: &str) {
        self.goto("/login").await;
        fill(&self.client, "input[name=email]", email).await;
        fill(&self.client, "input[name=password]", PASSWORD).await;
        self.submit().await;
    }

    async fn sign_out(&self) {
        click(&self.client, "header form button").await;
        wait_for_path(&self.client, "/login", PATIENCE).await;
    }

    async fn enter_code(&self, code: &str) {
        fill(&self.client, "#code", code).await;
        self.submit().await;
    }
}

/// What a browser test runs on: the app's clock, its database folder, the
/// server, chromedriver and the browser session.
struct Running {
    clock: ManualClock,
    downloads: PathBuf,
    _dir: tempfile::TempDir,
    server: lumen::Running,
    _driver: Driver,
    s: Session,
}

async fn start(ttl: u64) -> Option<Running> {
    if !tools_present() {
        return None;
    }
    let TestApp {
        lumen, clock, dir, ..
    } = app_with_ttl(Backend::Sqlite, ttl).await?;
    let server = lumen.serve().await.unwrap();
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let (driver, client) = browser(&downloads).await;
    let s = Session {
        base: format!("http://{}", server.addr),
        client,
    };
    Some(Running {
        clock,
        downloads,
        _dir: dir,
        server,
        _driver: driver,
        s,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_enroll_and_sign_in_in_a_browser() {
    let Some(Running {
        clock,
        downloads,
        _dir,
        server,
        _driver,
        s,
    }) = start(180).await
    else {
        return;
    };
    let email = "ada@example.com";
    s.register(email, "1", true).await;
    screenshot(&s.client, "01-register").await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    assert!(
        text(&s.client, ".notice")
            .await
            .contains("If this address is new, your account is ready")
    );

    // The first sign-in after opting in leads to enrollment.
    s.sign_in(email).await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    let shot = screenshot(&s.client, "03-enroll").await;
    let uri = decode_qr(&shot);
    let parsed = KeyUri::parse(&uri).unwrap();
    assert_eq!(parsed.issuer(), Some("Lumen"));
    assert_eq!(parsed.account(), email);
    let secret = parsed.secret().expose_base32();
    assert!(
        text(&s.client, "#countdown").await.starts_with("2:")
            || text(&s.client, "#countdown").await == "3:00"
    );

    // The key is hidden until the QR code is clicked, then it is the one
    // in the QR code.
    assert!(
        !s.client
            .find(Locator::Css("#manual"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );
    // On a phone, the link opens the same otpauth:// URI in the app; a
    // visible "Can't scan?" control reveals the key too.
    let href = element(&s.client, "#open-app")
        .await
        .attr("href")
        .await
        .unwrap();
    assert_eq!(href.as_deref(), Some(uri.as_str()));
    assert!(
        element(&s.client, "#show-key")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    click(&s.client, "#qr").await;
    let shown = text(&s.client, "#secret").await;
    assert_eq!(shown.replace(' ', ""), *secret);
    assert_eq!(text(&s.client, "#account").await, email);
    assert_eq!(text(&s.client, "#issuer").await, "Lumen");
    screenshot(&s.client, "04-enroll-key-revealed").await;

    // A wrong code keeps the same QR code on the page, with a message.
    let app = authenticator(&secret);
    let good = code(&app, &clock);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    s.enter_code(wrong).await;
    assert!(text(&s.client, "#code-error").await.contains("not valid"));
    let again = decode_qr(&screenshot(&s.client, "04b-enroll-wrong-code").await);
    assert_eq!(again, uri);

    s.enter_code(&good).await;
    element(&s.client, "#recovery-codes").await;
    let codes: Vec<String> = {
        let items = s
            .client
            .find_all(Locator::Css("#recovery-codes code"))
            .await
            .unwrap();
        let mut codes = Vec::new();
        for item in items {
            codes.push(item.text().await.unwrap());
        }
        codes
    };
    assert_eq!(codes.len(), 10);
    screenshot(&s.client, "05-recovery-codes").await;
    // "Download" saves the same codes as a text file that names the
    // issuer, the account and the day.
    click(&s.client, "#download-codes").await;
    let downloaded = || {
        std::fs::read_dir(&downloads)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with("lumen-recovery-codes-ada_example.com-") && name.ends_with(".txt")
            })
    };
    let listed = || {
        downloaded()
            .and_then(|file| std::fs::read_to_string(file).ok())
            .filter(|text| text.starts_with(&format!("Lumen recovery codes for {email}, made ")))
            .map(|text| text.lines().skip(2).map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    // Chrome may create the file before it has written it.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while listed() != codes {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the download {:?} does not list the codes: {:?}",
            downloaded(),
            listed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // "Continue" waits for "I have saved these codes".
    assert!(
        !element(&s.client, "#continue")
            .await
            .is_enabled()
            .await
            .unwrap()
    );
    click(&s.client, "#saved").await;
    click(&s.client, "#continue").await;
    wait_for_path(&s.client, "/account", PATIENCE).await;
    assert_eq!(text(&s.client, "#mfa-state").await, "On");
    screenshot(&s.client, "06-account").await;

    // Every later sign-in asks for a code.
    s.sign_out().await;
    s.sign_in(email).await;
    wait_for_path(&s.client, "/mfa/challenge", PATIENCE).await;
    let field = s.client.find(Locator::Css("#code")).await.unwrap();
    assert_eq!(
        field.attr("inputmode").await.unwrap().as_deref(),
        Some("numeric")
    );
    assert_eq!(
        field.attr("autocomplete").await.unwrap().as_deref(),
        Some("one-time-code")
    );
    screenshot(&s.client, "07-code").await;
    clock.advance(30);
    let next = code(&app, &clock);
    s.enter_code(&next).await;
    wait_for_path(&s.client, "/account", PATIENCE).await;

    // The same code on a new sign-in is refused.
    s.sign_out().await;
    s.sign_in(email).await;
    wait_for_path(&s.client, "/mfa/challenge", PATIENCE).await;
    s.enter_code(&next).await;
    assert_eq!(path(&s.client).await, "/mfa/challenge");
    assert!(text(&s.client, "#code-error").await.contains("not valid"));
    screenshot(&s.client, "08-code-refused").await;

    // A recovery code signs in once, not twice.
    click(&s.client, "#use-recovery").await;
    wait_for_path(&s.client, "/mfa/recovery", PATIENCE).await;
    screenshot(&s.client, "09-recovery").await;
    s.enter_code(&codes[0]).await;
    wait_for_path(&s.client, "/account/authentication", PATIENCE).await;
    assert_eq!(text(&s.client, "#codes-left").await, "9");
    screenshot(&s.client, "10-authentication").await;
    s.sign_out().await;
    s.sign_in(email).await;
    wait_for_path(&s.client, "/mfa/challenge", PATIENCE).await;
    click(&s.client, "#use-recovery").await;
    wait_for_path(&s.client, "/mfa/recovery", PATIENCE).await;
    s.enter_code(&codes[0]).await;
    assert_eq!(path(&s.client).await, "/mfa/recovery");
    assert!(text(&s.client, "#code-error").await.contains("not valid"));

    s.client.close().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_customers_enroll_and_others_opt_in_later() {
    let Some(Running {
        clock,
        downloads: _,
        _dir,
        server,
        _driver,
        s,
    }) = start(180).await
    else {
        return;
    };
    // For a multi-factor-required customer the option is ticked and locked.
    s.register("grace@bank.example", "2", false).await;
    let option = s.client.find(Locator::Css("#otp")).await.unwrap();
    assert!(option.is_selected().await.unwrap());
    assert!(!option.is_enabled().await.unwrap());
    screenshot(&s.client, "02-register-required-customer").await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    s.sign_in("grace@bank.example").await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    for page in ["/account", "/account/authentication"] {
        s.goto(page).await;
        assert_eq!(path(&s.client).await, "/mfa/enroll", "{page}");
    }
    s.sign_out().await;

    // A user who did not opt in turns MFA on from the Authentication tab,
    // and needs a code at the next sign-in.
    s.register("alan@example.com", "1", false).await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    s.sign_in("alan@example.com").await;
    wait_for_path(&s.client, "/account", PATIENCE).await;
    click(&s.client, "nav.side a[href='/account/authentication']").await;
    wait_for_path(&s.client, "/account/authentication", PATIENCE).await;
    assert_eq!(text(&s.client, "#mfa-state").await, "Off");
    screenshot(&s.client, "11-authentication-off").await;
    click(&s.client, "#enable button").await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    let uri = decode_qr(&screenshot(&s.client, "12-enroll-from-account").await);
    let secret = KeyUri::parse(&uri).unwrap().secret().expose_base32();
    let app = authenticator(&secret);
    s.enter_code(&code(&app, &clock)).await;
    // "Continue" waits for "I have saved these codes".
    assert!(
        !element(&s.client, "#continue")
            .await
            .is_enabled()
            .await
            .unwrap()
    );
    click(&s.client, "#saved").await;
    click(&s.client, "#continue").await;
    wait_for_path(&s.client, "/account", PATIENCE).await;
    s.sign_out().await;
    s.sign_in("alan@example.com").await;
    wait_for_path(&s.client, "/mfa/challenge", PATIENCE).await;

    s.client.close().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_enrollment_page_expires_by_itself() {
    // QR codes valid 3 seconds (test configuration).
    let Some(Running {
        clock,
        _dir,
        server,
        _driver,
        s,
        ..
    }) = start(3).await
    else {
        return;
    };
    s.register("ada@example.com", "1", true).await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    s.sign_in("ada@example.com").await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    // The text and the countdown come from the configured TTL.
    assert_eq!(text(&s.client, "#countdown").await, "0:03");
    // Under 30 seconds: a warning, read out politely.
    let warned = s
        .client
        .execute(
            "return document.getElementById('validity').classList.contains('warning');",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(warned, serde_json::Value::Bool(true));
    assert_eq!(
        js_text(&s.client, "countdown-announce").await,
        "Less than 30 seconds left to scan this QR code."
    );
    let first = js_text(&s.client, "secret").await;
    // What the user types stays when the QR code runs out; the page offers
    // a new one in place, and says so to screen readers.
    fill(&s.client, "#code", "123").await;
    let notice = element(&s.client, "#expired-notice").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !notice.is_displayed().await.unwrap() {
        assert!(std::time::Instant::now() < deadline, "no expiry notice");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(path(&s.client).await, "/mfa/enroll");
    assert!(text(&s.client, "#expired-notice").await.contains("expired"));
    assert_eq!(
        js_text(&s.client, "countdown-announce").await,
        "This QR code has expired."
    );
    let typed = element(&s.client, "#code")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(typed.as_deref(), Some("123"));
    screenshot(&s.client, "13-expired").await;
    // The app's clock is the test's: it moves past the TTL as the
    // browser's did.
    clock.advance(4);
    click(&s.client, "#new-code").await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    let deadline = std::time::Instant::now() + PATIENCE;
    while js_text(&s.client, "secret").await == first {
        assert!(std::time::Instant::now() < deadline, "no new key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    s.client.close().await.unwrap();
    server.stop().await.unwrap();
}

/// axe-core's script: `LUMEN_AXE_JS`, or where `.ci/run` installs it. With
/// `CI=true` it must be there.
fn axe_source() -> Option<String> {
    let path = std::env::var("LUMEN_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/axe/node_modules/axe-core/axe.min.js")
        });
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) if in_ci() => panic!("CI=true but axe-core is missing at {}: {e}", path.display()),
        Err(e) => {
            eprintln!(
                "SKIPPED axe checks: {} ({e}); npm install axe-core",
                path.display()
            );
            None
        }
    }
}

/// The contrast ratio of two sRGB colours (WCAG 2.1).
fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let luminance = |c: [f64; 3]| {
        let lin = |v: f64| {
            let v = v / 255.0;
            if v <= 0.040_45 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// `rgb(r, g, b)` or `rgba(r, g, b, a)` as seen over white.
fn rgb(css: &str) -> [f64; 3] {
    let inner = css.split_once('(').unwrap().1.trim_end_matches(')');
    let parts: Vec<f64> = inner
        .split(',')
        .map(|p| p.trim().parse().unwrap())
        .collect();
    let alpha = parts.get(3).copied().unwrap_or(1.0);
    [0, 1, 2].map(|i| alpha * parts[i] + (1.0 - alpha) * 255.0)
}

/// One page at phone and desktop widths: nothing wider than the viewport,
/// no serious or critical axe-core violation, a screenshot of each.
async fn check_page(client: &Client, name: &str, axe: Option<&str>) {
    for (width, height) in [(320, 640), (390, 844), (1280, 900)] {
        client.set_window_size(width, height).await.unwrap();
        let sizes = client
            .execute(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
                vec![],
            )
            .await
            .unwrap();
        let (scroll, client_width) = (sizes[0].as_u64().unwrap(), sizes[1].as_u64().unwrap());
        assert!(
            scroll <= client_width,
            "{name} at {width} px: {scroll} px wide in a {client_width} px viewport"
        );
        screenshot(client, &format!("page-{name}-{width}")).await;
        if let Some(axe) = axe {
            client.execute(axe, vec![]).await.unwrap();
            let found = client
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     axe.run(document, { resultTypes: ['violations'] })
                       .then(r => done(r.violations
                         .filter(v => v.impact === 'serious' || v.impact === 'critical')
                         .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
                       .catch(e => done(['axe failed: ' + e]));",
                    vec![],
                )
                .await
                .unwrap();
            let found: Vec<String> = serde_json::from_value(found).unwrap();
            assert!(found.is_empty(), "{name} at {width} px: {found:#?}");
        }
    }
    // Every focus ring on the page stands out 3:1 from white.
    let rings = client
        .execute(
            "return [...document.querySelectorAll('main input:not([type=hidden]):not([disabled]), main button, main a')]
               .slice(0, 6).map(e => { e.focus({ focusVisible: true }); const s = getComputedStyle(e);
                 return [e.id || e.tagName, s.outlineStyle, s.outlineColor]; });",
            vec![],
        )
        .await
        .unwrap();
    for ring in rings.as_array().unwrap() {
        let (what, style, colour) = (
            ring[0].as_str().unwrap(),
            ring[1].as_str().unwrap(),
            ring[2].as_str().unwrap(),
        );
        if style == "none" {
            continue; // an element the focus did not reach (hidden)
        }
        let ratio = contrast(rgb(colour), [255.0, 255.0, 255.0]);
        assert!(
            ratio >= 3.0,
            "{name}: the focus ring of {what} is {colour}, {ratio:.2}:1"
        );
    }
}

/// Every page, at 390 × 844 and 1280 × 900, signed in with a 254-character
/// address: no horizontal overflow, no serious or critical axe-core
/// violation, focus rings at 3:1; screenshots of each in
/// `target/screenshots/`.
#[tokio::test]
async fn every_page_fits_phones_and_desktops_and_passes_axe() {
    let Some(Running {
        clock,
        _dir,
        server,
        _driver,
        s,
        ..
    }) = start(180).await
    else {
        return;
    };
    let axe = axe_source();
    let axe = axe.as_deref();
    let email = format!(
        "{}@{}.{}.{}.com",
        "l".repeat(64),
        "d".repeat(63),
        "e".repeat(63),
        "f".repeat(57)
    );
    assert_eq!(email.len(), 254);
    s.goto("/login").await;
    check_page(&s.client, "sign-in", axe).await;
    // A refused form is its own page (Post/Redirect/Get), the long address
    // typed shown again.
    fill(&s.client, "input[name=email]", &email).await;
    fill(&s.client, "input[name=password]", "not the password").await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    element(&s.client, "#login-error").await;
    check_page(&s.client, "sign-in-refused", axe).await;
    s.register(&email, "1", true).await;
    fill(&s.client, "input[name=name]", " ").await;
    s.submit().await;
    element(&s.client, "#name-error").await;
    check_page(&s.client, "register-refused", axe).await;
    s.register(&email, "1", true).await;
    check_page(&s.client, "register", axe).await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    check_page(&s.client, "registered", axe).await;
    s.sign_in(&email).await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    click(&s.client, "#show-key").await;
    check_page(&s.client, "enroll", axe).await;
    s.enter_code("000000").await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    check_page(&s.client, "enroll-wrong-code", axe).await;
    let secret = js_text(&s.client, "secret").await.replace(' ', "");
    let app = authenticator(&secret);
    s.enter_code(&code(&app, &clock)).await;
    wait_for_path(&s.client, "/account/recovery-codes", PATIENCE).await;
    check_page(&s.client, "recovery-codes", axe).await;
    s.goto("/account/recovery-codes").await;
    check_page(&s.client, "recovery-codes-shown", axe).await;
    s.goto("/account").await;
    check_page(&s.client, "account", axe).await;
    s.goto("/account/authentication").await;
    check_page(&s.client, "authentication", axe).await;
    fill(&s.client, "#regenerate-code", "000000").await;
    click(&s.client, "#regenerate button[type=submit]").await;
    element(&s.client, "#regenerate-code-error").await;
    check_page(&s.client, "authentication-refused", axe).await;
    s.goto("/account/mfa/replace").await;
    check_page(&s.client, "replace", axe).await;
    clock.advance(11 * 60);
    s.goto("/account/mfa/replace").await;
    check_page(&s.client, "confirm-its-you", axe).await;
    s.sign_out().await;
    s.sign_in(&email).await;
    wait_for_path(&s.client, "/mfa/challenge", PATIENCE).await;
    check_page(&s.client, "challenge", axe).await;
    s.enter_code("000000").await;
    check_page(&s.client, "challenge-wrong-code", axe).await;
    s.goto("/mfa/recovery").await;
    check_page(&s.client, "recovery", axe).await;
    s.goto("/no-such-page").await;
    check_page(&s.client, "not-found", axe).await;

    s.client.close().await.unwrap();
    server.stop().await.unwrap();
}

/// The recovery codes survive neither a reload nor Back; a user without the
/// phone signs in with a recovery code and sets up a new app, after which
/// the old one is refused; an optional opt-in is put off with "Not now".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_phone_is_replaced_and_an_opt_in_put_off_in_a_browser() {
    let Some(Running {
        clock,
        _dir,
        server,
        _driver,
        s,
        ..
    }) = start(180).await
    else {
        return;
    };
    let email = "ada@example.com";
    s.register(email, "2", true).await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    s.sign_in(email).await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    // A required customer's enrollment has no "Not now".
    assert!(s.client.find(Locator::Css("#postpone")).await.is_err());
    let old = authenticator(&js_text(&s.client, "secret").await.replace(' ', ""));
    s.enter_code(&code(&old, &clock)).await;
    wait_for_path(&s.client, "/account/recovery-codes", PATIENCE).await;
    let first = text(&s.client, "#recovery-codes code").await;
    // A reload: shown once, never "expired".
    s.client.refresh().await.unwrap();
    assert!(text(&s.client, "h1").await.contains("already shown"));
    click(&s.client, "#continue").await;
    wait_for_path(&s.client, "/account", PATIENCE).await;
    // Back: the page is asked for again and shows no code.
    s.client.back().await.unwrap();
    wait_for_path(&s.client, "/account/recovery-codes", PATIENCE).await;
    let page = s.client.source().await.unwrap();
    assert!(!page.contains(&first), "Back showed the codes again");

    // The phone is lost: a recovery code, then a new app.
    s.goto("/account").await;
    s.sign_out().await;
    s.sign_in(email).await;
    wait_for_path(&s.client, "/mfa/challenge", PATIENCE).await;
    click(&s.client, "#use-recovery").await;
    wait_for_path(&s.client, "/mfa/recovery", PATIENCE).await;
    s.enter_code(&first).await;
    wait_for_path(&s.client, "/account/authentication", PATIENCE).await;
    click(&s.client, "#replace-app").await;
    wait_for_path(&s.client, "/account/mfa/replace", PATIENCE).await;
    screenshot(&s.client, "14-replace").await;
    click(&s.client, "#show-key").await;
    let new = authenticator(&js_text(&s.client, "secret").await.replace(' ', ""));
    clock.advance(30);
    s.enter_code(&code(&new, &clock)).await;
    wait_for_path(&s.client, "/account/authentication", PATIENCE).await;
    assert!(
        text(&s.client, ".notice")
            .await
            .contains("new authenticator app is set up")
    );
    s.sign_out().await;
    clock.advance(30);
    s.sign_in(email).await;
    wait_for_path(&s.client, "/mfa/challenge", PATIENCE).await;
    s.enter_code(&code(&old, &clock)).await;
    assert!(text(&s.client, "#code-error").await.contains("not valid"));
    s.enter_code(&code(&new, &clock)).await;
    wait_for_path(&s.client, "/account", PATIENCE).await;
    s.sign_out().await;

    // An optional opt-in, put off from the enrollment page.
    s.register("bob@example.com", "1", true).await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    s.sign_in("bob@example.com").await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    click(&s.client, "#postpone button").await;
    wait_for_path(&s.client, "/account", PATIENCE).await;
    assert_eq!(text(&s.client, "#mfa-state").await, "Off");

    s.client.close().await.unwrap();
    server.stop().await.unwrap();
}

/// Five wrong codes: the page counts the attempts down, then locks the
/// field with a live countdown, and opens it again by itself at zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_counts_down_and_opens_the_field_again() {
    let Some(Running {
        clock,
        _dir,
        server,
        _driver,
        s,
        ..
    }) = start(180).await
    else {
        return;
    };
    let email = "ada@example.com";
    s.register(email, "2", true).await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    s.sign_in(email).await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    let app = authenticator(&js_text(&s.client, "secret").await.replace(' ', ""));
    s.enter_code(&code(&app, &clock)).await;
    wait_for_path(&s.client, "/account/recovery-codes", PATIENCE).await;
    s.sign_out().await;
    s.sign_in(email).await;
    wait_for_path(&s.client, "/mfa/challenge", PATIENCE).await;
    clock.advance(30);
    let good = code(&app, &clock);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    // Each answer is waited for, so no code is typed into a page that is
    // about to be replaced.
    for left in ["4 more", "3 more", "2 more", "One more wrong code"] {
        s.enter_code(wrong).await;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !js_text(&s.client, "code-error").await.contains(left) {
            assert!(tokio::time::Instant::now() < deadline, "no answer: {left}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if left == "4 more" {
            // The answer is a page of its own (Post/Redirect/Get): a
            // reload shows it again and submits nothing, so it costs no
            // attempt.
            let url = s.client.current_url().await.unwrap();
            assert_eq!(url.query(), Some("error=invalid"));
            s.client.refresh().await.unwrap();
            assert!(js_text(&s.client, "code-error").await.contains(left));
        }
    }
    s.enter_code(wrong).await;
    element(&s.client, "#lock-countdown").await;
    let field = element(&s.client, "#code").await;
    assert!(!field.is_enabled().await.unwrap(), "the field waits");
    screenshot(&s.client, "15-locked").await;
    // The lock is 30 s of the server's clock; the page counts real time.
    clock.advance(31);
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    while !element(&s.client, "#code")
        .await
        .is_enabled()
        .await
        .unwrap()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the field stayed closed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(text(&s.client, "#lock").await, "You can try again now.");
    s.enter_code(&code(&app, &clock)).await;
    wait_for_path(&s.client, "/account", PATIENCE).await;

    s.client.close().await.unwrap();
    server.stop().await.unwrap();
}

/// The text a key sends (`Key` as WebDriver's code point).
fn key(k: fantoccini::key::Key) -> String {
    k.to_string()
}

/// Presses Tab until the focus is on `id` (at most 30 presses).
async fn tab_to(client: &Client, id: &str) {
    for _ in 0..30 {
        let active = client.active_element().await.unwrap();
        if active.attr("id").await.unwrap().as_deref() == Some(id) {
            return;
        }
        active
            .send_keys(&key(fantoccini::key::Key::Tab))
            .await
            .unwrap();
    }
    panic!("Tab never reached #{id}");
}

/// Types into whatever has the focus.
async fn type_here(client: &Client, text: &str) {
    client
        .active_element()
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// Registration, sign-in, enrollment and the recovery codes with the
/// keyboard alone: the focus starts on each form's first field, Tab
/// reaches every control, Enter and Space do the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_works_with_the_keyboard_alone() {
    use fantoccini::key::Key;
    let Some(Running {
        clock,
        _dir,
        server,
        _driver,
        s,
        ..
    }) = start(180).await
    else {
        return;
    };
    s.goto("/register").await;
    type_here(&s.client, "Ada Lovelace").await; // autofocus: the name
    tab_to(&s.client, "email").await;
    type_here(&s.client, "ada@example.com").await;
    tab_to(&s.client, "password").await;
    type_here(&s.client, PASSWORD).await;
    tab_to(&s.client, "otp").await;
    type_here(&s.client, " ").await;
    type_here(&s.client, &key(Key::Enter)).await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    type_here(&s.client, "ada@example.com").await; // autofocus: the email
    tab_to(&s.client, "password").await;
    type_here(&s.client, &(PASSWORD.to_owned() + &key(Key::Enter))).await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    // "Can't scan?" by keyboard, then the code (the field has the focus).
    tab_to(&s.client, "show-key").await;
    type_here(&s.client, &key(Key::Enter)).await;
    assert!(
        element(&s.client, "#manual")
            .await
            .is_displayed()
            .await
            .unwrap()
    );
    let app = authenticator(&js_text(&s.client, "secret").await.replace(' ', ""));
    tab_to(&s.client, "code").await;
    type_here(&s.client, &(code(&app, &clock) + &key(Key::Enter))).await;
    wait_for_path(&s.client, "/account/recovery-codes", PATIENCE).await;
    tab_to(&s.client, "saved").await;
    type_here(&s.client, " ").await;
    tab_to(&s.client, "continue").await;
    type_here(&s.client, &key(Key::Enter)).await;
    wait_for_path(&s.client, "/account", PATIENCE).await;
    assert_eq!(text(&s.client, "#mfa-state").await, "On");

    s.client.close().await.unwrap();
    server.stop().await.unwrap();
}

/// Two tabs on the QR code: finishing in one, the other's code answers
/// with the real state (MFA is on), not "expired".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_tab_learns_that_mfa_is_on() {
    let Some(Running {
        clock,
        _dir,
        server,
        _driver,
        s,
        ..
    }) = start(180).await
    else {
        return;
    };
    s.register("ada@example.com", "1", true).await;
    s.submit().await;
    wait_for_path(&s.client, "/login", PATIENCE).await;
    s.sign_in("ada@example.com").await;
    wait_for_path(&s.client, "/mfa/enroll", PATIENCE).await;
    let first = s.client.window().await.unwrap();
    let second = s.client.new_window(true).await.unwrap().handle;
    s.client.switch_to_window(second.clone()).await.unwrap();
    s.goto("/mfa/enroll").await;
    let app = authenticator(&js_text(&s.client, "secret").await.replace(' ', ""));
    s.client.switch_to_window(first).await.unwrap();
    s.enter_code(&code(&app, &clock)).await;
    wait_for_path(&s.client, "/account/recovery-codes", PATIENCE).await;
    s.client.switch_to_window(second).await.unwrap();
    clock.advance(30);
    s.enter_code(&code(&app, &clock)).await;
    wait_for_path(&s.client, "/account", PATIENCE).await;
    assert!(
        text(&s.client, ".notice")
            .await
            .contains("Multi-factor authentication is on")
    );

    s.client.close().await.unwrap();
    server.stop().await.unwrap();
}
