// Earshot web console: a thin client of the HTTP API. The token lives in
// sessionStorage only; every call sends it as a bearer token. Each page is
// listed for the roles that may use it, so no role is shown a dead link.
import { t, setLocale, localise, fmtTime, fmtDate, fmtNum } from "./messages.js";

setLocale(navigator.language);
localise();

const $ = (sel) => document.querySelector(sel);
let me = null;
let stream = null; // AbortController of the page's live work (event stream, polling)

function token() { return sessionStorage.getItem("earshot-token") || ""; }

class APIError extends Error {
  constructor(status, detail, problem) { super(status + ": " + detail); this.status = status; this.detail = detail; this.problem = problem; }
}

// routeCtl is aborted when the page changes: the requests of the page
// left behind end, so that its late answers cannot draw over the new page.
let routeCtl = new AbortController();

async function api(path, opts = {}) {
  const res = await fetch(path, { signal: routeCtl.signal, ...opts, headers: { "Authorization": "Bearer " + token(), "Content-Type": opts.type || "application/json" } });
  if (!res.ok) {
    let detail = res.statusText, problem = null;
    try { problem = await res.json(); detail = problem.detail || detail; } catch (e) { /* not a problem document */ }
    throw new APIError(res.status, detail, problem);
  }
  return res.status === 204 ? null : opts.text ? res.text() : res.json();
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

const fmtMs = (ms) => { const s = Math.max(0, Math.round(ms / 1000)); return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); };

function table(caption, headers, rows, onopen) {
  const tbl = el("table", {}, el("caption", { class: "sr-only" }, caption),
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))));
  const body = el("tbody");
  rows.forEach((r, i) => {
    const cells = r.map((c, j) => el("td", {}, j === 0 && onopen ? el("a", { href: onopen(i) }, c) : c));
    body.append(el("tr", {}, ...cells));
  });
  tbl.append(body);
  // Wide tables scroll on their own on narrow screens (a tablet held
  // upright), so the page itself never scrolls sideways.
  return el("div", { class: "table-wrap" }, tbl);
}

function show(title, ...nodes) {
  if (stream) { stream.abort(); stream = null; }
  const v = $("#view");
  v.replaceChildren(el("h2", { id: "page-title", tabindex: "-1" }, title), ...nodes);
  v.hidden = false;
  document.title = t("title.suffix", { page: title });
  $("#page-title").focus();
}

function status(msg, cls = "muted") { return el("p", { class: cls, role: "status" }, msg); }

// pages lists every page with the roles that may use it.
const pages = {
  engagements: { roles: ["admin", "supervisor", "agent", "analyst"], render: engagements },
  board: { roles: ["admin", "supervisor"], render: board },
  quality: { roles: ["admin", "supervisor", "agent", "analyst"], render: quality },
  topics: { roles: ["admin", "supervisor", "analyst"], render: topicsPage },
  reports: { roles: ["admin", "supervisor", "analyst"], render: reports },
  knowledge: { roles: ["admin", "supervisor", "agent", "analyst"], render: knowledge },
  ask: { roles: ["admin", "supervisor", "analyst"], render: ask },
  forecasts: { roles: ["admin", "supervisor", "analyst"], render: forecasts },
  schedules: { roles: ["admin", "supervisor", "analyst"], render: schedules },
  features: { roles: ["admin", "supervisor", "agent", "analyst"], render: features },
  settings: { roles: ["admin"], render: featureSettings },
  directory: { roles: ["admin"], render: directory },
  articles: { roles: ["admin"], render: articles },
  bots: { roles: ["admin"], render: bots },
  plugins: { roles: ["admin"], render: pluginsPage },
  operations: { roles: ["admin"], render: operations },
  audit: { roles: ["admin", "auditor"], render: audit },
};
const allowed = (name) => me && pages[name] && pages[name].roles.includes(me.role);

async function signIn(tok) {
  sessionStorage.setItem("earshot-token", tok);
  try {
    me = (await api("/api/v1/whoami")).user;
  } catch (e) {
    sessionStorage.removeItem("earshot-token");
    $("#login-error").textContent = t("signin.failed", { error: e.message });
    return;
  }
  $("#login").hidden = true;
  $("#logout").hidden = false;
  $("#who").textContent = t("app.who", { user: me.id, role: me.role });
  const nav = $("#nav");
  nav.replaceChildren(...Object.entries(pages).filter(([n]) => allowed(n)).map(([n, p]) => el("a", { href: "#" + n }, t("nav." + n))));
  nav.hidden = false;
  route();
}

function route() {
  if (!me) return;
  const first = Object.keys(pages).find(allowed);
  let [name, arg, arg2] = (location.hash.slice(1) || first).split("/");
  if (!allowed(name)) name = first;
  document.querySelectorAll("#nav a").forEach((a) => {
    const on = a.getAttribute("href") === "#" + name;
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  routeCtl.abort();
  routeCtl = new AbortController();
  const mine = routeCtl;
  pages[name].render(arg, arg2).catch((e) => { if (!mine.signal.aborted) show(t("app.error"), status(e.message, "error")); });
}

// ---- engagements -------------------------------------------------------

async function engagements(id, seq) {
  if (id) return engagement(id, seq);
  const list = await api("/api/v1/engagements?limit=200");
  list.reverse();
  show(t(me.role === "agent" ? "page.my_engagements" : "page.engagements"),
    list.length === 0 ? status(t("eng.no_engagements_in_your_scope")) :
      table(t("eng.engagements_newest_first"), [t("eng.started"), t("eng.queue"), t("eng.agent"), t("eng.channel"), t("eng.status")],
        list.map((e) => [fmtTime(e.start), e.queue, e.agent || "–", e.channel, e.status]),
        (i) => "#engagements/" + list[i].id));
}

// textFor returns the text of a segment in the reader's language, and the
// original when it differs.
function textFor(seg) {
  const mine = (me.language || "").toLowerCase();
  const tr = (seg.translations || []).find((x) => x.lang === mine && !x.notice);
  return tr ? { text: tr.text, original: seg.text } : { text: seg.text, original: null };
}

function utterance(seg, partial) {
  const tx = textFor(seg);
  const row = el("div", { class: "utt " + seg.speaker + (partial ? " partial" : ""), "data-seq": partial ? null : String(seg.seq) },
    el("span", { class: "at" }, fmtMs(seg.start_ms || 0)), el("span", { class: "who" }, seg.speaker), el("span", { class: "text" }, tx.text));
  if (tx.original) {
    const orig = el("span", { class: "original", hidden: true, lang: seg.lang || null }, tx.original);
    row.append(" ", el("button", { class: "link", type: "button", "aria-expanded": "false", onclick: (ev) => {
      orig.hidden = !orig.hidden; ev.target.setAttribute("aria-expanded", String(!orig.hidden));
    } }, t("eng.original")), orig);
  }
  return row;
}

// Assist panel: one card per kind, updated as events arrive.
function assistPanel(e) {
  const root = el("div", { class: "assist", "aria-live": "polite" });
  const slots = {};
  const slot = (kind, title) => {
    if (!slots[kind]) { slots[kind] = el("div", { class: "card " + kind }, el("h4", {}, title), el("div", { class: "body" })); root.append(slots[kind]); }
    return slots[kind].querySelector(".body");
  };
  return {
    root,
    on(type, d) {
      switch (type) {
        case "sentiment": {
          const b = slot("sentiment", t("assist.sentiment"));
          b.replaceChildren(el("span", { class: "pill " + d.sentiment.label }, d.sentiment.label), " ",
            el("span", { class: "muted" }, t("assist.sentiment_trend", { party: d.party, trend: fmtNum(d.trend) })));
          break;
        }
        case "next_best_action": {
          const b = slot("nba", t("assist.next_best_action"));
          b.replaceChildren(...(d.actions || []).map((a) => el("div", { class: "action" },
            el("strong", {}, a.action), " ", el("span", { class: "muted" }, a.intent + " · " + fmtNum(a.confidence * 100, 0) + "%"),
            a.skill && me.role !== "analyst" ? el("button", { type: "button", onclick: () => runSkill(e, a.skill, b) }, t("assist.run_skill", { skill: a.skill })) : null)));
          break;
        }
        case "next_best_action.wording":
          slot("nba", t("assist.next_best_action")).append(el("p", { class: "wording" }, d.wording || d.text || ""));
          break;
        case "kb.suggestions": {
          const b = slot("kb", t("assist.knowledge"));
          for (const s of d.suggestions || []) {
            b.prepend(el("div", { class: "suggestion" }, el("a", { href: "#knowledge/" + encodeURIComponent(s.article_id) }, s.title),
              el("blockquote", {}, s.text)));
          }
          break;
        }
        case "escalation": {
          const b = slot("escalation", t("assist.escalation_risk"));
          b.replaceChildren(el("span", { class: "pill risk-" + d.risk.level }, d.risk.level), " ", fmtNum(d.risk.score),
            el("ul", {}, ...(d.risk.reasons || []).map((r) => el("li", {}, r.text || r.code))));
          break;
        }
        case "info.cards": {
          const b = slot("info", t("assist.customer_information"));
          b.replaceChildren(...(d.cards || []).map((c) => el("div", {}, el("strong", {}, c.title || ""), " ", c.text || c.body || "")));
          break;
        }
        case "chat.language":
          slot("language", t("assist.customer_language")).replaceChildren(d.language + " (" + d.source + ")");
          break;
        case "action.result":
          slot("nba", t("assist.next_best_action")).append(el("p", { class: "muted" }, d.skill + ": " + (d.message || t("assist.done"))));
          break;
      }
    },
  };
}

async function runSkill(e, skill, where) {
  const [plugin, name] = skill.includes("/") ? skill.split("/") : ["", skill];
  try {
    const r = await api("/api/v1/engagements/" + e.id + "/actions", { method: "POST", body: JSON.stringify({ plugin, skill: name, input: {} }) });
    where.append(el("p", { class: "muted", role: "status" }, (r.message || t("assist.done"))));
  } catch (err) { where.append(status(err.message, "error")); }
}

// jumpTo shows the transcript line seq (the evidence a link cites):
// scrolled into view, marked and focused for keyboard and screen readers.
function jumpTo(transcript, seq) {
  const line = transcript.querySelector(`.utt[data-seq="${CSS.escape(String(seq))}"]`);
  if (!line) return;
  transcript.querySelectorAll(".utt.hit").forEach((u) => u.classList.remove("hit"));
  line.classList.add("hit");
  line.setAttribute("tabindex", "-1");
  line.scrollIntoView({ block: "center" });
  line.focus();
}

async function engagement(id, seq) {
  const e = await api("/api/v1/engagements/" + id);
  const transcript = el("div", { class: "transcript", role: "log", "aria-label": t("eng.transcript") });
  const partial = el("div", { class: "partial-line" });
  const assist = assistPanel(e);
  const wrap = el("div", { class: "wrapup" });
  const meta = (st) => t("eng.meta", { channel: e.channel, queue: e.queue, agent: e.agent || "–", status: st }) + (e.customer_ref ? t("eng.meta_customer", { customer: e.customer_ref }) : "");
  const metaLine = el("p", { class: "muted" }, meta(e.status));
  show(t("page.engagement", { id: id.slice(0, 8) }), metaLine,
    el("div", { class: "grid" },
      el("section", { "aria-labelledby": "h-tr" }, el("h3", { id: "h-tr" }, t("eng.transcript")), transcript, partial),
      el("section", { "aria-labelledby": "h-as" }, el("h3", { id: "h-as" }, t("eng.assist")), assist.root, wrap)));
  if (e.status !== "live" || me.role === "analyst") {
    const tr = await api("/api/v1/engagements/" + id + "/transcript");
    tr.segments.forEach((s) => transcript.append(utterance(s)));
    await results(e, wrap);
    if (seq !== undefined) jumpTo(transcript, seq);
    return;
  }
  // Server-sent events through fetch, so that the token travels in a header.
  stream = new AbortController();
  const signal = stream.signal;
  const res = await fetch("/api/v1/engagements/" + id + "/events", { headers: { "Authorization": "Bearer " + token() }, signal });
  if (!res.ok) throw new APIError(res.status, res.statusText);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ done: true }));
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i); buf = buf.slice(i + 2);
      let type = "", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) type = line.slice(7);
        if (line.startsWith("data: ")) data = line.slice(6);
      }
      if (!type || !data) continue;
      const d = JSON.parse(data);
      if (type === "transcript.final") { partial.replaceChildren(); transcript.append(utterance(d)); }
      else if (type === "transcript.partial") partial.replaceChildren(utterance(d, true));
      else if (type === "results.ready") await results(e, wrap);
      else if (type === "engagement.ended") { metaLine.textContent = meta(t("eng.ended")); wrap.replaceChildren(status(t("eng.the_engagement_ended_results_follow"))); }
      else assist.on(type, d);
    }
  }
}

