//! The pages, as maud templates.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use mfa_flow::{StateKind, Status};

use crate::db::{Customer, User};

/// What every page around the content needs.
pub(crate) struct Frame<'a> {
    pub(crate) title: &'a str,
    /// The CSRF token, for the sign-out button of a signed-in page.
    pub(crate) sign_out: Option<&'a str>,
}

pub(crate) fn layout(frame: &Frame<'_>, content: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (frame.title) " · Lumen" }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { span.logo { "◐" } " Lumen" }
                    @if let Some(token) = frame.sign_out {
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(token);
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main { (content) }
                footer { "Lumen Master Account · a demo of the Rust MFA toolkit" }
            }
        }
    }
}

/// A field's error, right below it (the input points at it with
/// `aria-describedby` and is `aria-invalid`; the script moves focus there).
fn field_error(id: &str, error: Option<&str>) -> Markup {
    html! { @if let Some(e) = error { p.error.field-error id=(id) role="alert" { (e) } } }
}

fn message(notice: Option<&str>) -> Markup {
    html! { @if let Some(notice) = notice { p.notice role="status" { (notice) } } }
}

/// The registration form's values, to show again after a mistake.
#[derive(Default)]
pub(crate) struct Registration<'a> {
    pub(crate) name: &'a str,
    pub(crate) email: &'a str,
    pub(crate) customer: Option<i64>,
    pub(crate) otp: bool,
}

/// A registration field a problem is about.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Name,
    Email,
    Password,
    Customer,
}

impl Field {
    /// The field's id in the page and its key in a refusal's query.
    pub(crate) fn id(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Email => "email",
            Self::Password => "password",
            Self::Customer => "customer",
        }
    }

    /// The field an id names.
    pub(crate) fn named(id: &str) -> Option<Self> {
        [Self::Name, Self::Email, Self::Password, Self::Customer]
            .into_iter()
            .find(|f| f.id() == id)
    }

    /// What to fix in the field.
    pub(crate) fn problem(self) -> &'static str {
        match self {
            Self::Name => "Enter your name (at most 100 characters).",
            Self::Email => "Enter a valid email address.",
            Self::Password => "Choose a password of 8 to 128 characters.",
            Self::Customer => "Choose your customer.",
        }
    }
}

pub(crate) fn register(
    customers: &[Customer],
    values: &Registration<'_>,
    problem: Option<Field>,
    csrf: &str,
) -> Markup {
    let required = customers
        .iter()
        .any(|c| Some(c.id) == values.customer && c.mfa_required);
    // The problem's field is marked and points at its message.
    let invalid = |f: Field| (problem == Some(f)).then_some("true");
    let described = |f: Field| (problem == Some(f)).then(|| format!("{}-error", f.id()));
    let error_at = |f: Field| {
        let text = (problem == Some(f)).then(|| f.problem());
        field_error(&format!("{}-error", f.id()), text)
    };
    // With nothing to fix the first field has the focus; with a problem,
    // the script puts it on the field at fault.
    let focus_name = problem.is_none();
    let content = html! {
        section.card {
            h1 { "Create your Lumen account" }
            form method="post" action="/register" {
                input type="hidden" name="csrf" value=(csrf);
                label for="name" { "Name" }
                input type="text" name="name" id="name" value=(values.name) required maxlength="100" autocomplete="name" autofocus[focus_name] aria-invalid=[invalid(Field::Name)] aria-describedby=[described(Field::Name)];
                (error_at(Field::Name))
                label for="email" { "Email" }
                input type="email" name="email" id="email" value=(values.email) required maxlength="254" autocomplete="email" aria-invalid=[invalid(Field::Email)] aria-describedby=[described(Field::Email)];
                (error_at(Field::Email))
                label for="password" { "Password" }
                input type="password" name="password" id="password" required minlength="8" maxlength="128" autocomplete="new-password" aria-invalid=[invalid(Field::Password)] aria-describedby=[described(Field::Password).or(Some("password-hint".to_owned()))];
                p.hint id="password-hint" { "8 to 128 characters." }
                (error_at(Field::Password))
                label for="customer" { "Customer" }
                select name="customer" id="customer" required aria-invalid=[invalid(Field::Customer)] aria-describedby=[described(Field::Customer)] {
                    @for c in customers {
                        option value=(c.id) data-mfa-required=(c.mfa_required) selected[Some(c.id) == values.customer] { (c.name) }
                    }
                }
                (error_at(Field::Customer))
                fieldset.mfa {
                    legend { "Multi-factor authentication" }
                    label.check {
                        input type="checkbox" name="otp" id="otp" value="on" checked[values.otp || required] disabled[required] aria-describedby="otp-hint";
                        " One Time Password using OTP App"
                    }
                    p.hint id="otp-hint" hidden[!required] { "On, and required by your organisation." }
                }
                button type="submit" { "Create account" }
            }
            p.aside { "Already registered? " a href="/login" { "Sign in" } }
        }
    };
    layout(
        &Frame {
            title: "Register",
            sign_out: None,
        },
        &content,
    )
}

