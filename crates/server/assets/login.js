// Log-in page: posts the credentials as JSON, then opens the app.
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
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
      credentials: "same-origin",
    });
    if (res.ok) {
      location.href = "/#/cases";
      return;
    }
    const body = await res.json().catch(() => ({}));
    err.textContent = body.error || ("Log-in failed (" + res.status + ")");
  } catch (e) {
    err.textContent = "The server cannot be reached.";
  }
});