// results shows the post-engagement results and, for the staff who wrap
// up, the wrap-up form pre-filled from them.
async function results(e, where) {
  let r;
  try { r = (await api("/api/v1/engagements/" + e.id + "/results")).results || {}; } catch (err) { where.replaceChildren(status(err.message, "error")); return; }
  const sum = r.engagement_summary, notes = r.notes || r.smart_notes || {}, disp = r.disposition || r.recommended_disposition || {};
  const tasks = r.follow_up_tasks || [];
  const out = [el("h3", {}, t("results.results"))];
  if (sum) out.push(el("div", { class: "card" }, el("h4", {}, t("results.summary")), el("p", { class: "summary" }, sum.text)));
  if (tasks.length) out.push(el("div", { class: "card" }, el("h4", {}, t("results.follow_up_tasks")), el("ul", {}, ...tasks.map((k) => el("li", {}, k.text + (k.due ? " (" + k.due + ")" : ""))))));
  if (r.interaction_analytics) out.push(analyticsCard(e, r.interaction_analytics));
  if (["admin", "supervisor", "agent"].includes(me.role)) {
    const field = (name, label, value, multi) => el("p", {}, el("label", { for: "wu-" + name }, label),
      multi ? el("textarea", { id: "wu-" + name, name, rows: "2" }, value || "") : el("input", { id: "wu-" + name, name, value: value || "" }));
    const msg = el("p", { role: "status", class: "muted" });
    const form = el("form", { class: "wrapup-form", "aria-labelledby": "h-wu" }, el("h4", { id: "h-wu" }, t("results.wrap_up")),
      field("reason", t("results.reason"), notes.reason, true), field("actions", t("results.actions"), notes.actions, true), field("outcome", t("results.outcome"), notes.outcome, true),
      field("disposition", t("results.disposition_code"), disp.code), el("button", { type: "submit" }, t("results.save_wrap_up")), msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      try {
        await api("/api/v1/engagements/" + e.id + "/notes", { method: "PUT", body: JSON.stringify({ reason: f.get("reason"), actions: f.get("actions"), outcome: f.get("outcome"), follow_ups: notes.follow_ups || [] }) });
        if (f.get("disposition")) await api("/api/v1/engagements/" + e.id + "/disposition", { method: "PUT", body: JSON.stringify({ code: f.get("disposition") }) });
        msg.className = "ok"; msg.textContent = t("results.saved");
      } catch (err) { msg.className = "error"; msg.textContent = err.message; }
    });
    out.push(form);
  }
  where.replaceChildren(...out);
}

// ---- supervisor board --------------------------------------------------

async function board() {
  const list = el("div");
  show(t("page.board"), status(t("board.intro")), list);
  const ctl = new AbortController();
  stream = ctl;
  for (;;) {
    try {
      const rows = await api("/api/v1/escalations");
      list.replaceChildren(rows.length === 0 ? status(t("board.no_live_engagement_needs_attention")) :
        table(t("board.live_engagements_by_escalation_risk"), [t("board.engagement"), t("board.risk"), t("board.score"), t("board.queue"), t("board.agent"), t("board.reasons")],
          rows.map((v) => [v.engagement.slice(0, 8), el("span", { class: "pill risk-" + v.level }, v.level), fmtNum(v.score), v.queue, v.agent || "–",
            (v.reasons || []).map((r) => r.text || r.code).join("; ")]),
          (i) => "#engagements/" + rows[i].engagement));
    } catch (err) {
      list.replaceChildren(status(err.status === 403 ? t("common.not_available", { detail: err.detail }) : err.message, "error"));
      return;
    }
    await new Promise((res) => { const tm = setTimeout(res, 3000); ctl.signal.addEventListener("abort", () => { clearTimeout(tm); res(); }); });
    if (ctl.signal.aborted) return;
  }
}

// ---- knowledge and ask-anything ---------------------------------------

async function knowledge(id) {
  if (id) {
    const a = await api("/api/v1/kb/articles/" + encodeURIComponent(decodeURIComponent(id)));
    show(a.title, el("p", { class: "muted" }, (a.queue ? t("kb.article_queue", { queue: a.queue }) : "") + t("kb.article_updated", { time: fmtTime(a.updated) })), el("div", { class: "article" }, a.body));
    return;
  }
  const results = el("div", { "aria-live": "polite" });
  const form = el("form", { role: "search" }, el("label", { for: "kb-q" }, t("kb.search_the_knowledge_base")), " ",
    el("input", { id: "kb-q", name: "q", type: "search", required: true }), " ", el("button", { type: "submit" }, t("kb.search")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const hits = await api("/api/v1/kb/search?q=" + encodeURIComponent(new FormData(form).get("q")));
      results.replaceChildren(hits.length === 0 ? status(t("kb.nothing_found")) : el("ol", {}, ...hits.map((h) => el("li", {},
        el("a", { href: "#knowledge/" + encodeURIComponent(h.passage.article_id) }, h.passage.title), el("blockquote", {}, h.passage.text)))));
    } catch (err) { results.replaceChildren(status(err.message, "error")); }
  });
  show(t("page.knowledge"), form, results);
}

async function ask() {
  const out = el("div", { "aria-live": "polite" });
  const form = el("form", {}, el("p", {}, el("label", { for: "ask-q" }, t("ask.question_about_your_engagements")), el("textarea", { id: "ask-q", name: "question", rows: "2", required: true })),
    el("p", {}, el("label", { for: "ask-queue" }, t("ask.queue")), " ", el("select", { id: "ask-queue", name: "queue" }, ...(me.queues || []).map((q) => el("option", { value: q }, q)))),
    el("button", { type: "submit" }, t("ask.ask")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    try {
      const a = await api("/api/v1/ask", { method: "POST", body: JSON.stringify({ question: f.get("question"), queue: f.get("queue") || undefined }) });
      out.replaceChildren(el("p", {}, a.answer || ""), el("ol", {}, ...(a.citations || []).map((c) => el("li", {},
        el("a", { href: "#engagements/" + c.engagement }, c.engagement.slice(0, 8) + (c.start_ms !== undefined ? " @ " + fmtMs(c.start_ms) : "")), " ", c.text || ""))));
    } catch (err) { out.replaceChildren(status(err.status === 403 ? t("common.not_available", { detail: err.detail }) : err.message, "error")); }
  });
  show(t("page.ask"), form, out);
}

// ---- quality -----------------------------------------------------------

const lineLink = (eng, seq, ms, text) => el("a", { href: "#engagements/" + eng + "/" + seq, class: "evidence" }, fmtMs(ms || 0) + " · " + (text || t("qa.evidence_line")));

// sparkline draws values (0..1 or -1..1 when signed) as a small line.
function sparkline(values, label, signed) {
  const W = 240, H = 48;
  if (values.length === 0) return el("span", { class: "muted" }, "–");
  const y = (v) => signed ? H / 2 - (H / 2 - 3) * v : H - 3 - (H - 6) * v;
  const x = (i) => values.length === 1 ? W / 2 : 3 + (W - 6) * i / (values.length - 1);
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "spark", role: "img", "aria-label": label },
    signed ? svg("line", { x1: 0, x2: W, y1: H / 2, y2: H / 2, class: "grid" }) : "",
    svg("polyline", { points: values.map((v, i) => x(i) + "," + y(v)).join(" "), class: "value" }));
}