pub(crate) fn login(email: &str, error: Option<&str>, notice: Option<&str>, csrf: &str) -> Markup {
    let invalid = error.map(|_| "true");
    let described = error.map(|_| "login-error");
    let content = html! {
        section.card {
            h1 { "Sign in to Lumen" }
            (message(notice))
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                // One message for both fields: it does not say which is wrong.
                (field_error("login-error", error))
                label for="email" { "Email" }
                input type="email" name="email" id="email" value=(email) required autocomplete="username" autofocus[error.is_none()] aria-invalid=[invalid] aria-describedby=[described];
                label for="password" { "Password" }
                input type="password" name="password" id="password" required autocomplete="current-password" aria-invalid=[invalid] aria-describedby=[described];
                button type="submit" { "Sign in" }
            }
            p.aside { "New here? " a href="/register" { "Create an account" } }
        }
    };
    layout(
        &Frame {
            title: "Sign in",
            sign_out: None,
        },
        &content,
    )
}

/// What a new secret is for: a first enrollment, or a new app replacing
/// the current one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The first app; `can_postpone` where MFA is the user's choice.
    First {
        can_postpone: bool,
    },
    Replacement,
}

/// What the enrollment page shows.
pub(crate) struct Enrollment<'a> {
    pub(crate) purpose: Purpose,
    /// The `otpauth://` URI, for the "open in your app" link on a phone.
    pub(crate) uri: &'a str,
    pub(crate) qr_svg: &'a str,
    pub(crate) secret: &'a str,
    pub(crate) account: &'a str,
    pub(crate) issuer: &'a str,
    pub(crate) expires_in: u64,
}

/// The secret in groups of four, for reading aloud or typing.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn countdown(seconds: u64) -> String {
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

pub(crate) fn enroll(
    e: &Enrollment<'_>,
    error: Option<&str>,
    notice: Option<&str>,
    csrf: &str,
) -> Markup {
    // Where a new QR code comes from when this one runs out.
    let (heading, action, renew_url) = match e.purpose {
        Purpose::First { .. } => (
            "Set up your authenticator app",
            "/mfa/enroll",
            "/mfa/enroll",
        ),
        Purpose::Replacement => (
            "Set up a new authenticator app",
            "/account/mfa/replace",
            "/account/mfa/replace?notice=replacement-expired",
        ),
    };
    let content = html! {
        section.card.enroll {
            h1 { (heading) }
            ol.steps {
                li { "Open an authenticator app on your phone, or install one: Google Authenticator, Microsoft Authenticator, 1Password, Bitwarden, Authy, or your browser's password manager." }
                li { "Scan the QR code. On this phone? " a href=(e.uri) id="open-app" { "Open it in your authenticator app" } "." }
                li { "Enter the 6-digit code the app shows." }
            }
            @if e.purpose == Purpose::Replacement {
                p id="replacement-note" { "Your current app keeps working until you confirm the new one; then it stops." }
            }
            (message(notice))
            div.qr-block {
                button.qr type="button" id="qr" aria-expanded="false" aria-controls="manual" aria-label="QR code: show the key instead" {
                    (PreEscaped(e.qr_svg))
                }
                p.validity id="validity" {
                    "This QR code expires in "
                    strong id="countdown" data-expires-in=(e.expires_in) { (countdown(e.expires_in)) }
                    "."
                }
                // Read out now and then, and 30 seconds before the end.
                p.sr-only id="countdown-announce" aria-live="polite" {}
                div.error id="expired-notice" role="alert" hidden {
                    "This QR code has expired. "
                    a.button href=(renew_url) id="new-code" { "Show a new QR code" }
                }
                button.link type="button" id="show-key" aria-expanded="false" aria-controls="manual" { "Can't scan it? Show the key" }
                dl.manual id="manual" hidden {
                    dt { "Key" }
                    dd {
                        code id="secret" data-key=(e.secret) { (grouped(e.secret)) }
                        button.small.block type="button" id="copy-secret" { "Copy key" }
                    }
                    dt { "Account" } dd id="account" { (e.account) }
                    dt { "Issuer" } dd id="issuer" { (e.issuer) }
                    dt { "Type" } dd { "Time-based, 6 digits, every 30 seconds" }
                }
            }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                label { "6-digit code"
                    input.code type="text" name="code" id="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "code-error")];
                }
                (field_error("code-error", error))
                button type="submit" { "Verify" }
            }
            @if e.purpose == Purpose::Replacement {
                form.aside method="post" action="/account/mfa/replace/cancel" id="cancel" {
                    input type="hidden" name="csrf" value=(csrf);
                    button.link type="submit" { "Cancel and keep the current app" }
                }
            }
            @if e.purpose == (Purpose::First { can_postpone: true }) {
                form.aside method="post" action="/mfa/enroll/cancel" id="postpone" {
                    input type="hidden" name="csrf" value=(csrf);
                    button.link type="submit" { "Not now" }
                    " You can turn it on later under Authentication."
                }
            }
        }
    };
    layout(
        &Frame {
            title: "Set up MFA",
            sign_out: Some(csrf),
        },
        &content,
    )
}

