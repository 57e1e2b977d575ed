// Log-in page: posts the credentials (and a second-factor code, when given) as JSON, then
// opens the app: its security page first when the account must set up a second factor.
// Before anyone signs in, the page is in the language last chosen on this device (the
// switch here changes it), otherwise in the browser's.
import { t, applyLanguage, deviceLanguage, rememberLanguage } from "./js/i18n.js";

const switcher = document.getElementById("lang-switch");
switcher.value = deviceLanguage();
applyLanguage(switcher.value);
switcher.addEventListener("change", () => {
  rememberLanguage(switcher.value);
  applyLanguage(switcher.value);
});

// Why a log-in was refused, in the language shown (the server's `code`, or its status).
function refusal(status, body) {
  if (status === 429) return t("login.too_many");
  if (body.code === "second_factor_required") return t("login.code_required");
  if (body.code === "bad_code") return t("login.bad_code");
  if (status === 401 || body.code === "bad_credentials") return t("login.bad_credentials");
  return t("login.failed", { status: String(status) });
}

document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const err = document.getElementById("error");
  err.textContent = "";
  try {
    const res = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        username: form.username.value,
        password: form.password.value,
        code: form.code.value.trim() || null,
      }),
      credentials: "same-origin",
    });
    if (res.ok) {
      const me = await res.json().catch(() => ({}));
      location.href = me.must_enrol || me.recovery_code_used ? "/#/security" : "/#/cases";
      return;
    }
    err.textContent = refusal(res.status, await res.json().catch(() => ({})));
  } catch (e) {
    err.textContent = t("error.unreachable");
  }
});