// analyticsCard shows an ended engagement's interaction analytics: the
// callouts link to the transcript line they are about.
function analyticsCard(e, a) {
  const trend = (a.sentiment_trend || []).filter((p) => p.party === "customer");
  const parts = [el("h4", {}, t("analytics.interaction_analytics"))];
  if (a.summary && a.summary.text) parts.push(el("p", {}, a.summary.text));
  if (trend.length) parts.push(el("p", {}, t("analytics.customer_sentiment"), sparkline(trend.map((p) => p.sentiment),
    t("analytics.sentiment_label", { from: fmtNum(trend[0].sentiment), to: fmtNum(trend[trend.length - 1].sentiment) }), true)));
  if ((a.callouts || []).length) {
    parts.push(el("p", {}, el("strong", {}, t("analytics.callouts"))), el("ul", { class: "callouts" }, ...a.callouts.map((c) => el("li", {},
      el("span", { class: "pill" }, c.type.replaceAll("_", " ")), " ", lineLink(e.id, c.seq, c.at_ms, c.reason)))));
  }
  if ((a.topics || []).length) parts.push(el("p", {}, t("analytics.topics", { topics: a.topics.map((x) => x.label || x.name || x.topic).join(", ") })));
  const m = a.metrics;
  if (m && m.parties) {
    const ag = m.parties.agent || {}, cu = m.parties.customer || {};
    parts.push(el("p", { class: "muted" }, t("analytics.talk", { agent: fmtNum((ag.talk_ratio || 0) * 100, 0), customer: fmtNum((cu.talk_ratio || 0) * 100, 0), interruptions: (m.interruptions || []).length })));
  }
  return el("div", { class: "card analytics" }, ...parts);
}

const qaRole = () => ["admin", "supervisor", "analyst"].includes(me.role);
// statusName names an evaluation's status (an API value) in the reader's language.
const statusName = (st) => ({ auto: t("qa.status_auto"), reviewed: t("qa.status_reviewed"), disputed: t("qa.status_disputed"), acknowledged: t("qa.status_acknowledged") })[st] || st;
const statusPill = (st) => el("span", { class: "pill status-" + st }, statusName(st));

async function quality(id) {
  if (id) return evaluation(decodeURIComponent(id));
  const filter = el("select", { id: "ev-status", onchange: () => load() },
    ...[["", t("qa.any_status")], ["auto", t("qa.not_reviewed")], ...["reviewed", "disputed", "acknowledged"].map((v) => [v, statusName(v)])].map(([v, l]) => el("option", { value: v }, l)));
  const body = el("div", { "aria-live": "polite" });
  async function load() {
    const list = await api("/api/v1/evaluations" + (filter.value ? "?status=" + filter.value : ""));
    body.replaceChildren(list.length === 0 ? status(t("qa.no_evaluations")) :
      table(t("qa.evaluations_newest_first"), [t("qa.engagement"), t("qa.agent"), t("qa.queue"), t("qa.scorecard"), t("qa.score"), t("qa.status")],
        list.map((v) => [fmtTime(v.engagement_start), v.agent || "–", v.queue, t("qa.scorecard_version", { name: v.scorecard, version: v.scorecard_version }),
          t(v.auto_failed ? "qa.score_auto_fail" : v.passed ? "qa.score_pass" : "qa.score_fail", { score: fmtNum(v.score, 0) }), statusPill(v.status)]),
        (i) => "#quality/" + encodeURIComponent(list[i].id)));
  }
  show(t(qaRole() ? "page.evaluations" : "page.my_evaluations"), el("p", {}, el("label", { for: "ev-status" }, t("qa.status")), filter), body);
  await load();
}

// evaluation shows one evaluation question by question, with the evidence
// linking to the transcript; evaluators review it, the agent acknowledges
// or disputes it.
async function evaluation(id, note) {
  const ev = await api("/api/v1/evaluations/" + encodeURIComponent(id));
  const sc = await api("/api/v1/scorecards/" + encodeURIComponent(ev.scorecard) + "?version=" + ev.scorecard_version);
  const answers = Object.fromEntries(ev.answers.map((a) => [a.question, a]));
  const msg = el("p", { role: "status", class: note ? "ok" : "muted", id: "ev-msg" }, note || "");
  const fail = (err) => { msg.className = "error"; msg.textContent = err.message; };
  const review = qaRole() && ev.status !== "acknowledged";
  const sections = sc.sections.map((sec) => el("section", { class: "qm-section", "aria-label": sec.name }, el("h3", {}, sec.name),
    ...sec.questions.map((q) => {
      const a = answers[q.id] || { value: "", evidence: [] };
      const row = el("div", { class: "question" },
        el("p", {}, el("strong", { id: "q-" + q.id }, q.text), " ", el("span", { class: "pill answer" }, a.value || t("qa.unanswered")),
          a.auto && a.auto !== a.value ? el("span", { class: "muted" }, t("qa.automatic", { value: a.auto })) : "",
          el("span", { class: "muted" }, " · " + (a.engine || "") + (q.auto_fail ? t("qa.auto_fail_question") : ""))),
        a.justification ? el("p", { class: "muted" }, a.justification) : "",
        (a.evidence || []).length ? el("ul", { class: "evidence-list", "aria-label": t("qa.evidence") }, ...a.evidence.map((x) => el("li", {}, lineLink(ev.engagement, x.seq, x.start_ms, x.quote)))) : "",
        a.review ? el("p", { class: "muted" }, t("qa.review_line", { action: a.review.action, by: a.review.by, at: fmtTime(a.review.at) }) + (a.review.comment ? ": " + a.review.comment : "")) : "");
      if (review) {
        const values = q.type === "scale_1_5" ? ["1", "2", "3", "4", "5"] : ["yes", "no"];
        if (q.allow_na) values.push("na");
        row.append(el("div", { class: "review-row" },
          el("span", {}, el("label", { for: "rv-" + q.id }, t("qa.review")), el("select", { id: "rv-" + q.id, name: "rv-" + q.id, "aria-describedby": "q-" + q.id },
            el("option", { value: "" }, t("qa.leave_as_is")), el("option", { value: "accept" }, t("qa.accept")),
            ...values.filter((v) => v !== a.value).map((v) => el("option", { value: "override:" + v }, t("qa.override", { value: v }))))),
          el("span", {}, el("label", { for: "rc-" + q.id }, t("qa.comment")), el("input", { id: "rc-" + q.id, name: "rc-" + q.id, "aria-describedby": "q-" + q.id }))));
      }
      return row;
    })));
  const actions = [];
  if (review) {
    const form = el("form", { id: "review-form" }, ...sections,
      el("p", {}, el("label", { for: "rv-comment" }, t("qa.overall_comment")), el("input", { id: "rv-comment", name: "comment" })),
      el("button", { type: "submit" }, t("qa.save_review")));
    form.addEventListener("submit", async (ev2) => {
      ev2.preventDefault();
      const f = new FormData(form);
      const items = [];
      for (const sec of sc.sections) for (const q of sec.questions) {
        const v = f.get("rv-" + q.id);
        if (!v) continue;
        const [action, value] = v.split(":");
        items.push({ question: q.id, action, value, comment: f.get("rc-" + q.id) || undefined });
      }
      try {
        await api("/api/v1/evaluations/" + encodeURIComponent(id) + "/review", { method: "POST", body: JSON.stringify({ items, comment: f.get("comment") || undefined }) });
        await evaluation(id, t("qa.review_saved"));
      } catch (err) { fail(err); }
    });
    actions.push(form);
  } else actions.push(...sections);
  if (me.role === "agent" && (ev.status === "auto" || ev.status === "reviewed")) {
    const dispute = el("form", { id: "dispute-form", "aria-labelledby": "h-dispute" }, el("h3", { id: "h-dispute" }, t("qa.acknowledge_or_dispute")),
      el("p", {}, el("button", { type: "button", id: "ack", onclick: async () => {
        try { await api("/api/v1/evaluations/" + encodeURIComponent(id) + "/acknowledge", { method: "POST" }); await evaluation(id, t("qa.acknowledged")); } catch (err) { fail(err); }
      } }, t("qa.acknowledge"))),
      el("p", {}, el("label", { for: "dispute-comment" }, t("qa.what_you_disagree_with")), el("textarea", { id: "dispute-comment", name: "comment", rows: "2", required: true })),
      el("button", { type: "submit" }, t("qa.dispute")));
    dispute.addEventListener("submit", async (e2) => {
      e2.preventDefault();
      try {
        await api("/api/v1/evaluations/" + encodeURIComponent(id) + "/dispute", { method: "POST", body: JSON.stringify({ comment: new FormData(dispute).get("comment") }) });
        await evaluation(id, t("qa.disputed_an_evaluator_will_review"));
      } catch (err) { fail(err); }
    });
    actions.push(dispute);
  }
  show(sc.name + " · " + fmtTime(ev.engagement_start),
    el("p", {}, statusPill(ev.status), t("qa.score_line", { score: fmtNum(ev.score, 0), pass: fmtNum(sc.pass_score, 0) }), t(ev.auto_failed ? "qa.auto_failed" : ev.passed ? "qa.passed" : "qa.failed"),
      t("qa.agent_queue", { agent: ev.agent || "–", queue: ev.queue }), el("a", { href: "#engagements/" + ev.engagement }, t("qa.open_the_engagement"))),
    msg, ...actions,
    el("h3", {}, t("qa.history")), el("ol", { class: "history" }, ...(ev.history || []).map((h) => el("li", {}, t("qa.history_line", { at: fmtTime(h.at), action: h.action, by: h.by }) + (h.comment ? ": " + h.comment : "")))));
}

async function topicsPage() {
  const body = el("div", { "aria-live": "polite" });
  const msg = el("p", { role: "status", class: "muted" });
  const discover = el("button", { type: "button", onclick: async () => {
    msg.className = "muted"; msg.textContent = t("topics.discovering_topics");
    try { await api("/api/v1/topics/discover", { method: "POST", body: "{}" }); msg.className = "ok"; msg.textContent = t("topics.topics_discovered"); await load(); } catch (err) { msg.className = "error"; msg.textContent = err.message; }
  } }, t("topics.discover_topics_now"));
  async function load() {
    const tp = await api("/api/v1/topics");
    if (!tp.model) { body.replaceChildren(status(t("topics.no_topics_discovered_yet_for"))); return; }
    const days = [];
    for (let d = new Date(tp.from); d < new Date(tp.to); d.setUTCDate(d.getUTCDate() + 1)) days.push(d.toISOString().slice(0, 10));
    const peak = Math.max(1, ...tp.topics.flatMap((x) => Object.values(x.per_day)));
    body.replaceChildren(el("p", { class: "muted" }, t("topics.meta", { queues: tp.queues.join(", "), from: fmtTime(tp.from), to: fmtTime(tp.to), discovered: fmtTime(tp.created_at) })),
      table(t("topics.topics_most_engagements_first"), [t("topics.topic"), t("topics.keywords"), t("topics.engagements"), t("topics.previous_period"), t("topics.trend"), t("topics.per_day")],
        tp.topics.map((x) => [x.label, x.keywords.slice(0, 6).join(", "), fmtNum(x.engagements, 0), fmtNum(x.previous, 0), el("span", { class: "pill trend-" + x.trend }, x.trend),
          sparkline(days.map((d) => (x.per_day[d] || 0) / peak), t("topics.per_day_label", { topic: x.label, counts: days.map((d) => x.per_day[d] || 0).join(", ") }))])));
  }
  show(t("page.topics"), el("p", {}, discover), msg, body);
  await load();
}

