//! Lumen's cookies besides the session: the sign-in form's CSRF cookie,
//! which lets anonymous visitors go without a stored session, and OWASP's
//! device cookies, which give a browser that signed in to an account a
//! sign-in budget of its own.

use aes_gcm_siv::aead::{Aead, Payload};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tower_sessions::cookie::time::Duration;
use tower_sessions::cookie::{Cookie, SameSite};
use zeroize::Zeroizing;

use crate::security::random_token;

/// The CSRF cookie of the sign-in and registration forms (with `Secure`,
/// the `__Host-` prefix: no subdomain can set it).
const CSRF_COOKIE: &str = "lumen_csrf";
const SECURE_CSRF_COOKIE: &str = "__Host-lumen_csrf";

/// The device cookie: sent only to `/login`.
pub(crate) const DEVICE_COOKIE: &str = "lumen_device";

/// The cookie that carries freshly issued recovery codes, sealed, from the
/// form that made them to the page that shows them (Post/Redirect/Get):
/// nothing is stored, and the page shows them once.
pub(crate) const CODES_COOKIE: &str = "lumen_codes";

/// Where the codes are shown.
pub(crate) const CODES_PAGE: &str = "/account/recovery-codes";

/// How long sealed codes wait for their page, in seconds.
const CODES_LIFETIME: u64 = 300;

/// How long a refused form's answer waits for its page, in seconds: a
/// reload or Back soon after, not the next person at a shared computer.
const ANSWER_LIFETIME: u64 = 120;

/// A form whose refusal is carried to its page in a sealed cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AnswerTo {
    /// The sign-in form.
    Login,
    /// The registration form.
    Register,
}

impl AnswerTo {
    fn cookie(self) -> &'static str {
        match self {
            Self::Login => "lumen_login_answer",
            Self::Register => "lumen_register_answer",
        }
    }

    /// The form's page, the only path the cookie is sent to.
    pub(crate) fn page(self) -> &'static str {
        match self {
            Self::Login => "/login",
            Self::Register => "/register",
        }
    }

    fn aad(self) -> &'static [u8] {
        match self {
            Self::Login => b"lumen login answer",
            Self::Register => b"lumen register answer",
        }
    }
}

/// How long a device stays trusted after its last sign-in, in seconds.
const DEVICE_LIFETIME: u64 = 180 * 24 * 60 * 60;

/// The accounts one browser's device cookie is kept for.
const DEVICES_KEPT: usize = 5;

/// Keys for the cookies, each derived from the application key for its
/// purpose, and whether cookies are `Secure`.
#[derive(Clone)]
pub(crate) struct Cookies {
    csrf: Zeroizing<[u8; 32]>,
    device: Zeroizing<[u8; 32]>,
    codes: Zeroizing<[u8; 32]>,
    answers: Zeroizing<[u8; 32]>,
    secure: bool,
}

/// Why recovery codes were issued, for the page's heading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Issued {
    /// At the end of enrollment.
    Enrollment,
    /// Regenerated.
    Regenerated,
}

/// Recovery codes opened from their cookie.
pub(crate) struct ShownCodes {
    pub(crate) why: Issued,
    pub(crate) codes: Zeroizing<String>,
}

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cookies")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

/// HMAC-SHA-256 of `parts` (each followed by a 0 byte) under `key`.
fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

/// A key for one purpose, derived from the application key (HMAC as a
/// PRF): a value made with one is worth nothing as another.
pub(crate) fn derive(key: &[u8], purpose: &str) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(mac(key, &[b"lumen key", purpose.as_bytes()]))
}

/// Every value of the cookie `name` in a request's `Cookie` headers, in
/// order. A browser sends several under one name when they differ in path
/// or domain (one planted by a sibling domain, say), so each is tried; a
/// pair that is not text is skipped, not the whole header.
fn cookies<'h>(headers: &'h HeaderMap, name: &'h str) -> impl Iterator<Item = &'h str> + 'h {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|b| *b == b';'))
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The first value of the cookie `name`.
fn cookie<'h>(headers: &'h HeaderMap, name: &'h str) -> Option<&'h str> {
    cookies(headers, name).next()
}