pub(crate) fn expired(csrf: &str) -> Markup {
    let content = html! {
        section.card {
            h1 { "This QR code has expired" }
            p { "For your security a QR code works only for a few minutes. If you already scanned it, remove that entry from your app and scan the new one." }
            a.button href="/mfa/enroll" id="new-code" { "Show a new QR code" }
        }
    };
    layout(
        &Frame {
            title: "QR code expired",
            sign_out: Some(csrf),
        },
        &content,
    )
}

/// Who the recovery codes are for, for the downloaded file.
pub(crate) struct CodesFor<'a> {
    pub(crate) account: &'a str,
    pub(crate) issuer: &'a str,
}

pub(crate) fn recovery_codes(
    codes: &[&str],
    heading: &str,
    owner: &CodesFor<'_>,
    csrf: &str,
) -> Markup {
    let text = codes.join("\n");
    let content = html! {
        section.card {
            h1 { (heading) }
            p { "Keep these recovery codes somewhere safe, away from your phone: each one signs you in once if you lose it, and lets you set up a new app. "
                strong { "They are shown only now." } }
            ol.codes id="recovery-codes" { @for c in codes { li { code { (c) } } } }
            textarea id="codes-text" hidden readonly data-account=(owner.account) data-issuer=(owner.issuer) { (text) }
            div.actions {
                button type="button" id="print-codes" { "Print" }
                button type="button" id="copy-codes" { "Copy" }
                button type="button" id="download-codes" { "Download" }
            }
            form method="get" action="/account" id="saved-form" {
                label.check {
                    input type="checkbox" id="saved" required;
                    " I have saved these codes"
                }
                button.primary type="submit" id="continue" { "Continue to your account" }
            }
        }
    };
    layout(
        &Frame {
            title: "Recovery codes",
            sign_out: Some(csrf),
        },
        &content,
    )
}

/// A reload of the recovery codes page: they were shown once.
pub(crate) fn codes_already_shown(csrf: &str) -> Markup {
    let content = html! {
        section.card {
            h1 { "Your recovery codes were already shown" }
            p { "For your security, recovery codes are shown only once, right after they are made. If you did not save them, make new ones on the Authentication page: the old ones then stop working." }
            a.button href="/account" id="continue" { "Continue to your account" }
            p.aside { a href="/account/authentication" id="regenerate-link" { "Make new recovery codes" } }
        }
    };
    layout(
        &Frame {
            title: "Recovery codes",
            sign_out: Some(csrf),
        },
        &content,
    )
}