// barChart draws one bar per row with its value written beside it.
function barChart(rows, label, value, fmt, top) {
  const W = 640, bar = 22, L = 140, H = rows.length * (bar + 6) + 6;
  const max = top || Math.max(1, ...rows.map(value));
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart bars", role: "img", "aria-label": label + ": " + rows.map((r) => r.group + " " + fmt(value(r))).join(", ") },
    ...rows.flatMap((r, i) => {
      const y = 6 + i * (bar + 6), w = (W - L - 70) * value(r) / max;
      return [svg("text", { x: L - 6, y: y + bar * 0.7, "text-anchor": "end" }, r.group), svg("rect", { x: L, y, width: Math.max(1, w), height: bar, class: "bar" }),
        svg("text", { x: L + w + 6, y: y + bar * 0.7 }, fmt(value(r)))];
    }));
}

async function reports(by) {
  by = by || "queue";
  const groups = { queue: t("reports.by_queue"), agent: t("reports.by_agent"), day: t("reports.by_day"), week: t("reports.by_week"), month: t("reports.by_month") };
  const byName = groups[by] || by;
  const pick = el("select", { id: "rp-by", onchange: (ev) => { location.hash = "reports/" + ev.target.value; } },
    ...Object.entries(groups).map(([g, l]) => el("option", { value: g, selected: g === by }, l)));
  const [eng, scores] = await Promise.all([api("/api/v1/reports/engagements?group_by=" + by), api("/api/v1/reports/scores?group_by=" + by)]);
  const er = eng.rows || [], sr = scores.rows || [];
  show(t("page.reports"), el("p", {}, el("label", { for: "rp-by" }, t("reports.group_by")), pick),
    el("h3", {}, t("reports.engagements")),
    er.length ? barChart(er, t("reports.engagements_per", { by: byName }), (r) => r.engagements, (v) => fmtNum(v, 0)) : status(t("reports.no_ended_engagements_in_your")),
    er.length ? table(t("reports.engagement_figures_per", { by: byName }), [byName, t("reports.engagements"), t("reports.voice"), t("reports.chat"), t("reports.mean_handle"), t("reports.agent_talk"), t("reports.interruptions"), t("reports.escalations"), t("reports.mean_qm_score")],
      er.map((r) => [r.group, fmtNum(r.engagements, 0), fmtNum(r.voice, 0), fmtNum(r.chat, 0), fmtMs(r.mean_handle_ms), fmtNum(r.agent_talk_ratio * 100, 0) + " %",
        fmtNum(r.interruptions, 0), fmtNum(r.escalations, 0), r.mean_qm_score == null ? "–" : fmtNum(r.mean_qm_score, 0)])) : "",
    el("h3", {}, t("reports.quality_scores")),
    sr.length ? barChart(sr, t("reports.mean_qm_score_per", { by: byName }), (r) => r.mean_score || 0, (v) => fmtNum(v, 0), 100) : status(t("reports.no_evaluations_in_your_scope")),
    sr.length ? table(t("reports.quality_scores_per", { by: byName }), [byName, t("reports.evaluations"), t("reports.mean_score"), t("reports.pass_rate"), t("reports.auto_failed"), t("reports.reviewed"), t("reports.disputed"), t("reports.acknowledged")],
      sr.map((r) => [r.group, fmtNum(r.evaluations, 0), r.mean_score == null ? "–" : fmtNum(r.mean_score, 0), fmtNum(r.pass_rate * 100, 0) + " %",
        fmtNum(r.auto_failed, 0), fmtNum(r.reviewed, 0), fmtNum(r.disputed, 0), fmtNum(r.acknowledged, 0)])) : "");
}

// ---- workforce ---------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

// forecastChart draws the forecast volume with its 80 % and 95 % bands.
function forecastChart(f) {
  const pts = (f.points || []).filter((p) => p.open);
  const W = 960, H = 260, L = 48, B = 24;
  if (pts.length === 0) return status(t("forecast.the_forecast_has_no_open"));
  const t0 = Date.parse(pts[0].start), t1 = Date.parse(pts[pts.length - 1].start) || t0 + 1;
  const ymax = Math.max(1, ...pts.map((p) => p.volume.upper95));
  const x = (p) => L + (W - L - 8) * (Date.parse(p.start) - t0) / Math.max(1, t1 - t0);
  const y = (v) => H - B - (H - B - 8) * v / ymax;
  const band = (lo, hi) => pts.map((p) => x(p) + "," + y(p.volume[hi])).join(" ") + " " + pts.slice().reverse().map((p) => x(p) + "," + y(p.volume[lo])).join(" ");
  const line = pts.map((p) => x(p) + "," + y(p.volume.value)).join(" ");
  const ticks = [0, 0.5, 1].map((k) => svg("g", {}, svg("line", { x1: L, x2: W - 8, y1: y(ymax * k), y2: y(ymax * k), class: "grid" }),
    svg("text", { x: L - 6, y: y(ymax * k) + 4, "text-anchor": "end" }, fmtNum(ymax * k, 0))));
  const days = [];
  for (let d = new Date(pts[0].start); d.getTime() <= t1; d.setDate(d.getDate() + 7)) {
    days.push(svg("text", { x: L + (W - L - 8) * (d.getTime() - t0) / Math.max(1, t1 - t0), y: H - 6 }, fmtDate(d)));
  }
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": t("forecast.chart_label", { queue: f.queue, intervals: pts.length, peak: fmtNum(ymax, 0) }) },
    ...ticks, svg("polygon", { points: band("lower95", "upper95"), class: "band95" }), svg("polygon", { points: band("lower80", "upper80"), class: "band80" }),
    svg("polyline", { points: line, class: "value" }), ...days);
}

async function forecasts(queue) {
  const queues = me.role === "admin" ? (await api("/api/v1/queues")).map((q) => q.id) : (me.queues || []);
  queue = queue ? decodeURIComponent(queue) : queues[0];
  const pick = el("select", { id: "fc-queue", onchange: (ev) => { location.hash = "forecasts/" + encodeURIComponent(ev.target.value); } },
    ...queues.map((q) => el("option", { value: q, selected: q === queue }, q)));
  const body = el("div", { "aria-live": "polite" });
  const file = el("input", { id: "fc-file", type: "file", accept: ".csv,text/csv" });
  const msg = el("p", { role: "status", class: "muted" });
  const upload = el("form", {}, el("label", { for: "fc-file" }, t("forecast.history_csv_the_acd_export")), file, " ",
    el("button", { type: "submit" }, t("forecast.forecast_from_this_history")), msg);
  upload.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!file.files[0]) { msg.textContent = t("forecast.choose_a_file_first"); return; }
    try {
      await api("/api/v1/queues/" + encodeURIComponent(queue) + "/forecast", { method: "POST", type: "text/csv", body: await file.files[0].text() });
      msg.className = "ok"; msg.textContent = t("forecast.forecast_stored"); await load();
    } catch (err) { msg.className = "error"; msg.textContent = err.message; }
  });
  async function load() {
    if (!queue) { body.replaceChildren(status(t("forecast.you_have_no_queue"))); return; }
    let f;
    try { f = await api("/api/v1/queues/" + encodeURIComponent(queue) + "/forecasts/latest"); } catch (err) {
      body.replaceChildren(status(err.status === 404 ? t("forecast.no_forecast_stored_for_this") : err.message, err.status === 404 ? "muted" : "error"));
      return;
    }
    const fc = f.payload || {};
    const perDay = {};
    for (const p of fc.points || []) { const d = fmtDate(p.start); perDay[d] = (perDay[d] || 0) + (p.open ? p.volume.value : 0); }
    body.replaceChildren(el("p", { class: "muted" }, t("forecast.meta", { model: f.model_version, made: fmtTime(f.created_at), by: f.created_by, days: fc.days })),
      forecastChart(fc),
      table(t("forecast.forecast_contacts_per_day"), [t("forecast.day"), t("forecast.contacts")], Object.entries(perDay).slice(0, 14).map(([d, v]) => [d, fmtNum(v, 0)])));
  }
  show(t("page.forecasts"), el("p", {}, el("label", { for: "fc-queue" }, t("forecast.queue")), pick), body, upload);
  await load();
}

// apiSVG fetches a chart the daemon draws and returns it as an element,
// named for screen readers.
async function apiSVG(path, label) {
  const res = await fetch(path, { signal: routeCtl.signal, headers: { "Authorization": "Bearer " + token() } });
  if (!res.ok) throw new APIError(res.status, res.statusText);
  const doc = new DOMParser().parseFromString(await res.text(), "image/svg+xml");
  const chart = document.importNode(doc.documentElement, true);
  chart.removeAttribute("width"); chart.removeAttribute("height");
  chart.setAttribute("role", "img"); chart.setAttribute("aria-label", label); chart.classList.add("server-chart");
  return chart;
}

