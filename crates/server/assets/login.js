// Log-in page: posts the credentials (and a second-factor code, when given) as JSON, then
// opens the app: its security page first when the account must set up a second factor.
"use strict";
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
    const body = await res.json().catch(() => ({}));
    err.textContent = body.error || ("Log-in failed (" + res.status + ")");
  } catch (e) {
    err.textContent = "The server cannot be reached.";
  }
});