/// The code page; `locked_for`: seconds until codes are taken again (the
/// field waits, with a live countdown).
pub(crate) fn challenge(error: Option<&str>, locked_for: Option<u64>, csrf: &str) -> Markup {
    let locked = locked_for.is_some();
    let content = html! {
        section.card {
            h1 { "Enter your code" }
            p { "Open your authenticator app and enter the 6-digit code for Lumen." }
            @if let Some(wait) = locked_for {
                p.lock id="lock" {
                    "You can try again in "
                    strong id="lock-countdown" data-locked-for=(wait) { (countdown(wait)) }
                    ". A recovery code works now."
                }
            }
            form method="post" action="/mfa/challenge" {
                input type="hidden" name="csrf" value=(csrf);
                label { "6-digit code"
                    input.code type="text" name="code" id="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required autofocus[!locked] disabled[locked] aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "code-error")];
                }
                (field_error("code-error", error))
                button type="submit" id="verify" disabled[locked] { "Verify" }
            }
            p.aside { a href="/mfa/recovery" id="use-recovery" { "Use a recovery code instead" } }
        }
    };
    layout(
        &Frame {
            title: "Enter your code",
            sign_out: Some(csrf),
        },
        &content,
    )
}

/// "Confirm it's you" before a new authenticator app is set up: a code from
/// the current app or a recovery code.
pub(crate) fn reverify(error: Option<&str>, csrf: &str) -> Markup {
    let content = html! {
        section.card {
            h1 { "Confirm it's you" }
            p { "To set up a new authenticator app, enter a code from your current app or, if you lost your phone, one of your recovery codes." }
            form method="post" action="/account/mfa/replace/verify" id="reverify" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Code or recovery code"
                    input.code type="text" name="code" id="code" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="40" required autofocus aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "code-error")];
                }
                (field_error("code-error", error))
                button type="submit" { "Continue" }
            }
            p.aside { a href="/account/authentication" { "Cancel" } }
        }
    };
    layout(
        &Frame {
            title: "Confirm it's you",
            sign_out: Some(csrf),
        },
        &content,
    )
}

pub(crate) fn recovery(error: Option<&str>, csrf: &str) -> Markup {
    let content = html! {
        section.card {
            h1 { "Use a recovery code" }
            p { "Enter one of the recovery codes you saved when you set up MFA. Each code works once." }
            form method="post" action="/mfa/recovery" {
                input type="hidden" name="csrf" value=(csrf);
                label { "Recovery code"
                    input.code type="text" name="code" id="code" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="40" required autofocus aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "code-error")];
                }
                (field_error("code-error", error))
                button type="submit" { "Verify" }
            }
            p.aside { a href="/mfa/challenge" { "Use the code from your app" } }
        }
    };
    layout(
        &Frame {
            title: "Recovery code",
            sign_out: Some(csrf),
        },
        &content,
    )
}

/// A code form of the Authentication tab, for the error of a refused code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeForm {
    Regenerate,
    Disable,
}

impl CodeForm {
    /// The form's name in the page and in the query of its refusal.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Regenerate => "regenerate",
            Self::Disable => "disable",
        }
    }

    /// The form a query names.
    pub(crate) fn named(name: &str) -> Option<Self> {
        [Self::Regenerate, Self::Disable]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

/// A tab of Manage My Account.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    Profile,
    Authentication,
}

/// What the account pages show.
pub(crate) struct Account<'a> {
    pub(crate) user: &'a User,
    pub(crate) status: &'a Status,
    pub(crate) now: u64,
}

fn state_text(state: StateKind) -> &'static str {
    match state {
        StateKind::Active => "On",
        StateKind::Requested | StateKind::Pending => "Set-up not finished",
        _ => "Off",
    }
}