// schedules lists rosters and schedules, takes a roster CSV, makes a
// schedule from the latest forecasts, and shows one with its coverage,
// each agent's week and the intraday view.
async function schedules(id) {
  if (id) return schedule(decodeURIComponent(id));
  const [rosters, list] = await Promise.all([api("/api/v1/wfm/rosters"), api("/api/v1/wfm/schedules")]);
  const msg = el("p", { role: "status", class: "muted", id: "wfm-msg" });
  const fail = (err) => { msg.className = "error"; msg.textContent = err.message; };
  const file = el("input", { id: "ro-file", type: "file", accept: ".csv,text/csv", required: true });
  const upload = el("form", { "aria-labelledby": "h-roster" }, el("h3", { id: "h-roster" }, t("wfm.upload_a_roster")),
    el("p", {}, el("label", { for: "ro-id" }, t("wfm.roster_id")), el("input", { id: "ro-id", required: true, pattern: "[a-z0-9][a-z0-9_-]*" })),
    el("p", {}, el("label", { for: "ro-file" }, t("wfm.roster_csv_id_skills_hours")), file), el("button", { type: "submit" }, t("wfm.upload_roster")));
  upload.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/api/v1/wfm/rosters/" + encodeURIComponent($("#ro-id").value), { method: "PUT", type: "text/csv", body: await file.files[0].text() });
      await schedules();
      $("#wfm-msg").className = "ok"; $("#wfm-msg").textContent = t("wfm.roster_stored");
    } catch (err) { fail(err); }
  });
  const make = el("form", { "aria-labelledby": "h-make" }, el("h3", { id: "h-make" }, t("wfm.make_a_schedule")),
    el("p", {}, el("label", { for: "sc-id" }, t("wfm.schedule_id")), el("input", { id: "sc-id", required: true, pattern: "[a-z0-9][a-z0-9_-]*" })),
    el("p", {}, el("label", { for: "sc-roster" }, t("wfm.roster")), el("select", { id: "sc-roster" }, ...rosters.map((r) => el("option", { value: r.id }, r.id)))),
    el("p", {}, el("label", { for: "sc-start" }, t("wfm.first_day")), el("input", { id: "sc-start", type: "date", required: true })),
    el("p", {}, el("label", { for: "sc-days" }, t("wfm.days")), el("input", { id: "sc-days", type: "number", min: "1", max: "56", value: "7", required: true })),
    el("button", { type: "submit" }, t("wfm.make_the_schedule")));
  make.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.className = "muted"; msg.textContent = t("wfm.scheduling");
    try {
      const doc = await api("/api/v1/wfm/schedules", { method: "POST", body: JSON.stringify({ id: $("#sc-id").value, roster: $("#sc-roster").value,
        start: $("#sc-start").value, days: Number($("#sc-days").value), time_budget: "5s" }) });
      location.hash = "schedules/" + encodeURIComponent(doc.id);
    } catch (err) { fail(err); }
  });
  show(t("page.schedules"), msg,
    el("h3", {}, t("wfm.schedules")), list.length === 0 ? status(t("wfm.no_schedule_yet")) :
      table(t("wfm.schedules"), [t("wfm.schedule"), t("wfm.queues"), t("wfm.first_day"), t("wfm.days"), t("wfm.shifts"), t("wfm.under_staffed"), t("wfm.made_by")],
        list.map((r) => [r.id, (r.queues || []).join(", "), r.summary.start, r.summary.days, r.summary.shifts, r.summary.under, r.updated_by + ", " + fmtTime(r.updated_at)]),
        (i) => "#schedules/" + encodeURIComponent(list[i].id)),
    el("h3", {}, t("wfm.rosters")), rosters.length === 0 ? status(t("wfm.no_roster_yet_upload_one")) :
      table(t("wfm.rosters"), [t("wfm.roster"), t("wfm.queues"), t("wfm.agents"), t("wfm.updated")], rosters.map((r) => [r.id, (r.queues || []).join(", "), r.summary.agents, r.updated_by + ", " + fmtTime(r.updated_at)])),
    rosters.length ? make : "", upload);
}

async function schedule(id) {
  const list = await api("/api/v1/wfm/schedules");
  const rec = list.find((r) => r.id === id);
  if (!rec) { show(t("page.schedule", { id }), status(t("schedule.missing"), "error")); return; }
  const base = "/api/v1/wfm/schedules/" + encodeURIComponent(id);
  const [coverage, week] = await Promise.all([
    apiSVG(base + "?format=svg&chart=coverage", t("wfm.coverage_label", { id })),
    apiSVG(base + "?format=svg&chart=week&week=1", t("wfm.week_label", { id }))]);
  // Intraday: the rest of a day of the schedule, as of a time the planner
  // picks (now while the schedule runs).
  const start = new Date(rec.summary.start + "T00:00:00"), end = new Date(start.getTime() + Number(rec.summary.days) * 86400000);
  const now = new Date();
  const asOf = now >= start && now < end ? now : new Date(start.getTime() + 12 * 3600000);
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const out = el("div", { "aria-live": "polite" });
  const intra = el("form", { id: "intraday-form" }, el("label", { for: "in-now" }, t("wfm.as_of")),
    el("input", { id: "in-now", type: "datetime-local", value: local(asOf), min: local(start), max: local(end) }), " ", el("button", { type: "submit" }, t("wfm.show_the_rest_of_the")));
  intra.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const a = await api(base + "/intraday?now=" + encodeURIComponent(new Date($("#in-now").value).toISOString()));
      out.replaceChildren(
        el("p", {}, (a.reforecast || []).map((q) => t("wfm.reforecast", { queue: q.queue, observed: fmtNum(q.observed, 0), expected: fmtNum(q.expected, 0), factor: fmtNum(q.factor) })).join("; ")),
        el("p", {}, t("wfm.under_over", { under: fmtNum(a.under_agent_intervals, 1), under_after: fmtNum(a.under_after, 1), over: fmtNum(a.over_agent_intervals, 1), over_after: fmtNum(a.over_after, 1) })),
        (a.adjustments || []).length ? table(t("wfm.proposed_adjustments_best_first"), [t("wfm.kind"), t("wfm.agent"), t("wfm.from"), t("wfm.to"), t("wfm.paid_hours")],
          a.adjustments.map((x) => [x.kind.replaceAll("_", " "), x.agent, fmtTime(x.from), fmtTime(x.to), fmtNum(x.paid_hours)])) : status(t("wfm.no_adjustment_proposed")),
        table(t("wfm.the_rest_of_the_day"), [t("wfm.interval"), t("wfm.present"), t("wfm.required"), t("wfm.under"), t("wfm.over")],
          (a.intervals || []).map((iv) => [fmtTime(iv.start), fmtNum(iv.present, 1), (iv.required || []).join(" + "), fmtNum(iv.under, 1), fmtNum(iv.over, 1)])));
    } catch (err) { out.replaceChildren(status(err.message, "error")); }
  });
  show(t("page.schedule", { id }), el("p", { class: "muted" }, t("wfm.meta", { roster: rec.summary.roster, queues: (rec.queues || []).join(", "), from: fmtDate(start), days: rec.summary.days, shifts: rec.summary.shifts, under: rec.summary.under })),
    el("p", {}, el("a", { href: "#schedules" }, t("wfm.all_schedules"))),
    el("h3", {}, t("wfm.coverage")), coverage, el("h3", {}, t("wfm.week_1_by_agent")), week,
    el("h3", {}, t("wfm.intraday")), intra, out);
}

// ---- administration ----------------------------------------------------

// featureSettings lets an administrator set each feature per account and
// per queue: on, off, or inherited from the level above.
async function featureSettings(queue) {
  const [reg, set, queues] = await Promise.all([api("/api/v1/features"), api("/api/v1/settings/features"), api("/api/v1/queues")]);
  const levels = [["account", t("settings.account")], ...queues.map((q) => ["queues/" + q.id, t("settings.queue", { queue: q.id })])];
  const level = queue ? "queues/" + decodeURIComponent(queue) : "account";
  const current = level === "account" ? (set.settings.account || {}) : ((set.settings.queues || {})[level.slice(7)] || {});
  const pick = el("select", { id: "fs-level", onchange: (ev) => { location.hash = "settings" + (ev.target.value === "account" ? "" : "/" + encodeURIComponent(ev.target.value.slice(7))); } },
    ...levels.map(([v, l]) => el("option", { value: v, selected: v === level }, l)));
  const msg = el("p", { role: "status", class: "muted" });
  const rows = reg.map((f) => {
    const cur = current[f.name] && current[f.name].enabled !== undefined ? current[f.name] : null;
    const id = "fs-" + f.name;
    const sel = el("select", { id, "aria-label": t("settings.at_this_level", { feature: f.name }) },
      el("option", { value: "", selected: !cur }, level === "account" ? t("settings.default", { value: t(f.default ? "common.on" : "common.off") }) : t("settings.inherit")),
      el("option", { value: "on", selected: cur && cur.enabled }, t("common.on")), el("option", { value: "off", selected: cur && !cur.enabled }, t("common.off")));
    sel.addEventListener("change", async () => {
      const path = "/api/v1/settings/features/" + level + "/" + f.name;
      try {
        if (sel.value === "") await api(path, { method: "DELETE" });
        else await api(path, { method: "PUT", body: JSON.stringify({ enabled: sel.value === "on" }) });
        msg.className = "ok"; msg.textContent = t("settings.saved", { feature: f.name });
      } catch (err) { msg.className = "error"; msg.textContent = err.message; }
    });
    return [f.name, f.description + (f.licensed ? t("settings.licensed_users_only") : ""), sel];
  });
  show(level === "account" ? t("page.settings_account") : t("page.settings_queue", { queue: level.slice(7) }), el("p", {}, el("label", { for: "fs-level" }, t("settings.level")), pick),
    el("p", {}, t("settings.local_models_only"), el("span", { class: "pill " + (set.local_models_only ? "on" : "off") }, t(set.local_models_only ? "common.on" : "common.off"))),
    table(t("settings.feature_settings_at_this_level"), [t("settings.feature"), t("settings.what_it_does"), t("settings.setting")], rows), msg);
}

async function features() {
  const eff = await api("/api/v1/features/effective");
  show(t("page.features"),
    el("p", {}, t("features.local_models_only"), el("span", { class: "pill " + (eff.local_models_only ? "on" : "off") }, t(eff.local_models_only ? "common.on" : "common.off"))),
    table(t("features.features_in_effect_for_you"), [t("features.feature"), t("features.state"), t("features.decided_by")], eff.features.map((f) => [f.feature, el("span", { class: "pill " + (f.on ? "on" : "off") }, t(f.on ? "common.on" : "common.off")), f.source])));
}

// roleNames names the roles a user may have, in the order offered.
const roleNames = () => ({ agent: t("dir.role_agent"), supervisor: t("dir.role_supervisor"), analyst: t("dir.role_analyst"), admin: t("dir.role_admin"), auditor: t("dir.role_auditor"), ingest: t("dir.role_ingest") });

