// Lumen: the enrolment countdown, the click-to-reveal key, copying and
// downloading recovery codes, and the registration's MFA option.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const countdown = document.getElementById("countdown");
  if (countdown) {
    const deadline = Date.now() + Number(countdown.dataset.expiresIn) * 1000;
    const target = countdown.dataset.expiredUrl;
    const tick = () => {
      const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      countdown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      if (left === 0) {
        clearInterval(timer);
        window.location.assign(target);
      }
    };
    const timer = setInterval(tick, 250);
    tick();
  }

  const qr = document.getElementById("qr");
  const manual = document.getElementById("manual");
  if (qr && manual) {
    qr.addEventListener("click", () => {
      manual.hidden = false;
      qr.setAttribute("aria-expanded", "true");
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
  const download = document.getElementById("download-codes");
  if (codes && download) {
    download.addEventListener("click", () => {
      const blob = new Blob([`Lumen recovery codes\n\n${codes.value}\n`], { type: "text/plain" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "lumen-recovery-codes.txt";
      link.click();
      URL.revokeObjectURL(link.href);
    });
  }

  // A multi-factor-required customer: the OTP option is on and stays on.
  const customer = document.getElementById("customer");
  const otp = document.getElementById("otp");
  const hint = document.getElementById("otp-hint");
  if (customer && otp) {
    const follow = () => {
      const option = customer.options[customer.selectedIndex];
      const required = option && option.dataset.mfaRequired === "true";
      if (required) otp.checked = true;
      otp.disabled = required;
      if (hint) hint.hidden = !required;
    };
    customer.addEventListener("change", follow);
    follow();
  }
});
