// Earshot web console: a thin client of the HTTP API. The token lives in
// sessionStorage only; every call sends it as a bearer token.
"use strict";

const $ = (sel) => document.querySelector(sel);
let me = null;
let stream = null; // AbortController of the live event stream

function token() { return sessionStorage.getItem("earshot-token") || ""; }

async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { "Authorization": "Bearer " + token(), "Content-Type": "application/json" } });
  if (!res.ok) {
    let detail = res.statusText;
    try { const p = await res.json(); detail = p.detail || detail; } catch (e) { /* not a problem document */ }
    throw new Error(res.status + ": " + detail);
  }
  return res.status === 204 ? null : res.json();
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

function table(headers, rows, onclick) {
  const t = el("table", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h))));
  rows.forEach((r, i) => {
    const tr = el("tr", onclick ? { class: "click", onclick: () => onclick(i) } : {}, ...r.map((c) => el("td", {}, c)));
    t.append(tr);
  });
  return t;
}

function show(...nodes) {
  if (stream) { stream.abort(); stream = null; }
  const v = $("#view");
  v.replaceChildren(...nodes);
  v.hidden = false;
}

async function signIn(tok) {
  sessionStorage.setItem("earshot-token", tok);
  try {
    me = (await api("/api/v1/whoami")).user;
  } catch (e) {
    sessionStorage.removeItem("earshot-token");
    $("#login-error").textContent = "Sign-in failed: " + e.message;
    return;
  }
  $("#login").hidden = true;
  $("#nav").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = me.id + " (" + me.role + ")";
  document.querySelectorAll("nav a[data-role]").forEach((a) => { a.hidden = !a.dataset.role.split(" ").includes(me.role); });
  route();
}

function route() {
  if (!me) return;
  const page = location.hash.slice(1) || (me.role === "auditor" ? "audit" : "engagements");
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.getAttribute("href") === "#" + page));
  const pages = { engagements, features, directory, audit };
  const [name, arg] = page.split("/");
  (pages[name] || engagements)(arg).catch((e) => show(el("p", { class: "error" }, e.message)));
}

async function engagements(id) {
  if (id) return engagement(id);
  const list = await api("/api/v1/engagements?limit=200");
  list.reverse();
  show(el("h2", {}, "Engagements"),
    list.length === 0 ? el("p", { class: "muted" }, "No engagements in your scope yet.") :
      table(["Started", "Queue", "Agent", "Channel", "Status"],
        list.map((e) => [new Date(e.start).toLocaleString(), e.queue, e.agent || "–", e.channel, e.status]),
        (i) => { location.hash = "engagements/" + list[i].id; }));
}

function utterance(seg, partial) {
  return el("div", { class: "utt " + seg.speaker + (partial ? " partial" : "") },
    el("span", { class: "who" }, seg.speaker), seg.text);
}

function card(type, data) {
  const body = el("pre", {}, JSON.stringify(data, null, 1));
  body.style.whiteSpace = "pre-wrap";
  body.style.margin = "0";
  return el("div", { class: "card" }, el("h4", {}, type), body);
}

async function engagement(id) {
  const e = await api("/api/v1/engagements/" + id);
  const transcript = el("div");
  const partial = el("div");
  const insights = el("div");
  show(el("h2", {}, "Engagement " + id.slice(0, 8)),
    el("p", { class: "muted" }, `${e.channel} · queue ${e.queue} · agent ${e.agent || "–"} · ${e.status}`),
    el("div", { class: "grid" },
      el("section", {}, el("h3", {}, "Transcript"), transcript, partial),
      el("section", {}, el("h3", {}, "Assist"), insights)));
  if (me.role === "analyst") {
    const t = await api("/api/v1/engagements/" + id + "/transcript");
    t.segments.forEach((s) => transcript.append(utterance(s)));
    return;
  }
  // Server-sent events through fetch, so that the token travels in a header.
  stream = new AbortController();
  const res = await fetch("/api/v1/engagements/" + id + "/events", { headers: { "Authorization": "Bearer " + token() }, signal: stream.signal });
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
      if (!type) continue;
      const d = JSON.parse(data);
      if (type === "transcript.final") { partial.replaceChildren(); transcript.append(utterance(d)); }
      else if (type === "transcript.partial") partial.replaceChildren(utterance(d, true));
      else insights.prepend(card(type, d));
    }
  }
}

async function features() {
  const eff = await api("/api/v1/features/effective");
  show(el("h2", {}, "Features"),
    el("p", {}, "Local models only: ", el("span", { class: "pill " + (eff.local_models_only ? "on" : "off") }, eff.local_models_only ? "on" : "off")),
    table(["Feature", "State", "Decided by"], eff.features.map((f) => [f.feature, el("span", { class: "pill " + (f.on ? "on" : "off") }, f.on ? "on" : "off"), f.source])));
}

async function directory() {
  const [queues, users, tokens] = await Promise.all([api("/api/v1/queues"), api("/api/v1/users"), api("/api/v1/tokens")]);
  show(el("h2", {}, "Queues"), table(["ID", "Name", "Description"], queues.map((q) => [q.id, q.name, q.description])),
    el("h2", {}, "Users"), table(["ID", "Role", "Queues", "Licensed", "Disabled"], users.map((u) => [u.id, u.role, (u.queues || []).join(", "), u.licensed ? "yes" : "no", u.disabled ? "yes" : "no"])),
    el("h2", {}, "Tokens"), table(["ID", "User", "Name", "Created", "Revoked"], tokens.map((t) => [t.id, t.user_id, t.name, new Date(t.created_at).toLocaleString(), t.revoked_at ? "yes" : ""])));
}

async function audit() {
  const entries = await api("/api/v1/audit?limit=200");
  entries.reverse();
  show(el("h2", {}, "Audit log"), table(["#", "Time", "Actor", "Action", "Target", "Engagement"],
    entries.map((a) => [String(a.seq), new Date(a.time).toLocaleString(), a.actor, a.action, a.target || "", (a.engagement || "").slice(0, 8)])));
}

$("#login-form").addEventListener("submit", (ev) => { ev.preventDefault(); signIn($("#token").value.trim()); });
$("#logout").addEventListener("click", () => { sessionStorage.removeItem("earshot-token"); location.hash = ""; location.reload(); });
window.addEventListener("hashchange", route);
if (token()) signIn(token());