async function directory(arg, fresh) {
  if ((arg === "user" || arg === "queue") && typeof fresh === "string") return directoryEdit(arg, decodeURIComponent(fresh));
  const [queues, users, tokens] = await Promise.all([api("/api/v1/queues"), api("/api/v1/users"), api("/api/v1/tokens")]);
  const msg = el("p", { role: "status", class: "muted", id: "dir-status" });
  const fail = (err) => { msg.className = "error"; msg.textContent = err.message; };
  const roles = roleNames();
  const input = (id, label, attrs = {}) => el("p", {}, el("label", { for: id }, label), el("input", { id, name: id, ...attrs }));
  const addUser = el("form", { "aria-labelledby": "h-add-user" }, el("h3", { id: "h-add-user" }, t("dir.add_a_user")),
    input("nu-id", t("dir.user_id"), { required: true, pattern: "[a-z0-9_.-]+" }),
    el("p", {}, el("label", { for: "nu-role" }, t("dir.role")), el("select", { id: "nu-role", name: "nu-role" },
      ...Object.entries(roles).map(([r, l]) => el("option", { value: r }, l)))),
    input("nu-queues", t("dir.queues_comma_separated")),
    el("p", {}, el("input", { id: "nu-licensed", name: "nu-licensed", type: "checkbox" }), el("label", { for: "nu-licensed", class: "inline" }, t("dir.expert_assist_licence"))),
    el("button", { type: "submit" }, t("dir.add_user")));
  addUser.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(addUser);
    try {
      await api("/api/v1/users", { method: "POST", body: JSON.stringify({ id: f.get("nu-id"), role: f.get("nu-role"),
        queues: String(f.get("nu-queues") || "").split(",").map((q) => q.trim()).filter(Boolean), licensed: f.get("nu-licensed") === "on" }) });
      await directory(undefined, { note: t("dir.user_added", { user: f.get("nu-id") }) });
    } catch (err) { fail(err); }
  });
  const addQueue = el("form", { id: "add-queue", "aria-labelledby": "h-add-queue" }, el("h3", { id: "h-add-queue" }, t("dir.add_a_queue")),
    input("nq-id", t("dir.queue_id"), { required: true, pattern: "[a-z0-9_.-]+" }), input("nq-name", t("dir.name")), input("nq-description", t("dir.description")),
    el("button", { type: "submit" }, t("dir.add_queue")));
  addQueue.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(addQueue);
    try {
      await api("/api/v1/queues", { method: "POST", body: JSON.stringify({ id: f.get("nq-id"), name: f.get("nq-name") || f.get("nq-id"), description: f.get("nq-description") || "" }) });
      await directory(undefined, { note: t("dir.queue_added", { id: f.get("nq-id") }) });
    } catch (err) { fail(err); }
  });
  // A new token's secret is shown once, here, and never again.
  const secret = el("div", { id: "new-secret", "aria-live": "assertive" });
  const issue = async (u) => {
    try {
      const tok = await api("/api/v1/tokens", { method: "POST", body: JSON.stringify({ user_id: u, name: "console" }) });
      await directory(undefined, { note: t("dir.token_issued", { id: tok.id, user: u }), user: u, secret: tok.secret });
    } catch (err) { fail(err); }
  };
  const link = async (u) => {
    try {
      const l = await api("/api/v1/sign-in-links", { method: "POST", body: JSON.stringify({ user_id: u }) });
      await directory(undefined, { note: t("dir.link_created", { user: u }), user: u, link: location.origin + l.path, until: l.expires_at });
    } catch (err) { fail(err); }
  };
  const revoke = async (id) => {
    try { await api("/api/v1/tokens/" + encodeURIComponent(id), { method: "DELETE" }); await directory(undefined, { note: t("dir.token_revoked", { id }) }); } catch (err) { fail(err); }
  };
  if (fresh && fresh.note) { msg.className = "ok"; msg.textContent = fresh.note; }
  if (fresh && fresh.secret) {
    secret.append(el("div", { class: "card" }, el("h4", {}, t("dir.new_token", { user: fresh.user })), el("code", { id: "secret-value" }, fresh.secret)));
  }
  if (fresh && fresh.link) {
    secret.append(el("div", { class: "card" }, el("h4", {}, t("dir.link_for", { user: fresh.user, until: fmtTime(fresh.until) })),
      el("code", { id: "link-value" }, fresh.link)));
  }
  show(t("page.directory"), msg, secret,
    el("h3", {}, t("dir.users")), table(t("dir.users"), [t("dir.id"), t("dir.role"), t("dir.queues"), t("dir.licensed"), t("dir.disabled"), ""], users.map((u) => [el("a", { href: "#directory/user/" + encodeURIComponent(u.id) }, u.id), roles[u.role] || u.role, (u.queues || []).join(", "),
      t(u.licensed ? "common.yes" : "common.no"), t(u.disabled ? "common.yes" : "common.no"), el("span", { class: "actions" }, el("button", { type: "button", "data-issue": u.id, onclick: () => issue(u.id) }, t("dir.issue_token")),
        u.role === "ingest" || u.disabled ? null : el("button", { type: "button", "data-link": u.id, onclick: () => link(u.id) }, t("dir.sign_in_link")))])),
    addUser,
    el("h3", {}, t("dir.tokens")), table(t("dir.tokens"), [t("dir.id"), t("dir.user"), t("dir.name"), t("dir.created"), t("dir.revoked"), ""], tokens.map((k) => [k.id, k.user_id, k.name || "", fmtTime(k.created_at),
      k.revoked_at ? fmtTime(k.revoked_at) : "", k.revoked_at ? "" : el("button", { type: "button", "data-revoke": k.id, onclick: () => revoke(k.id) }, t("dir.revoke"))])),
    el("h3", {}, t("dir.queues")), table(t("dir.queues"), [t("dir.id"), t("dir.name"), t("dir.description")], queues.map((q) => [el("a", { href: "#directory/queue/" + encodeURIComponent(q.id) }, q.id), q.name, q.description])),
    addQueue);
}

// directoryEdit: one user's or queue's editor, with deletion after a
// confirmation. Saving goes back to the list with the outcome.
async function directoryEdit(kind, id) {
  const path = "/api/v1/" + kind + "s/" + encodeURIComponent(id);
  const [item, queues] = await Promise.all([api(path), kind === "user" ? api("/api/v1/queues") : []]);
  const msg = el("p", { role: "status", class: "muted", id: "dir-status" });
  const back = async (note) => { history.replaceState(null, "", "#directory"); await directory(undefined, { note }); };
  const save = async (body, note) => {
    try { await api(path, { method: "PATCH", body: JSON.stringify(body) }); await back(note); } catch (err) { flash(msg, err.message, false); }
  };
  const remove = confirmed(t(kind === "user" ? "dir.delete_user" : "dir.delete_queue"), t(kind === "user" ? "dir.delete_user_question" : "dir.delete_queue_question", { id }), async () => {
    try { await api(path, { method: "DELETE" }); await back(t("dir.deleted", { id })); } catch (err) { flash(msg, err.message, false); }
  });
  const text = (fid, label, value, attrs = {}) => el("p", {}, el("label", { for: fid }, label), el("input", { id: fid, value: value || "", ...attrs }));
  const check = (fid, label, on) => el("p", {}, el("input", { type: "checkbox", id: fid, checked: on }), " ", el("label", { for: fid, class: "inline" }, label));
  let form;
  if (kind === "user") {
    form = el("form", { id: "edit-user" },
      text("eu-name", t("dir.display_name"), item.display_name),
      el("p", {}, el("label", { for: "eu-role" }, t("dir.role")), el("select", { id: "eu-role" },
        ...Object.entries(roleNames()).map(([r, l]) => el("option", { value: r, selected: r === item.role }, l)))),
      el("fieldset", {}, el("legend", {}, t("dir.queues")), queues.length ? el("span", { class: "actions" }, ...queues.map((q) =>
        el("label", { class: "inline check" }, el("input", { type: "checkbox", "data-queue": q.id, checked: (item.queues || []).includes(q.id) }), " " + q.id))) : t("dir.no_queue")),
      check("eu-licensed", t("dir.expert_assist_licence"), item.licensed),
      check("eu-disabled", t("dir.disabled_user"), item.disabled),
      el("p", { class: "actions" }, el("button", { type: "submit" }, t("dir.save")), remove));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      save({ display_name: $("#eu-name").value, role: $("#eu-role").value, queues: [...form.querySelectorAll("input[data-queue]:checked")].map((c) => c.dataset.queue),
        licensed: $("#eu-licensed").checked, disabled: $("#eu-disabled").checked }, t("dir.user_saved", { id }));
    });
  } else {
    form = el("form", { id: "edit-queue" },
      text("eq-name", t("dir.name"), item.name, { required: true }),
      text("eq-description", t("dir.description"), item.description),
      el("p", { class: "actions" }, el("button", { type: "submit" }, t("dir.save")), remove));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      save({ name: $("#eq-name").value, description: $("#eq-description").value }, t("dir.queue_saved", { id }));
    });
  }
  show(t(kind === "user" ? "page.edit_user" : "page.edit_queue", { id }), el("p", {}, el("a", { href: "#directory" }, t("dir.back"))), msg, form);
}

// flash shows the outcome of an action in a page's status line.
function flash(msg, text, ok = true) { msg.className = ok ? "ok" : "error"; msg.textContent = text; }

// articles: the knowledge base's articles, an editor, and archive import.
async function articles(id) {
  const list = await api("/api/v1/kb/articles");
  const msg = el("p", { role: "status", class: "muted", id: "kb-msg" });
  let a = { id: "", title: "", queue: "", body: "" };
  if (id) a = await api("/api/v1/kb/articles/" + encodeURIComponent(decodeURIComponent(id)));
  const field = (name, label, value, attrs = {}) => el("p", {}, el("label", { for: "ka-" + name }, label), el("input", { id: "ka-" + name, name, value: value || "", ...attrs }));
  const editor = el("form", { id: "article-form", "aria-labelledby": "h-article" }, el("h3", { id: "h-article" }, id ? t("articles.edit", { title: a.title }) : t("articles.new_article")),
    field("id", t("articles.article_id"), a.id, { required: true, readonly: id ? true : null }), field("title", t("articles.title"), a.title, { required: true }),
    field("queue", t("articles.queue_empty_every_queue"), a.queue),
    el("p", {}, el("label", { for: "ka-body" }, t("articles.text")), el("textarea", { id: "ka-body", name: "body", rows: "8", required: true }, a.body || "")),
    el("button", { type: "submit" }, t("articles.save_article")), " ",
    id ? el("button", { type: "button", class: "danger", onclick: async () => {
      try { await api("/api/v1/kb/articles/" + encodeURIComponent(a.id), { method: "DELETE" }); location.hash = "articles"; } catch (err) { flash(msg, err.message, false); }
    } }, t("articles.delete_article")) : "");
  editor.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(editor);
    try {
      await api("/api/v1/kb/articles/" + encodeURIComponent(f.get("id")), { method: "PUT", body: JSON.stringify({ title: f.get("title"), body: f.get("body"), queue: f.get("queue") || undefined }) });
      location.hash = "articles/" + encodeURIComponent(f.get("id"));
      if (id) { await articles(id); flash($("#kb-msg"), t("articles.article_saved")); }
    } catch (err) { flash(msg, err.message, false); }
  });
  const file = el("input", { id: "kb-archive", type: "file", accept: ".zip,.tar,.tgz,.gz", required: true });
  const imp = el("form", { "aria-labelledby": "h-import" }, el("h3", { id: "h-import" }, t("articles.import_an_archive")),
    el("p", {}, el("label", { for: "kb-archive" }, t("articles.zip_or_tar_gz_of")), file), el("button", { type: "submit" }, t("articles.import")));
  imp.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("/api/v1/kb/import", { method: "POST", type: "application/octet-stream", body: file.files[0] });
      await articles();
      flash($("#kb-msg"), t("articles.imported", { added: r.added, updated: r.updated, unchanged: r.unchanged, failed: r.failed }), r.failed === 0);
    } catch (err) { flash(msg, err.message, false); }
  });
  show(t("page.articles"), msg, el("p", {}, el("a", { href: "#articles" }, t("articles.new_article")), " · ", el("a", { href: "#knowledge" }, t("articles.search_preview"))),
    list.length ? table(t("articles.articles"), [t("articles.article"), t("articles.title"), t("articles.queue"), t("articles.updated")], list.map((x) => [x.id, x.title, x.queue || t("articles.every_queue"), fmtTime(x.updated)]),
      (i) => "#articles/" + encodeURIComponent(list[i].id)) : status(t("articles.no_article_yet")),
    editor, imp);
}

