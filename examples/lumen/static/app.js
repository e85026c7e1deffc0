// Lumen: the enrollment countdown, the lock countdown, the click-to-reveal
// key, copying and downloading recovery codes, and the registration's MFA
// option.
"use strict";

const clock = (left) => `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;

// Counts `seconds` down in `element`, calling `each(left)` on every tick
// and `done()` at zero.
const countDown = (element, seconds, each, done) => {
  const deadline = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    element.textContent = clock(left);
    each(left);
    if (left === 0) {
      clearInterval(timer);
      done();
    }
  };
  const timer = setInterval(tick, 250);
  tick();
};

document.addEventListener("DOMContentLoaded", () => {
  // After a refused form, focus goes to the first field at fault.
  const invalid = document.querySelector("[aria-invalid=true]");
  if (invalid && !invalid.disabled) invalid.focus();

  // The QR code's time: read out politely each minute and 30 seconds
  // before the end; at zero, a new QR code is offered on this page (what
  // was typed stays).
  const countdown = document.getElementById("countdown");
  if (countdown) {
    const validity = document.getElementById("validity");
    const announce = document.getElementById("countdown-announce");
    const expired = document.getElementById("expired-notice");
    let said = "";
    const say = (text) => {
      if (announce && text !== said) {
        announce.textContent = text;
        said = text;
      }
    };
    countDown(countdown, Number(countdown.dataset.expiresIn), (left) => {
      if (left > 0 && left <= 30) {
        validity.classList.add("warning");
        say("Less than 30 seconds left to scan this QR code.");
      } else if (left > 30 && left % 60 === 0) {
        say(`${left / 60} minute${left === 60 ? "" : "s"} left to scan this QR code.`);
      }
    }, () => {
      validity.hidden = true;
      if (expired) expired.hidden = false;
      say("This QR code has expired.");
    });
  }

  // A lock on codes: the field waits, then opens again by itself.
  const lock = document.getElementById("lock-countdown");
  if (lock) {
    countDown(lock, Number(lock.dataset.lockedFor), () => {}, () => {
      document.getElementById("lock").textContent = "You can try again now.";
      for (const id of ["code", "verify"]) {
        const field = document.getElementById(id);
        if (field) field.disabled = false;
      }
      const code = document.getElementById("code");
      if (code) code.focus();
    });
  }

  // "Can't scan?": the QR code and the button both reveal the key.
  const manual = document.getElementById("manual");
  const revealers = ["qr", "show-key"].map((id) => document.getElementById(id)).filter(Boolean);
  if (manual) {
    for (const control of revealers) {
      control.addEventListener("click", () => {
        manual.hidden = false;
        for (const c of revealers) c.setAttribute("aria-expanded", "true");
        // Shown: the "Show the key" button has nothing more to do.
        const button = document.getElementById("show-key");
        if (button) button.hidden = true;
        const key = document.getElementById("secret");
        if (key && control.id === "show-key") key.focus();
      });
    }
  }
  const copyKey = document.getElementById("copy-secret");
  const key = document.getElementById("secret");
  if (copyKey && key) {
    key.tabIndex = -1;
    copyKey.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(key.dataset.key);
        copyKey.textContent = "Copied";
      } catch {
        copyKey.textContent = "Copy failed: type the key instead";
      }
    });
  }

  const codes = document.getElementById("codes-text");
  const copy = document.getElementById("copy-codes");
  if (codes && copy) {
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(codes.value);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Copy failed: select the codes instead";
      }
    });
  }
  // The file names the issuer, the account and the day.
  const download = document.getElementById("download-codes");
  if (codes && download) {
    download.addEventListener("click", () => {
      const day = new Date().toISOString().slice(0, 10);
      const { account, issuer } = codes.dataset;
      const text = `${issuer} recovery codes for ${account}, made ${day}\n\n${codes.value}\n`;
      const blob = new Blob([text], { type: "text/plain" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      const safe = account.replace(/[^A-Za-z0-9._-]+/g, "_");
      link.download = `${issuer.toLowerCase()}-recovery-codes-${safe}-${day}.txt`;
      link.click();
      URL.revokeObjectURL(link.href);
    });
  }
  const print = document.getElementById("print-codes");
  if (print) print.addEventListener("click", () => window.print());
  // "Continue" once the user says the codes are saved.
  const saved = document.getElementById("saved");
  const onward = document.getElementById("continue");
  if (saved && onward) {
    const follow = () => {
      onward.disabled = !saved.checked;
    };
    saved.addEventListener("change", follow);
    follow();
  }

  // A multi-factor-required customer: the OTP option is on and stays on.
  const customer = document.getElementById("customer");
  const otp = document.getElementById("otp");
  const hint = document.getElementById("otp-hint");
  if (customer && otp) {
    // The user's own choice, given back when the customer leaves it to them.
    let chosen = !otp.disabled && otp.checked;
    otp.addEventListener("change", () => {
      if (!otp.disabled) chosen = otp.checked;
    });
    const follow = () => {
      const option = customer.options[customer.selectedIndex];
      const required = option && option.dataset.mfaRequired === "true";
      otp.checked = required || chosen;
      otp.disabled = required;
      if (hint) hint.hidden = !required;
    };
    customer.addEventListener("change", follow);
    follow();
  }
});
