// Security: second factor, sessions, sign-ins.
import { el, svg, api, apiUrl, show, failure, state, rerender } from "../core.js";


// An SVG document from the server (the QR code), as a node of this page.
function svgNode(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const node = document.importNode(doc.documentElement, true);
  if (node.nodeName.toLowerCase() !== "svg") return null;
  node.setAttribute("class", "qr");
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", "QR code of the key for an authenticator app");
  return node;
}

function recoveryList(codes) {
  return el("section", { class: "card", id: "recovery-codes" },
    el("h2", {}, "Recovery codes"),
    el("p", {}, "Keep these somewhere safe, away from your phone. Each one signs you in once in place of a code. They are shown only now."),
    el("ul", { class: "codes" }, codes.map((c) => el("li", {}, el("code", {}, c)))),
    el("button", { type: "button", onclick: () => rerender() }, "I have kept them"));
}

async function factorSection() {
  const f = await api(apiUrl(["me", "second-factor"]));
  const card = el("section", { class: "card", id: "second-factor" }, el("h2", {}, "Second factor"));
  const status = el("p", { class: "error", role: "alert" });
  if (!f.enrolled) {
    card.append(
      f.required
        ? el("p", { class: "warn", id: "factor-required" }, "Your role requires a second factor. Set it up to continue: until then you can do nothing else.")
        : el("p", { class: "muted" }, "Off. With a second factor, signing in needs a code from an app on your phone as well as your password."),
      el("p", { class: "muted" }, "Use an authenticator app (for example FreeOTP, Aegis or any app that reads TOTP QR codes)."));
    const startBtn = el("button", { type: "button", id: "factor-start" }, f.enrolling ? "Start again" : "Set up");
    const area = el("div", {});
    startBtn.addEventListener("click", async () => {
      status.textContent = "";
      try {
        const e = await api(apiUrl(["me", "second-factor"]), { method: "POST" });
        const qr = e.qr_svg ? svgNode(e.qr_svg) : null;
        const code = el("input", { name: "code", id: "factor-code", autocomplete: "one-time-code", inputmode: "numeric", maxlength: 7, required: true });
        const form = el("form", { id: "factor-confirm" },
          el("label", {}, "The code your app shows now", code),
          el("button", { type: "submit" }, "Confirm"));
        form.addEventListener("submit", async (ev) => {
          ev.preventDefault();
          status.textContent = "";
          try {
            const r = await api(apiUrl(["me", "second-factor", "confirm"]), { method: "POST", body: { code: code.value.trim() } });
            state.me = await api(apiUrl(["me"]));
            show(el("h1", {}, "Security"), el("p", { class: "ok" }, "Second factor on."), recoveryList(r.recovery_codes));
          } catch (err) {
            status.textContent = err.message;
          }
        });
        area.replaceChildren(
          el("ol", {},
            el("li", {}, "Scan this QR code with the app", qr ? el("div", {}, qr) : null),
            el("li", {}, "or type the key: ", el("code", { id: "factor-secret" }, e.secret.replace(/(.{4})/g, "$1 ").trim()),
              " (time-based, 6 digits, 30 seconds)"),
            el("li", {}, "then type the code it shows:")),
          form);
      } catch (err) {
        status.textContent = err.message;
      }
    });
    card.append(el("div", { class: "actions" }, startBtn), area, status);
    return card;
  }
  card.append(el("p", { id: "factor-on" }, "On. " + f.recovery_codes_left + " recovery codes left."));
  const renewCode = el("input", { name: "code", autocomplete: "one-time-code", inputmode: "numeric", maxlength: 7, required: true });
  const renew = el("form", { class: "inline", id: "factor-renew" },
    el("label", {}, "Current code", renewCode), el("button", { type: "submit", class: "secondary" }, "New recovery codes"));
  renew.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.textContent = "";
    try {
      const r = await api(apiUrl(["me", "second-factor", "recovery-codes"]), { method: "POST", body: { code: renewCode.value.trim() } });
      show(el("h1", {}, "Security"), recoveryList(r.recovery_codes));
    } catch (err) {
      status.textContent = err.message;
    }
  });
  card.append(renew);
  if (f.required) {
    card.append(el("p", { class: "muted" }, "Your role requires a second factor: it cannot be turned off. If you lose your phone, use a recovery code, or ask an admin to reset it."));
  } else {
    const pw = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const code = el("input", { name: "code", autocomplete: "one-time-code", required: true });
    const off = el("form", { class: "inline", id: "factor-off" },
      el("label", {}, "Password", pw), el("label", {}, "Code or recovery code", code),
      el("button", { type: "submit", class: "secondary" }, "Turn off"));
    off.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      status.textContent = "";
      try {
        await api(apiUrl(["me", "second-factor"]), { method: "DELETE", body: { password: pw.value, code: code.value.trim() } });
        rerender();
      } catch (err) {
        status.textContent = err.message;
      }
    });
    card.append(off);
  }
  card.append(status);
  return card;
}

async function sessionsSection() {
  const { sessions } = await api(apiUrl(["me", "sessions"]));
  const status = el("p", { class: "error", role: "alert" });
  const end = async (id) => {
    try {
      await api(apiUrl(["me", "sessions", id]), { method: "DELETE" });
    } catch (err) {
      status.textContent = err.message;
    }
  };
  const others = sessions.filter((s) => !s.current);
  const endOthers = el("button", { type: "button", class: "secondary", id: "end-other-sessions", disabled: !others.length },
    "Sign out everywhere else");
  endOthers.addEventListener("click", async () => {
    for (const s of others) await end(s.id);
    rerender();
  });
  return el("section", { class: "card", id: "sessions" }, el("h2", {}, "Where you are signed in"),
    el("table", {}, el("tr", {}, ...["Browser", "Signed in", "Last seen", "Ends", ""].map((h) => el("th", {}, h))),
      sessions.map((s) => el("tr", { "data-session": s.id },
        el("td", {}, s.user_agent || "unknown"), el("td", {}, s.created_at), el("td", {}, s.last_seen_at),
        el("td", {}, s.expires_at),
        el("td", {}, s.current ? el("span", { class: "muted" }, "this one")
          : el("button", { type: "button", class: "secondary", onclick: async () => { await end(s.id); rerender(); } }, "Sign out"))))),
    el("div", { class: "actions" }, endOthers), status);
}

async function signInsSection() {
  const { sign_ins } = await api(apiUrl(["me", "sign-ins"], { limit: 20 }));
  return el("section", { class: "card", id: "sign-ins" }, el("h2", {}, "Recent sign-ins to your account"),
    el("p", { class: "muted" }, "Failed ones too. A failure with a wrong code means someone knew your password: change it."),
    sign_ins.length ? el("table", {}, el("tr", {}, ...["When", "Result", "How", "From", "Browser"].map((h) => el("th", {}, h))),
      sign_ins.map((s) => el("tr", { class: s.outcome === "failure" ? "failed" : null },
        el("td", {}, s.count > 1 ? s.at + " – " + s.last_at + " (" + s.count + "×)" : s.at),
        el("td", {}, s.outcome), el("td", {}, s.reason.replace(/_/g, " ")), el("td", {}, s.address),
        el("td", {}, s.user_agent))))
      : el("p", { class: "muted" }, "None recorded."));
}

export async function securityPage() {
  const parts = [el("h1", {}, "Security"), await factorSection()];
  if (!state.me.must_enrol) parts.push(await sessionsSection(), await signInsSection());
  show(parts);
}