// bots: the virtual agents. A bot's page edits its draft definition
// (YAML or JSON), validates it naming every problem, publishes it, makes
// an earlier version live again, chats with the draft (a test
// conversation the daemon keeps in memory, never an engagement) and tries
// a message on the live version's intent detector.
async function bots(id) {
  if (!id) {
    const list = await api("/api/v1/bots");
    show(t("page.bots"), list.length ? table(t("bots.bots"), [t("bots.bot"), t("bots.name"), t("bots.queue"), t("bots.live_version"), t("bots.draft")],
      list.map((b) => [b.id, b.name || "", b.queue, b.published ? t("bots.version_tag", { version: b.published }) : t("bots.not_published"), t(b.has_draft ? "common.yes" : "common.no")]), (i) => "#bots/" + encodeURIComponent(list[i].id))
      : status(t("bots.no_bot_yet_create_one")));
    return;
  }
  const bid = decodeURIComponent(id);
  const path = "/api/v1/bots/" + encodeURIComponent(bid);
  const { bot, problems } = await api(path);
  const source = await api(path + "/export?format=yaml", { text: true }).catch((e) => { if (e.status === 409) return ""; throw e; });
  const msg = el("p", { role: "status", class: "muted", id: "bot-msg" });
  const probs = el("div", { "aria-live": "polite", id: "bot-problems" });
  const listProblems = (ps) => probs.replaceChildren((ps || []).length ? el("ul", { class: "problems" }, ...ps.map((p) => el("li", {}, el("code", {}, p.path || p.field || ""), " ",
    p.warning ? t("bots.warning") : "", p.message || p.text || JSON.stringify(p))))
    : status(t("bots.the_draft_has_no_problem")));
  listProblems(problems);
  // A refused call's problem document may name every problem.
  const refused = (err) => { flash(msg, err.message, false); if (err.problem && err.problem.problems) listProblems(err.problem.problems); };

  const editor = el("form", { id: "bot-draft-form" },
    el("label", { for: "bot-def" }, t("bots.definition")),
    el("textarea", { id: "bot-def", rows: 18, spellcheck: "false", class: "code" }, source),
    el("p", { class: "actions" }, el("button", { type: "submit" }, t("bots.save_the_draft"))));
  editor.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api(path + "/draft", { method: "PUT", type: "application/yaml", body: $("#bot-def").value });
      // The page again, for the new draft (the daemon ended the test
      // chats of the old one).
      await bots(id);
      const errors = (r.problems || []).filter((p) => !p.warning).length;
      flash($("#bot-msg"), errors ? t("bots.draft_saved_with_problems", { n: errors }) : t("bots.draft_saved"), errors === 0);
    } catch (err) { refused(err); }
  });

  // Test chat with the draft.
  let trial = null;
  const chatLog = el("ol", { class: "chat", id: "bot-chat-log", "aria-live": "polite", "aria-label": t("bots.test_chat_log") });
  const line = (who, ...children) => chatLog.append(el("li", { class: "utt " + who }, el("span", { class: "who" }, t(who === "customer" ? "bots.you" : "bots.bot_says")), ...children));
  const showTurn = (turn) => {
    for (const m of turn.messages || []) {
      line("agent", m.text, (m.choices || []).length ? el("span", { class: "actions" }, ...m.choices.map((c) => el("button", { type: "button", class: "link", onclick: () => say(c) }, c))) : "");
    }
    if (turn.intent) chatLog.append(el("li", { class: "muted" }, t("bots.turn_intent", { intent: turn.intent.intent || t("bots.none"), confidence: fmtNum((turn.intent.confidence || 0) * 100, 0) })));
    if (turn.handover) chatLog.append(el("li", { class: "muted" }, t("bots.turn_handover", { reason: turn.handover.reason })));
    if (turn.end) chatLog.append(el("li", { class: "muted" }, t("bots.turn_end", { outcome: turn.end })));
    if (turn.handover || turn.end) trial = null;
  };
  const endTrial = () => {
    if (trial) api(path + "/try/" + trial, { method: "DELETE" }).catch(() => { /* it expired already */ });
    trial = null;
    chatLog.replaceChildren();
  };
  const say = async (text) => {
    try {
      if (!trial) {
        const r = await api(path + "/try", { method: "POST" });
        trial = r.id;
        chatLog.replaceChildren();
        showTurn(r.turn);
      }
      line("customer", text);
      showTurn(await api(path + "/try/" + trial, { method: "POST", body: JSON.stringify({ text }) }));
    } catch (err) {
      if (err.status === 404) trial = null;
      chatLog.append(el("li", { class: "error" }, err.message));
      if (err.problem && err.problem.problems) listProblems(err.problem.problems);
    }
  };
  const chat = el("form", { id: "bot-chat" }, el("label", { for: "bot-chat-text" }, t("bots.customer_message")),
    el("input", { id: "bot-chat-text", required: true, autocomplete: "off" }), " ", el("button", { type: "submit", disabled: !bot.has_draft }, t("bots.send")), " ",
    el("button", { type: "button", id: "bot-chat-new", onclick: endTrial }, t("bots.new_test_chat")));
  chat.addEventListener("submit", (ev) => { ev.preventDefault(); const text = $("#bot-chat-text").value; $("#bot-chat-text").value = ""; say(text); });

  const tryForm = el("form", { id: "bot-try" }, el("label", { for: "bot-text" }, t("bots.try_a_customer_message_on")),
    el("input", { id: "bot-text", required: true }), " ", el("button", { type: "submit", disabled: !bot.published }, t("bots.try")));
  const tryOut = el("div", { "aria-live": "polite" });
  tryForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api(path + "/classify", { method: "POST", body: JSON.stringify({ text: $("#bot-text").value }) });
      tryOut.replaceChildren(el("p", {}, t("bots.intent"), el("strong", {}, r.intent || t("bots.none")), " (" + fmtNum((r.confidence || 0) * 100, 0) + " %" + (r.in_scope ? "" : t("bots.out_of_scope")) + ")"));
    } catch (err) { tryOut.replaceChildren(status(err.message, "error")); }
  });
  const act = (label, sub, done, body) => el("button", { type: "button", onclick: async () => {
    try { const r = await api(path + sub, { method: "POST", body: body && JSON.stringify(body) }); await done(r); } catch (err) { refused(err); }
  } }, label);
  const versions = bot.versions.map((v) => [t("bots.version_tag", { version: v.version }), fmtTime(v.published_at), v.published_by,
    v.version === bot.published ? el("span", { class: "pill on" }, t("bots.live_now"))
      : act(t("bots.make_live", { version: v.version }), "/rollback", async () => { await bots(id); flash($("#bot-msg"), t("bots.rolled_back", { version: v.version })); }, { version: v.version })]);
  show(t("page.bot", { id: bid }), el("p", { class: "muted" }, [bot.name, t("bots.queue_meta", { queue: bot.queue }), t("bots.live", { version: bot.published ? t("bots.version_tag", { version: bot.published }) : t("bots.none") }), bot.draft_updated_at ? t("bots.draft_edited", { time: fmtTime(bot.draft_updated_at) }) : ""].filter(Boolean).join(" · ")),
    msg, el("p", { class: "actions" },
      bot.has_draft ? act(t("bots.validate_the_draft"), "/validate", (r) => { listProblems(r.problems); flash(msg, r.valid ? t("bots.the_draft_is_valid") : t("bots.the_draft_has_problems"), r.valid); }) : "",
      bot.has_draft ? act(t("bots.publish_the_draft"), "/publish", async () => { await bots(id); flash($("#bot-msg"), t("bots.published")); }) : ""),
    el("h3", {}, t("bots.draft_definition")), editor,
    el("h3", {}, t("bots.draft_problems")), probs,
    el("h3", {}, t("bots.test_chat")), el("p", { class: "muted" }, t("bots.test_chat_intro")), chatLog, chat,
    el("h3", {}, t("bots.versions")), bot.versions.length ? table(t("bots.published_versions"), [t("bots.version"), t("bots.published_at"), t("bots.by"), ""], versions) : status(t("bots.never_published")),
    el("h3", {}, t("bots.try_it")), tryForm, tryOut);
}

// confirmed is a button that asks again before a destructive action: the
// first press shows the confirmation and a way back, in place.
function confirmed(label, question, action) {
  const wrap = el("span", { class: "actions" });
  const ask = () => wrap.replaceChildren(el("span", { role: "status" }, question),
    el("button", { type: "button", class: "danger", onclick: action }, t("common.confirm")),
    el("button", { type: "button", onclick: () => { wrap.replaceChildren(first); first.focus(); } }, t("common.cancel")));
  const first = el("button", { type: "button", class: "danger", onclick: () => { ask(); wrap.querySelector("button").focus(); } }, label);
  wrap.append(first);
  return wrap;
}

