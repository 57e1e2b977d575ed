// Security: second factor, sessions, sign-ins.
import { el, api, apiUrl, show, state, rerender, t, when, bidi, tableScroll } from "../core.js";

// An SVG document from the server (the QR code), as a node of this page.
function svgNode(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const node = document.importNode(doc.documentElement, true);
  if (node.nodeName.toLowerCase() !== "svg") return null;
  node.setAttribute("class", "qr");
  node.setAttribute("role", "img");
  node.setAttribute("aria-label", t("security.qr_label"));
  return node;
}

function recoveryList(codes) {
  return el("section", { class: "card", id: "recovery-codes" },
    el("h2", {}, t("security.recovery_title")),
    el("p", {}, t("security.recovery_intro")),
    el("ul", { class: "codes", dir: "ltr" }, codes.map((c) => el("li", {}, el("code", {}, c)))),
    el("button", { type: "button", onclick: () => rerender() }, t("security.recovery_kept")));
}

async function factorSection() {
  const f = await api(apiUrl(["me", "second-factor"]));
  const card = el("section", { class: "card", id: "second-factor" }, el("h2", {}, t("security.factor_title")));
  const status = el("p", { class: "error", role: "alert" });
  if (!f.enrolled) {
    card.append(
      f.required
        ? el("p", { class: "warn", id: "factor-required" }, t("security.factor_required"))
        : el("p", { class: "muted" }, t("security.factor_off")),
      el("p", { class: "muted" }, t("security.factor_apps")));
    const startBtn = el("button", { type: "button", id: "factor-start" }, t(f.enrolling ? "security.start_again" : "security.start"));
    const area = el("div", {});
    startBtn.addEventListener("click", async () => {
      status.textContent = "";
      try {
        const e = await api(apiUrl(["me", "second-factor"]), { method: "POST" });
        const qr = e.qr_svg ? svgNode(e.qr_svg) : null;
        const code = el("input", { name: "code", id: "factor-code", autocomplete: "one-time-code", inputmode: "numeric", maxlength: 7, required: true, dir: "ltr" });
        const form = el("form", { id: "factor-confirm" },
          el("label", {}, t("security.code_now"), code),
          el("button", { type: "submit" }, t("security.confirm")));
        form.addEventListener("submit", async (ev) => {
          ev.preventDefault();
          status.textContent = "";
          try {
            const r = await api(apiUrl(["me", "second-factor", "confirm"]), { method: "POST", body: { code: code.value.trim() } });
            state.me = await api(apiUrl(["me"]));
            show(el("h1", {}, t("security.title")), el("p", { class: "ok" }, t("security.factor_now_on")), recoveryList(r.recovery_codes));
          } catch (err) {
            status.textContent = err.message;
          }
        });
        area.replaceChildren(
          el("ol", {},
            el("li", {}, t("security.step_scan"), qr ? el("div", {}, qr) : null),
            el("li", {}, t("security.step_type"), " ", el("code", { id: "factor-secret", dir: "ltr" }, e.secret.replace(/(.{4})/g, "$1 ").trim()),
              " ", t("security.step_kind")),
            el("li", {}, t("security.step_code"))),
          form);
      } catch (err) {
        status.textContent = err.message;
      }
    });
    card.append(el("div", { class: "actions" }, startBtn), area, status);
    return card;
  }
  card.append(el("p", { id: "factor-on" }, t("security.factor_on", { n: f.recovery_codes_left })));
  const renewCode = el("input", { name: "code", autocomplete: "one-time-code", inputmode: "numeric", maxlength: 7, required: true, dir: "ltr" });
  const renew = el("form", { class: "inline", id: "factor-renew" },
    el("label", {}, t("security.current_code"), renewCode), el("button", { type: "submit", class: "secondary" }, t("security.renew")));
  renew.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.textContent = "";
    try {
      const r = await api(apiUrl(["me", "second-factor", "recovery-codes"]), { method: "POST", body: { code: renewCode.value.trim() } });
      show(el("h1", {}, t("security.title")), recoveryList(r.recovery_codes));
    } catch (err) {
      status.textContent = err.message;
    }
  });
  card.append(renew);
  if (f.required) {
    card.append(el("p", { class: "muted" }, t("security.cannot_turn_off")));
  } else {
    const pw = el("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const code = el("input", { name: "code", autocomplete: "one-time-code", required: true, dir: "ltr" });
    const off = el("form", { class: "inline", id: "factor-off" },
      el("label", {}, t("security.password"), pw), el("label", {}, t("security.code_or_recovery"), code),
      el("button", { type: "submit", class: "secondary" }, t("security.turn_off")));
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
    t("security.end_others"));
  endOthers.addEventListener("click", async () => {
    for (const s of others) await end(s.id);
    rerender();
  });
  const head = ["security.col_browser", "security.col_signed_in", "security.col_last_seen", "security.col_ends", "security.col_action"];
  return el("section", { class: "card", id: "sessions" }, el("h2", {}, t("security.sessions_title")),
    tableScroll(t("security.sessions_title"), el("table", {},
      el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { scope: "col" },
        i === 4 ? el("span", { class: "visually-hidden" }, t(h)) : t(h))))),
      el("tbody", {}, sessions.map((s) => el("tr", { "data-session": s.id },
        el("td", {}, s.user_agent ? bidi(s.user_agent) : t("security.unknown_browser")),
        el("td", {}, when(s.created_at)), el("td", {}, when(s.last_seen_at)),
        el("td", {}, when(s.expires_at)),
        el("td", {}, s.current ? el("span", { class: "muted" }, t("security.this_one"))
          : el("button", { type: "button", class: "secondary", onclick: async () => { await end(s.id); rerender(); } }, t("security.sign_out")))))))),
    el("div", { class: "actions" }, endOthers), status);
}

// A sign-in's time: one attempt, or the first and last of merged failures and how many.
function attempts(s) {
  if (s.count <= 1) return when(s.at);
  return el("span", {}, when(s.at), " – ", when(s.last_at), " (", t("security.times", { n: s.count }), ")");
}

async function signInsSection() {
  const { sign_ins } = await api(apiUrl(["me", "sign-ins"], { limit: 20 }));
  const head = ["security.col_when", "security.col_result", "security.col_how", "security.col_from", "security.col_browser"];
  // Outcomes and reasons are the server's words: shown translated where known.
  const word = (prefix, w) => t(prefix + w);
  return el("section", { class: "card", id: "sign-ins" }, el("h2", {}, t("security.sign_ins_title")),
    el("p", { class: "muted" }, t("security.sign_ins_intro")),
    sign_ins.length ? tableScroll(t("security.sign_ins_title"), el("table", {},
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, t(h))))),
      el("tbody", {}, sign_ins.map((s) => el("tr", { class: s.outcome === "failure" ? "failed" : null },
        el("td", {}, attempts(s)),
        el("td", {}, word("security.outcome.", s.outcome)), el("td", {}, word("security.reason.", s.reason)),
        el("td", {}, bidi(s.address)),
        el("td", {}, bidi(s.user_agent)))))))
      : el("p", { class: "muted" }, t("security.none")));
}

export async function securityPage() {
  const parts = [el("h1", {}, t("security.title")), await factorSection()];
  if (!state.me.must_enrol) parts.push(await sessionsSection(), await signInsSection());
  show(parts);
}