/// "in 4 minutes", "in 30 seconds".
pub(crate) fn time_left(seconds: u64) -> String {
    match seconds {
        0 | 1 => "1 second".to_owned(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

pub(crate) fn account(
    a: &Account<'_>,
    tab: Tab,
    error: Option<(CodeForm, &str)>,
    notice: Option<&str>,
    csrf: &str,
) -> Markup {
    let nav = |t: Tab, href: &str, label: &str| {
        html! { a href=(href) class=@if t == tab { "current" } aria-current=[(t == tab).then_some("page")] { (label) } }
    };
    let content = html! {
        div.account {
            nav.side aria-label="Manage My Account" {
                h2 { "Manage My Account" }
                (nav(Tab::Profile, "/account", "Profile"))
                (nav(Tab::Authentication, "/account/authentication", "Authentication"))
            }
            section.card.wide {
                (message(notice))
                @match tab {
                    Tab::Profile => (profile(a)),
                    Tab::Authentication => (authentication(a, error, csrf)),
                }
            }
        }
    };
    let title = match tab {
        Tab::Profile => "My account",
        Tab::Authentication => "Authentication",
    };
    layout(
        &Frame {
            title,
            sign_out: Some(csrf),
        },
        &content,
    )
}

fn profile(a: &Account<'_>) -> Markup {
    html! {
        h1 { "Welcome, " (a.user.name) }
        dl.facts {
            dt { "Email" } dd id="email" { (a.user.email) }
            dt { "Customer" } dd { (a.user.customer.name) }
            dt { "Multi-factor authentication" } dd id="mfa-state" { (state_text(a.status.state)) }
        }
    }
}

/// A labelled field of `form` that takes a code from the app or a recovery
/// code (so no numeric keyboard), its label naming both; the error, if the
/// refused code was this form's, right below it.
fn code_field(form: CodeForm, error: Option<(CodeForm, &str)>) -> Markup {
    let id = format!("{}-code", form.name());
    let error_id = format!("{id}-error");
    let error = error.filter(|(f, _)| *f == form).map(|(_, text)| text);
    html! {
        label for=(id) { "Code from your app, or a recovery code" }
        input.code type="text" name="code" id=(id) autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" maxlength="40" required aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| error_id.as_str())];
        (field_error(&error_id, error))
    }
}

fn authentication(a: &Account<'_>, error: Option<(CodeForm, &str)>, csrf: &str) -> Markup {
    let s = a.status;
    let required = a.user.customer.mfa_required;
    html! {
        h1 { "Authentication" }
        dl.facts {
            dt { "One Time Password using OTP App" } dd id="mfa-state" { (state_text(s.state)) }
            @if required { dt { "Policy" } dd { "Required by " (a.user.customer.name) } }
            @if s.state == StateKind::Active {
                dt { "Recovery codes left" } dd id="codes-left" { (s.recovery_codes_left) }
            }
            @if let Some(until) = s.locked_until.filter(|u| *u > a.now) {
                dt { "Locked" } dd { "for " (time_left(until - a.now)) }
            }
        }
        @match s.state {
            StateKind::Active => {
                h2 { "Authenticator app" }
                p { "New phone, or lost yours? Set up a new app; the current one keeps working until you confirm the new one." }
                a.button href="/account/mfa/replace" id="replace-app" { "Set up a new app" }
                h2 { "Regenerate recovery codes" }
                p { "Your old codes stop working. Enter a current code from your app, or one of your recovery codes." }
                form.inline method="post" action="/account/mfa/recovery-codes" id="regenerate" {
                    input type="hidden" name="csrf" value=(csrf);
                    (code_field(CodeForm::Regenerate, error))
                    button type="submit" { "Regenerate" }
                }
                h2 { "Turn off" }
                @if required {
                    p { "Your organisation requires multi-factor authentication, so it cannot be turned off." }
                } @else {
                    p { "Enter a current code from your app (or a recovery code) to turn multi-factor authentication off." }
                    form.inline method="post" action="/account/mfa/disable" id="disable" {
                        input type="hidden" name="csrf" value=(csrf);
                        (code_field(CodeForm::Disable, error))
                        button.danger type="submit" { "Turn off" }
                    }
                }
            }
            StateKind::Requested | StateKind::Pending => {
                a.button href="/mfa/enroll" id="finish-setup" { "Finish setting up" }
            }
            _ => {
                p { "Protect your account with a 6-digit code from an authenticator app at every sign-in." }
                form method="post" action="/account/mfa/enable" id="enable" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Turn on" }
                }
            }
        }
    }
}

pub(crate) fn error(status: u16, text: &str) -> Markup {
    let content = html! {
        section.card {
            h1 { (status) " · " (text) }
            p { "Go back and try again, or return to the " a href="/" { "start page" } "." }
        }
    };
    layout(
        &Frame {
            title: text,
            sign_out: None,
        },
        &content,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_grouped_by_four() {
        assert_eq!(grouped("JBSWY3DPEHPK3PXP"), "JBSW Y3DP EHPK 3PXP");
        assert_eq!(grouped("ABCDEF"), "ABCD EF");
        assert_eq!(grouped(""), "");
    }

    #[test]
    fn times_read_naturally() {
        assert_eq!(countdown(180), "3:00");
        assert_eq!(countdown(61), "1:01");
        assert_eq!(time_left(30), "30 seconds");
        assert_eq!(time_left(0), "1 second");
        assert_eq!(time_left(900), "15 minutes");
        assert_eq!(time_left(91), "2 minutes");
    }
}