// pluginsPage: installing a plugin from a folder on this machine, its
// state, enabling, scopes, configuration, restart, knowledge sync and
// uninstalling. While an enabled plugin is not yet running the page
// looks again every two seconds (a while at most).
let pluginPolls = 0;
async function pluginsPage(_, again) {
  if (!again) pluginPolls = 0;
  const { plugins: list, broken } = await api("/api/v1/plugins");
  const msg = el("p", { role: "status", class: "muted", id: "pl-msg" });
  const enc = (name) => "/api/v1/plugins/" + encodeURIComponent(name);
  const call = async (sub, opts, note) => {
    try { await api(sub, opts); await pluginsPage(); flash($("#pl-msg"), note); } catch (err) { flash(msg, err.message, false); }
  };
  const patch = (name, body, note) => call(enc(name) + "/settings", { method: "PATCH", body: JSON.stringify(body) }, note);
  const rows = list.map((p) => {
    const m = p.manifest, st = p.settings;
    const scopes = (m.scopes || []).map((sc) => el("label", { class: "inline check" }, el("input", { type: "checkbox", checked: st.approved_scopes.includes(sc), "data-scope": sc, onchange: (ev) => {
      const next = ev.target.checked ? [...st.approved_scopes, sc] : st.approved_scopes.filter((x) => x !== sc);
      patch(m.name, { approved_scopes: next }, t("plugins.scopes_saved", { plugin: m.name }));
    } }), " " + sc));
    const cfgID = "pl-config-" + m.name;
    const cfg = el("details", {}, el("summary", {}, t("plugins.configuration")),
      el("label", { for: cfgID }, t("plugins.configuration_json")),
      el("textarea", { id: cfgID, rows: 6, class: "code", spellcheck: "false" }, JSON.stringify({ config: st.config || {}, read_paths: st.read_paths || [], write_paths: st.write_paths || [], knowledge_queue: st.knowledge_queue || "" }, null, 2)),
      el("button", { type: "button", onclick: () => {
        let body;
        try { body = JSON.parse($("#" + CSS.escape(cfgID)).value); } catch (err) { flash(msg, t("plugins.configuration_not_json", { error: err.message }), false); return; }
        patch(m.name, body, t("plugins.configuration_saved", { plugin: m.name }));
      } }, t("plugins.save_configuration")));
    const actions = el("span", { class: "actions" },
      el("button", { type: "button", "data-toggle": m.name, onclick: () => patch(m.name, { enabled: !st.enabled }, t(st.enabled ? "plugins.disabled" : "plugins.enabled", { plugin: m.name })) }, st.enabled ? t("plugins.disable") : t("plugins.enable")),
      st.enabled ? el("button", { type: "button", "data-restart": m.name, onclick: () => call(enc(m.name) + "/restart", { method: "POST" }, t("plugins.restarted", { plugin: m.name })) }, t("plugins.restart")) : "",
      st.enabled && (m.kinds || []).includes("knowledge") ? el("button", { type: "button", "data-sync": m.name, onclick: () => call(enc(m.name) + "/sync", { method: "POST" }, t("plugins.synced", { plugin: m.name })) }, t("plugins.sync_now")) : "",
      confirmed(t("plugins.uninstall"), t("plugins.uninstall_question", { plugin: m.name }), () => call(enc(m.name), { method: "DELETE" }, t("plugins.uninstalled", { plugin: m.name }))));
    return [m.name + " " + m.version, el("span", {}, m.description || "", p.last_error ? el("span", { class: "error" }, " " + p.last_error) : ""), el("span", { class: "pill " + (p.state === "running" ? "on" : "off") }, p.state),
      scopes.length ? el("span", { class: "actions" }, ...scopes) : t("plugins.none"), el("div", {}, actions, cfg)];
  });
  const install = el("form", { id: "pl-install" }, el("h3", {}, t("plugins.install_a_plugin")),
    el("label", { for: "pl-dir" }, t("plugins.folder")), el("input", { id: "pl-dir", required: true, size: 60, placeholder: t("plugins.folder_example") }),
    el("p", {}, el("input", { type: "checkbox", id: "pl-replace" }), " ", el("label", { for: "pl-replace", class: "inline" }, t("plugins.replace_installed"))),
    el("button", { type: "submit" }, t("plugins.install")));
  install.addEventListener("submit", (ev) => {
    ev.preventDefault();
    call("/api/v1/plugins", { method: "POST", body: JSON.stringify({ source_dir: $("#pl-dir").value.trim(), replace: $("#pl-replace").checked }) }, t("plugins.installed"));
  });
  show(t("page.plugins"), msg, list.length ? table(t("plugins.installed_plugins"), [t("plugins.plugin"), t("plugins.what_it_does"), t("plugins.state"), t("plugins.approved_scopes"), ""], rows) : status(t("plugins.no_plugin_installed_install_one")),
    Object.keys(broken || {}).length ? el("div", {}, el("h3", {}, t("plugins.refused_plugin_folders")), el("ul", {}, ...Object.entries(broken).map(([d, e]) => el("li", {}, el("code", {}, d), " ", e)))) : "",
    install);
  if (list.some((p) => p.settings.enabled && p.state !== "running") && pluginPolls++ < 15) {
    const ctl = new AbortController();
    stream = ctl;
    setTimeout(() => { if (!ctl.signal.aborted) pluginsPage(undefined, true).catch((err) => flash(msg, err.message, false)); }, 2000);
  }
}

// operations: retention, key rotation and backups.
async function operations() {
  const ret = await api("/api/v1/retention");
  const msg = el("p", { role: "status", class: "muted", id: "op-msg" });
  const days = (n, never) => n > 0 ? t("ops.days", { n: fmtNum(n, 0) }) : never;
  const windows = table(t("ops.retention_windows"), [t("ops.what"), t("ops.kept")], [
    [t("ops.audio"), days(ret.audio_days, t("ops.never_stored"))],
    [t("ops.transcripts"), days(ret.transcript_days, t("ops.until_purged"))],
    [t("ops.outputs"), days(ret.output_days, t("ops.until_purged"))],
    [t("ops.audit_entries"), days(ret.audit_days, t("ops.until_purged"))]]);
  const download = (path, name) => async () => {
    try {
      const res = await fetch(path, { headers: { "Authorization": "Bearer " + token() } });
      if (!res.ok) throw new APIError(res.status, res.statusText);
      const url = URL.createObjectURL(await res.blob());
      el("a", { href: url, download: name }).click();
      URL.revokeObjectURL(url);
      flash(msg, t("ops.downloaded", { file: name }));
    } catch (err) { flash(msg, err.message, false); }
  };
  show(t("page.operations"), msg,
    el("h3", {}, t("ops.retention")), windows,
    el("p", { id: "retention-source" }, t("ops.the_retention_windows_are_set", { setting: ret.setting, file: ret.default_config_file, every: ret.sweep_interval, min: ret.min_audit_days })),
    el("button", { type: "button", id: "sweep", onclick: async () => {
      try { const r = await api("/api/v1/retention/sweep", { method: "POST" }); flash(msg, t("ops.retention_applied", { transcripts: r.transcripts_expired, outputs: r.outputs_expired })); } catch (err) { flash(msg, err.message, false); }
    } }, t("ops.apply_retention_now")),
    el("h3", {}, t("ops.keys")), el("p", {}, t("ops.rotation_re_wraps_every_data")),
    el("p", {}, el("input", { type: "checkbox", id: "destroy-old" }), el("label", { for: "destroy-old", class: "inline" }, t("ops.destroy_older_key_versions_older"))),
    el("button", { type: "button", id: "rotate", onclick: async () => {
      try { const r = await api("/api/v1/keys/rotate", { method: "POST", body: JSON.stringify({ destroy_old: $("#destroy-old").checked }) }); flash(msg, t("ops.keys_rotated", { from: r.from, to: r.to, rewrapped: r.rewrapped })); } catch (err) { flash(msg, err.message, false); }
    } }, t("ops.rotate_keys")),
    el("h3", {}, t("ops.backups")), el("p", {}, t("ops.content_and_keys_are_backed")),
    el("p", { class: "actions" }, el("button", { type: "button", onclick: download("/api/v1/backup/content", "earshot-content.db") }, t("ops.download_the_content_backup")),
      el("button", { type: "button", onclick: download("/api/v1/backup/keys", "earshot-keys.db") }, t("ops.download_the_keys_backup"))));
}

async function audit() {
  const entries = await api("/api/v1/audit?limit=200");
  entries.reverse();
  show(t("page.audit"), el("p", {}, el("a", { href: "/api/v1/audit/export", id: "audit-export", download: "audit.jsonl" }, t("audit.export_json_lines"))),
    table(t("audit.audit_entries_newest_first"), ["#", t("audit.time"), t("audit.actor"), t("audit.action"), t("audit.target"), t("audit.engagement")],
      entries.map((a) => [String(a.seq), fmtTime(a.time), a.actor, a.action, a.target || "", (a.engagement || "").slice(0, 8)])));
  // The export needs the token: fetch it and hand the browser a blob.
  $("#audit-export").addEventListener("click", async (ev) => {
    ev.preventDefault();
    const res = await fetch("/api/v1/audit/export", { headers: { "Authorization": "Bearer " + token() } });
    const url = URL.createObjectURL(await res.blob());
    const a = el("a", { href: url, download: "audit.jsonl" });
    a.click();
    URL.revokeObjectURL(url);
  });
}

// A sign-in link carries a one-time code in the address's fragment
// (#sign-in=esl_…), which the browser never sends to a server. The code
// leaves the address bar before anything else happens, and is exchanged
// once for a session token.
async function redeemSignInLink() {
  // #sign-in=<code>[&open=<page>/<id>]: the page to open once signed in
  // (a page the role may not use opens the role's first page).
  const params = new URLSearchParams(location.hash.slice(1));
  const code = params.get("sign-in") || "";
  const open = params.get("open");
  history.replaceState(null, "", location.pathname + location.search + (open ? "#" + open : ""));
  let session;
  try {
    const res = await fetch("/api/v1/sign-in", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code }) });
    if (!res.ok) {
      $("#login-error").textContent = res.status === 401 || res.status === 400
        ? t("signin.link_invalid") : t("signin.failed", { error: res.status + " " + res.statusText });
      return;
    }
    session = await res.json();
  } catch (e) { $("#login-error").textContent = t("signin.failed", { error: e.message }); return; }
  await signIn(session.token);
}

$("#login-form").addEventListener("submit", (ev) => { ev.preventDefault(); signIn($("#token").value.trim()); });
$("#logout").addEventListener("click", () => { sessionStorage.removeItem("earshot-token"); location.hash = ""; location.reload(); });
window.addEventListener("hashchange", route);
if (location.hash.startsWith("#sign-in=")) redeemSignInLink();
else if (token()) signIn(token());