/// A device entry's shape: `nonce.issued.mac`, base64url and digits.
fn entry_shaped(entry: &str) -> bool {
    let mut parts = entry.split('.');
    let b64 = |p: &str| {
        (16..=32).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(n), Some(t), Some(m), None)
            if b64(n) && b64(m) && (1..=20).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
    )
}

fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A 32-byte random value as `random_token` makes it.
fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A browser's trusted device for one account: the nonce its sign-in
/// attempts are counted under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Device(String);

impl Device {
    /// The throttle key of this device's attempts for `email`. Sign-in
    /// addresses hold no spaces, so no address is ever such a key.
    pub(crate) fn throttle_key(&self, email: &str) -> String {
        format!("device {} {email}", self.0)
    }
}

impl Cookies {
    /// The cookies' keys, derived from the application key.
    pub(crate) fn new(key: &[u8], secure: bool) -> Self {
        Self {
            csrf: derive(key, "sign-in form csrf"),
            device: derive(key, "device cookie"),
            codes: derive(key, "recovery codes cookie"),
            answers: derive(key, "form answer cookie"),
            secure,
        }
    }

    /// A cookie of Lumen's own: `HttpOnly`, `SameSite=Strict`, `Secure`
    /// as configured, on `path`.
    fn cookie(
        &self,
        name: &'static str,
        value: String,
        path: &'static str,
    ) -> tower_sessions::cookie::CookieBuilder<'static> {
        Cookie::build((name, value))
            .path(path)
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(self.secure)
    }

    fn csrf_name(&self) -> &'static str {
        if self.secure {
            SECURE_CSRF_COOKIE
        } else {
            CSRF_COOKIE
        }
    }

    /// The form token for a CSRF cookie value.
    fn form_token(&self, cookie: &str) -> String {
        URL_SAFE_NO_PAD.encode(mac(self.csrf.as_slice(), &[b"form", cookie.as_bytes()]))
    }

    /// The sign-in form's token for this browser, and the `Set-Cookie`
    /// value to send when the browser has no CSRF cookie yet. Nothing is
    /// stored: the token is a MAC of the cookie.
    ///
    /// # Errors
    ///
    /// The random number generator's.
    pub(crate) fn form(
        &self,
        headers: &HeaderMap,
    ) -> Result<(String, Option<String>), getrandom::Error> {
        if let Some(value) = cookies(headers, self.csrf_name()).find(|v| well_formed(v)) {
            return Ok((self.form_token(value), None));
        }
        let value = random_token()?;
        let set = self
            .cookie(self.csrf_name(), value.clone(), "/")
            .build()
            .to_string();
        Ok((self.form_token(&value), Some(set)))
    }

    /// Whether `submitted` is the form token of the browser's CSRF cookie
    /// (compared in constant time); `false` without the cookie.
    pub(crate) fn form_matches(&self, headers: &HeaderMap, submitted: &str) -> bool {
        cookies(headers, self.csrf_name())
            .filter(|v| well_formed(v))
            .any(|value| equal(&self.form_token(value), submitted))
    }

    /// `plain`, sealed with AES-256-GCM-SIV under `key`, bound to `aad` and
    /// stamped with `now`: a cookie value that only this app can open.
    fn seal(
        key: &[u8; 32],
        aad: &[u8],
        plain: &[u8],
        now: u64,
    ) -> Result<String, getrandom::Error> {
        let mut stamped = Zeroizing::new(Vec::with_capacity(8 + plain.len()));
        stamped.extend_from_slice(&now.to_be_bytes());
        stamped.extend_from_slice(plain);
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce)?;
        let sealed = Aes256GcmSiv::new(key.into())
            .encrypt(&Nonce::from(nonce), Payload { msg: &stamped, aad })
            .unwrap_or_else(|_| unreachable!("AES-GCM-SIV seals anything under 64 GiB"));
        Ok(URL_SAFE_NO_PAD.encode([nonce.as_slice(), &sealed].concat()))
    }

    /// What [`Self::seal`] sealed in `value` under `key` and `aad`, if it
    /// was sealed at most `lifetime` seconds before `now`.
    fn open(
        key: &[u8; 32],
        aad: &[u8],
        value: &str,
        now: u64,
        lifetime: u64,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        let (nonce, sealed) = bytes.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let stamped = Zeroizing::new(
            Aes256GcmSiv::new(key.into())
                .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad })
                .ok()?,
        );
        let (issued, plain) = stamped.split_at_checked(8)?;
        let issued = u64::from_be_bytes(issued.try_into().ok()?);
        if now.saturating_sub(issued) > lifetime {
            return None;
        }
        Some(Zeroizing::new(plain.to_vec()))
    }

    /// The `Set-Cookie` value that carries `codes` (issued to `user` for
    /// `why`) to [`CODES_PAGE`]: sealed under a key of its own, bound to
    /// the user, valid five minutes.
    ///
    /// # Errors
    ///
    /// The random number generator's.
    pub(crate) fn seal_codes(
        &self,
        user: &str,
        why: Issued,
        codes: &[&str],
        now: u64,
    ) -> Result<String, getrandom::Error> {
        let mut plain = Zeroizing::new(Vec::with_capacity(1 + codes.len() * 30));
        plain.push(match why {
            Issued::Enrollment => b'e',
            Issued::Regenerated => b'r',
        });
        plain.extend_from_slice(codes.join(" ").as_bytes());
        let aad = [b"lumen codes\0".as_slice(), user.as_bytes()].concat();
        let value = Self::seal(&self.codes, &aad, &plain, now)?;
        Ok(self
            .cookie(CODES_COOKIE, value, CODES_PAGE)
            .max_age(Duration::seconds(CODES_LIFETIME.cast_signed()))
            .build()
            .to_string())
    }

    /// The codes in the request's cookie, if it holds codes sealed for
    /// `user` in the last five minutes.
    pub(crate) fn open_codes(
        &self,
        headers: &HeaderMap,
        user: &str,
        now: u64,
    ) -> Option<ShownCodes> {
        let aad = [b"lumen codes\0".as_slice(), user.as_bytes()].concat();
        let value = cookie(headers, CODES_COOKIE)?;
        let plain = Self::open(&self.codes, &aad, value, now, CODES_LIFETIME)?;
        let (&why, codes) = plain.split_first()?;
        let why = match why {
            b'e' => Issued::Enrollment,
            b'r' => Issued::Regenerated,
            _ => return None,
        };
        let codes = Zeroizing::new(String::from_utf8(codes.to_vec()).ok()?);
        Some(ShownCodes { why, codes })
    }

    /// The `Set-Cookie` value that removes the codes' cookie.
    pub(crate) fn clear_codes(&self) -> String {
        self.cookie(CODES_COOKIE, String::new(), CODES_PAGE)
            .max_age(Duration::ZERO)
            .build()
            .to_string()
    }

    /// The `Set-Cookie` value that carries a refused form's `answer` to the
    /// form's page (Post/Redirect/Get): what was typed (never a password)
    /// and why it was refused, sealed, sent only to that page, valid two
    /// minutes. Nothing is stored on the server.
    ///
    /// # Errors
    ///
    /// The random number generator's.
    pub(crate) fn seal_answer<T: Serialize>(
        &self,
        headers: &HeaderMap,
        form: AnswerTo,
        answer: &T,
        now: u64,
    ) -> Result<String, getrandom::Error> {
        let plain = Zeroizing::new(
            serde_json::to_vec(answer)
                .unwrap_or_else(|_| unreachable!("an answer is plain strings and numbers")),
        );
        let value = Self::seal(&self.answers, &self.answer_aad(headers, form), &plain, now)?;
        Ok(self
            .cookie(form.cookie(), value, form.page())
            .max_age(Duration::seconds(ANSWER_LIFETIME.cast_signed()))
            .build()
            .to_string())
    }

    /// The answer sealed for `form` in the request's cookie, if there is
    /// one sealed for this browser in the last two minutes.
    pub(crate) fn open_answer<T: DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        form: AnswerTo,
        now: u64,
    ) -> Option<T> {
        let aad = self.answer_aad(headers, form);
        cookies(headers, form.cookie()).find_map(|value| {
            let plain = Self::open(&self.answers, &aad, value, now, ANSWER_LIFETIME)?;
            serde_json::from_slice(&plain).ok()
        })
    }

    /// What an answer is bound to: its form and the browser's CSRF cookie
    /// (the one [`Self::form`] uses), so an answer sealed for one browser
    /// — planted in another, say — opens in no other.
    fn answer_aad(&self, headers: &HeaderMap, form: AnswerTo) -> Vec<u8> {
        let csrf = cookies(headers, self.csrf_name()).find(|v| well_formed(v));
        [form.aad(), b"\0", csrf.unwrap_or("").as_bytes()].concat()
    }

    /// The `Set-Cookie` value that removes `form`'s answer.
    pub(crate) fn clear_answer(&self, form: AnswerTo) -> String {
        self.cookie(form.cookie(), String::new(), form.page())
            .max_age(Duration::ZERO)
            .build()
            .to_string()
    }

    /// One device entry: `nonce.issued.mac`, the MAC over the account's
    /// address, the nonce and the time it was issued.
    fn entry_mac(&self, email: &str, nonce: &str, issued: &str) -> String {
        let tag = mac(
            self.device.as_slice(),
            &[email.as_bytes(), nonce.as_bytes(), issued.as_bytes()],
        );
        URL_SAFE_NO_PAD.encode(&tag[..16])
    }

    /// The browser's trusted device for `email`: an entry of its device
    /// cookie made for that address, under this app's key, at most 180
    /// days old.
    pub(crate) fn device(&self, headers: &HeaderMap, email: &str, now: u64) -> Option<Device> {
        let entries = cookies(headers, DEVICE_COOKIE).flat_map(|value| value.split('~'));
        entries.take(32).find_map(|entry| {
            let mut parts = entry.split('.');
            let (nonce, issued, tag) = (parts.next()?, parts.next()?, parts.next()?);
            if parts.next().is_some() || !equal(&self.entry_mac(email, nonce, issued), tag) {
                return None;
            }
            let issued: u64 = issued.parse().ok()?;
            (now < issued.saturating_add(DEVICE_LIFETIME)).then(|| Device(nonce.to_owned()))
        })
    }

    /// The `Set-Cookie` value after a successful sign-in to `email`: a new
    /// entry for that account (replacing `used`, the entry this sign-in
    /// came with), and the browser's entries for up to four other accounts.
    ///
    /// # Errors
    ///
    /// The random number generator's.
    pub(crate) fn trust(
        &self,
        headers: &HeaderMap,
        email: &str,
        used: Option<&Device>,
        now: u64,
    ) -> Result<String, getrandom::Error> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)?;
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let issued = now.to_string();
        let mut entries = vec![format!(
            "{nonce}.{issued}.{}",
            self.entry_mac(email, &nonce, &issued)
        )];
        let kept = cookies(headers, DEVICE_COOKIE)
            .flat_map(|value| value.split('~'))
            .filter(|entry| entry_shaped(entry))
            .filter(|entry| used.is_none_or(|d| entry.split('.').next() != Some(d.0.as_str())))
            .take(DEVICES_KEPT - 1)
            .map(str::to_owned);
        entries.extend(kept);
        Ok(self
            .cookie(DEVICE_COOKIE, entries.join("~"), "/login")
            .max_age(tower_sessions::cookie::time::Duration::days(180))
            .build()
            .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            http::HeaderValue::from_str(&format!("other=1; {pair}")).unwrap(),
        );
        headers
    }

    #[test]
    fn form_tokens_belong_to_their_cookie_and_key() {
        let cookies = Cookies::new(&[7; 32], false);
        let (token, set) = cookies.form(&HeaderMap::new()).unwrap();
        let set = set.unwrap();
        assert!(set.starts_with("lumen_csrf="), "{set}");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        let headers = with_cookie(&set);
        assert!(cookies.form_matches(&headers, &token));
        // The same browser keeps its cookie and token.
        assert_eq!(cookies.form(&headers).unwrap(), (token.clone(), None));
        assert!(!cookies.form_matches(&HeaderMap::new(), &token));
        assert!(!cookies.form_matches(&headers, &token[1..]));
        assert!(!Cookies::new(&[8; 32], false).form_matches(&headers, &token));
        let secure = Cookies::new(&[7; 32], true)
            .form(&HeaderMap::new())
            .unwrap();
        assert!(secure.1.unwrap().starts_with("__Host-lumen_csrf="));
    }

    #[test]
    fn every_cookie_of_a_name_is_tried_and_odd_pairs_are_skipped() {
        let cookies = Cookies::new(&[7; 32], false);
        let now = 1_800_000_000;
        let set = cookies
            .trust(&HeaderMap::new(), "ada@x.io", None, now)
            .unwrap();
        let pair = set.split(';').next().unwrap_or_default();
        let (_, value) = pair.split_once('=').unwrap();
        let mut headers = HeaderMap::new();
        let header = format!("pref=caf\u{e9}; lumen_device=x.1.y; lumen_device={value}");
        headers.insert(
            http::header::COOKIE,
            http::HeaderValue::from_bytes(header.as_bytes()).unwrap(),
        );
        assert!(cookies.device(&headers, "ada@x.io", now).is_some());
        let (token, _) = cookies.form(&HeaderMap::new()).unwrap();
        assert!(!cookies.form_matches(&headers, &token));
        // Only well-shaped entries are carried forward.
        let renewed = cookies.trust(&headers, "bob@x.io", None, now).unwrap();
        assert!(!renewed.contains("x.1.y"), "{renewed}");
        assert!(renewed.contains(value), "{renewed}");
    }

    #[test]
    fn sealed_codes_open_for_their_user_within_five_minutes() {
        let cookies = Cookies::new(&[7; 32], false);
        let now = 1_800_000_000;
        let codes = [
            "ABCD-EFGH-IJKL-MNOP-QRST-UVW",
            "BCDE-FGHI-JKLM-NOPQ-RSTU-VWX",
        ];
        let set = cookies
            .seal_codes("ada", Issued::Regenerated, &codes, now)
            .unwrap();
        assert!(!set.contains("ABCD"), "{set}");
        let headers = with_cookie(&set);
        let shown = cookies.open_codes(&headers, "ada", now + 300).unwrap();
        assert_eq!(shown.why, Issued::Regenerated);
        assert_eq!(shown.codes.as_str(), codes.join(" "));
        assert!(cookies.open_codes(&headers, "ada", now + 301).is_none());
        assert!(cookies.open_codes(&headers, "bob", now).is_none());
        assert!(
            Cookies::new(&[8; 32], false)
                .open_codes(&headers, "ada", now)
                .is_none()
        );
        assert!(cookies.clear_codes().contains("Max-Age=0"));
    }

    #[test]
    fn form_answers_open_in_their_browser_on_their_page_within_two_minutes() {
        let cookies = Cookies::new(&[7; 32], false);
        let now = 1_800_000_000;
        let answer = ("ada@example.com".to_owned(), Some(now + 30));
        let (_, csrf) = cookies.form(&HeaderMap::new()).unwrap();
        let csrf = csrf.unwrap();
        let set = cookies
            .seal_answer(&with_cookie(&csrf), AnswerTo::Login, &answer, now)
            .unwrap();
        assert!(
            set.contains("Path=/login") && set.contains("Max-Age=120"),
            "{set}"
        );
        assert!(!set.contains("ada"), "{set}");
        // The browser's cookies with `pair` added.
        let pair = |set: &str| set.split(';').next().unwrap_or_default().to_owned();
        let with = |base: &str, set: &str| {
            let mut headers = HeaderMap::new();
            let line = format!("{}; {}", pair(base), pair(set));
            headers.insert(http::header::COOKIE, line.parse().unwrap());
            headers
        };
        let open =
            |c: &Cookies, h: &HeaderMap, to, at| c.open_answer::<(String, Option<u64>)>(h, to, at);
        let headers = with(&csrf, &set);
        assert_eq!(
            open(&cookies, &headers, AnswerTo::Login, now + 120),
            Some(answer)
        );
        assert_eq!(open(&cookies, &headers, AnswerTo::Login, now + 121), None);
        let other_key = Cookies::new(&[8; 32], false);
        assert_eq!(open(&other_key, &headers, AnswerTo::Login, now), None);
        // Planted in another browser (another CSRF cookie), it opens not.
        let (_, elsewhere) = cookies.form(&HeaderMap::new()).unwrap();
        let planted = with(&elsewhere.unwrap(), &set);
        assert_eq!(open(&cookies, &planted, AnswerTo::Login, now), None);
        // Sealed for one form, it is no answer of another, even when copied
        // to that form's cookie name.
        let copied = with(
            &csrf,
            &set.replacen("lumen_login_answer", "lumen_register_answer", 1),
        );
        assert_eq!(open(&cookies, &copied, AnswerTo::Register, now), None);
        assert!(
            cookies
                .clear_answer(AnswerTo::Register)
                .contains("Max-Age=0")
        );
    }

    #[test]
    fn device_entries_are_bound_to_account_key_and_age() {
        let cookies = Cookies::new(&[7; 32], false);
        let now = 1_800_000_000;
        let set = cookies
            .trust(&HeaderMap::new(), "ada@x.io", None, now)
            .unwrap();
        assert!(set.contains("Path=/login") && set.contains("Max-Age=15552000"));
        let headers = with_cookie(&set);
        let device = cookies.device(&headers, "ada@x.io", now).unwrap();
        assert!(device.throttle_key("ada@x.io").starts_with("device "));
        assert_eq!(cookies.device(&headers, "bob@x.io", now), None);
        assert_eq!(
            cookies.device(&headers, "ada@x.io", now + DEVICE_LIFETIME),
            None
        );
        let other_key = Cookies::new(&[8; 32], false);
        assert_eq!(other_key.device(&headers, "ada@x.io", now), None);
        // Another account's sign-in keeps Ada's entry; Ada's next replaces it.
        let both = with_cookie(&cookies.trust(&headers, "bob@x.io", None, now).unwrap());
        assert!(cookies.device(&both, "ada@x.io", now).is_some());
        assert!(cookies.device(&both, "bob@x.io", now).is_some());
        let renewed = cookies
            .trust(&both, "ada@x.io", Some(&device), now)
            .unwrap();
        let renewed = with_cookie(&renewed);
        let new = cookies.device(&renewed, "ada@x.io", now).unwrap();
        assert_ne!(new, device);
        let value = renewed[&http::header::COOKIE].to_str().unwrap();
        assert!(!value.contains(&device.0), "the used entry is replaced");
        assert!(cookies.device(&renewed, "bob@x.io", now).is_some());
    }
}
