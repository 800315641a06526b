// Earshot console messages, keyed by id. English is the catalogue's source;
// another language is added as another object with the same ids (a missing
// id falls back to English). {name} in a message is replaced by vars.name.
export const catalogues = {
  en: {
    "app.name": "Earshot",
    "app.skip": "Skip to content",
    "app.pages": "Pages",
    "app.signout": "Sign out",
    "app.error": "Error",
    "app.who": "{user} ({role})",
    "signin.title": "Sign in",
    "signin.intro": "Open the sign-in link your administrator gave you, or paste an API token. It stays in this browser tab only.",
    "signin.token": "API token",
    "signin.submit": "Sign in",
    "signin.failed": "Sign-in failed: {error}",
    "signin.link_invalid": "This sign-in link is not valid any more: it was used, it expired or it was revoked. Ask your administrator for a new one.",
    "nav.engagements": "Engagements",
    "nav.board": "Board",
    "nav.quality": "Quality",
    "nav.topics": "Topics",
    "nav.reports": "Reports",
    "nav.knowledge": "Knowledge",
    "nav.ask": "Ask",
    "nav.forecasts": "Forecasts",
    "nav.schedules": "Schedules",
    "nav.features": "Features",
    "nav.settings": "Feature settings",
    "nav.directory": "Users & queues",
    "nav.articles": "Articles",
    "nav.bots": "Bots",
    "nav.plugins": "Plugins",
    "nav.operations": "Operations",
    "nav.audit": "Audit",
    "title.suffix": "{page} · Earshot",
    "common.not_available": "Not available: {detail}",
    "page.my_engagements": "My engagements",
    "page.engagements": "Engagements",
    "page.engagement": "Engagement {id}",
    "page.board": "Escalation board",
    "board.intro": "Live engagements in your queues, highest risk first; updated every few seconds.",
    "page.knowledge": "Knowledge",
    "page.ask": "Ask anything",
    "page.evaluations": "Evaluations",
    "page.my_evaluations": "My evaluations",
    "page.topics": "Topics",
    "page.reports": "Reports",
    "page.forecasts": "Forecasts",
    "page.schedules": "Schedules",
    "page.schedule": "Schedule {id}",
    "schedule.missing": "No such schedule in your queues.",
    "page.settings_account": "Feature settings · account",
    "page.settings_queue": "Feature settings · queue {queue}",
    "page.features": "Features",
    "page.directory": "Users & queues",
    "page.articles": "Articles",
    "page.bots": "Bots",
    "page.bot": "Bot {id}",
    "page.plugins": "Plugins",
    "page.operations": "Operations",
    "page.audit": "Audit log",
  },
};

let current = catalogues.en;
let locale = "en";

// setLocale picks the catalogue of the user's language (its first
// subtag), English when there is none, and the locale Intl formats with.
export function setLocale(tag) {
  locale = tag || navigator.language || "en";
  current = catalogues[locale.toLowerCase().split("-")[0]] || catalogues.en;
}

// t returns message id with vars filled in.
export function t(id, vars = {}) {
  const m = current[id] ?? catalogues.en[id] ?? id;
  return m.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ""));
}

// Dates and numbers in the user's locale.
export const fmtTime = (s) => new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "medium" }).format(new Date(s));
export const fmtDate = (s) => new Intl.DateTimeFormat(locale, { dateStyle: "short" }).format(new Date(s));
export const fmtNum = (n, d = 2) => new Intl.NumberFormat(locale, { maximumFractionDigits: d }).format(Number(n));

// localise fills the elements of the static page that name a message
// (data-msg: text; data-msg-aria: aria-label).
export function localise(root = document) {
  root.querySelectorAll("[data-msg]").forEach((e) => { e.textContent = t(e.dataset.msg); });
  root.querySelectorAll("[data-msg-aria]").forEach((e) => { e.setAttribute("aria-label", t(e.dataset.msgAria)); });
}
