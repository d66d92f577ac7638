// The linkgraph dashboard: jobs with live progress, and a domain's backlink profile.
// Reads the JSON API of the server that serves it; no framework, no build step.
"use strict";

const POLL_MS = 1000;
const RATE_WINDOW_S = 3; // pages/s is measured over this many seconds of the job's clock
const STATUS_CLASSES = [
  ["2xx", "#2f9e44"], ["3xx", "#1c7ed6"], ["4xx", "#f08c00"], ["5xx", "#e03131"], ["none", "#868e96"],
];
const BACKLINKS_COLOR = "#1c7ed6";
const DOMAINS_COLOR = "#e8590c";
// time steps of the history chart, and what each is called
const STEPS = new Map([
  [1, "second"], [5, "5 seconds"], [15, "15 seconds"], [60, "minute"], [300, "5 minutes"],
  [900, "15 minutes"], [3600, "hour"], [6 * 3600, "6 hours"], [86400, "day"], [7 * 86400, "week"],
  [30 * 86400, "30 days"],
]);

const $ = (selector, root) => (root || document).querySelector(selector);
const int = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
const jobs = new Map(); // name -> {card, samples: [[ms, pages]]}

// ---- the API ---------------------------------------------------------------------------

class ApiError extends Error {}

async function api(path, options) {
  const headers = Object.assign({}, (options && options.headers) || {});
  const token = localStorage.getItem("linkgraph.token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    $("#token-bar").hidden = false;
    throw new ApiError("this server wants an API token");
  }
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!response.ok) {
    throw new ApiError((body && body.error) || `${response.status} ${response.statusText}`);
  }
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" },
                     body: JSON.stringify(body || {}) });
}

// A report's rows: /api/reports/NAME in ClickHouse's JSON format.
async function reportRows(name, params) {
  const query = new URLSearchParams(Object.assign({ format: "JSON" }, params));
  const body = await api(`/api/reports/${name}?${query}`);
  return body.data;
}

// ---- formatting ------------------------------------------------------------------------

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  if (h) return `${h}h ${pad(m)}m ${pad(s % 60)}s`;
  if (m) return `${m}m ${pad(s % 60)}s`;
  return `${s}s`;
}

function size(bytes) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes || 0;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++; }
  return `${unit ? value.toFixed(value < 10 ? 2 : 1) : value} ${units[unit]}`;
}

function when(text) {
  return text ? String(text).replace("T", " ").replace(/\.\d+/, "").replace(/Z$/, " UTC") : "–";
}

function ms(text) {
  const iso = String(text).replace(" ", "T");
  return Date.parse(/Z$|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
}

// A table of `rows` in `target` (a table, or a box to put one in); columns: {title, key or
// value(row), num}. Each row of the body gets data-key when `rowKey` is given.
function table(target, columns, rows, empty, rowKey) {
  const t = target.tagName === "TABLE" ? target : document.createElement("table");
  t.className = `compact ${target.tagName === "TABLE" ? target.className.replace("compact", "") : ""}`.trim();
  t.replaceChildren();
  if (t !== target) target.replaceChildren(t);
  if (!rows.length) {
    const cell = t.insertRow().insertCell();
    cell.className = "empty small";
    cell.textContent = empty || "none";
    return t;
  }
  const head = t.createTHead().insertRow();
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c.title;
    if (c.num) th.className = "num";
    head.appendChild(th);
  }
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    if (rowKey) tr.dataset.key = rowKey(row);
    for (const c of columns) {
      const td = tr.insertCell();
      const value = c.value ? c.value(row) : row[c.key];
      if (value instanceof Node) td.appendChild(value); else td.textContent = value;
      if (c.num) td.className = "num";
      if (c.wrap) td.classList.add("wrap");
      if (c.nowrap) td.classList.add("nowrap");
    }
  }
  return t;
}

function link(url) {
  const a = document.createElement("a");
  a.href = url;
  a.textContent = url.replace(/^https?:\/\//, "");
  a.title = url;
  a.rel = "noreferrer";
  a.target = "_blank";
  return a;
}

function badge(text, kind) {
  const span = document.createElement("span");
  span.className = `badge ${kind || ""}`;
  span.textContent = text;
  return span;
}

// ---- jobs ------------------------------------------------------------------------------

function stateClass(state) {
  if (state === "running") return "running";
  if (state === "paused") return "paused";
  if (state === "failed" || state === "interrupted") return "failed";
  return "done";
}

function jobCard(name) {
  let entry = jobs.get(name);
  if (entry) return entry;
  const card = $("#job-card").content.firstElementChild.cloneNode(true);
  card.dataset.job = name;
  $(".job-name", card).textContent = name;
  for (const button of card.querySelectorAll("[data-action]")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const stats = await post(`/api/jobs/${encodeURIComponent(name)}/${button.dataset.action}`);
        showJob(stats);
      } catch (e) {
        alert(`${button.dataset.action}: ${e.message}`);
      }
    });
  }
  $("#jobs").appendChild(card);
  entry = { card, samples: [] };
  jobs.set(name, entry);
  return entry;
}

function rateSeries(entry, stats) {
  const start = stats.started ? ms(stats.started) : null;
  if (start !== null && stats.elapsed_s !== null) {
    const t = start + stats.elapsed_s * 1000;
    const last = entry.samples[entry.samples.length - 1];
    if (!last || t > last[0]) entry.samples.push([t, stats.pages]);
    if (entry.samples.length > 1800) entry.samples.shift();
  }
  const points = [];
  const samples = entry.samples;
  for (let i = 1, j = 0; i < samples.length; i++) {
    while (j < i - 1 && samples[i][0] - samples[j + 1][0] >= RATE_WINDOW_S * 1000) j++;
    const dt = (samples[i][0] - samples[j][0]) / 1000;
    if (dt > 0) points.push([samples[i][0], (samples[i][1] - samples[j][1]) / dt]);
  }
  if (points.length < 2 && start !== null && stats.pages_per_s) {
    // seen only once (a job that ended before this page opened): its average over the run
    const end = start + stats.elapsed_s * 1000;
    return { name: "average pages/s", points: [[start, stats.pages_per_s], [end, stats.pages_per_s]] };
  }
  return { name: "pages/s", points };
}

function showJob(stats) {
  const entry = jobCard(stats.job);
  const card = entry.card;
  const set = (field, text, raw) => {
    const node = card.querySelector(`[data-field="${field}"]`);
    node.textContent = text;
    if (raw !== undefined) node.dataset.value = raw;
  };
  const state = card.querySelector('[data-field="state"]');
  state.textContent = stats.state;
  state.className = `badge state ${stateClass(stats.state)}`;
  set("pages", int(stats.pages), stats.pages);
  set("links", int(stats.links), stats.links);
  set("pages_per_s", (stats.pages_per_s || 0).toFixed(1), stats.pages_per_s);
  set("elapsed", duration(stats.elapsed_s), stats.elapsed_s);
  set("eta", stats.eta_s === null || stats.eta_s === undefined ? "–" : duration(stats.eta_s));
  set("bytes", size(stats.bytes), stats.bytes);
  for (const field of ["queued", "in_flight", "hosts_queued", "hosts_parked", "live_workers",
                       "robots_refused"]) {
    set(field, int(stats[field]), stats[field]);
  }
  const running = stats.state === "running";
  card.querySelector('[data-action="pause"]').disabled = !running;
  // a stopped or interrupted job resumes where it was, as `linkgraph crawl --job` does
  card.querySelector('[data-action="resume"]').disabled =
    !["paused", "stopped", "interrupted"].includes(stats.state);
  card.querySelector('[data-action="stop"]').disabled = !(running || stats.state === "paused");

  const progress = $(".progress", card);
  progress.hidden = !stats.max_pages;
  if (stats.max_pages) {
    const share = Math.min(1, stats.pages / stats.max_pages);
    $(".progress-fill", progress).style.width = `${(share * 100).toFixed(1)}%`;
    progress.title = `${stats.pages} of ${stats.max_pages} pages`;
  }

  const series = rateSeries(entry, stats);
  Charts.timeSeries($(".rate-chart", card), [Object.assign({ color: "#1c7ed6" }, series)],
                    { height: 150, fill: true, empty: "waiting for pages" });

  const status = stats.status || {};
  Charts.stackedBar($(".status-bar", card),
                    STATUS_CLASSES.map(([name, color]) => ({ name, color, value: status[name] || 0 })));
  table($(".status-table", card), [
    { title: "class", value: (r) => { const s = badge(r[0], "swatch"); s.style.background = r[1]; return s; } },
    { title: "responses", num: true, value: (r) => int(status[r[0]] || 0) },
  ], STATUS_CLASSES, "", (r) => r[0]);

  const errors = Object.entries(stats.errors || {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  table($(".error-table", card), [
    { title: "class", key: 0 }, { title: "count", num: true, value: (r) => int(r[1]) },
  ], errors, "no fetch errors", (r) => r[0]);
  table($(".host-table", card), [
    { title: "host", key: 0 }, { title: "pages", num: true, value: (r) => int(r[1]) },
  ], stats.top_hosts || [], "no pages yet", (r) => r[0]);

  // the end summary, once the job has ended
  const summary = stats.summary;
  $(".summary", card).hidden = !summary;
  if (summary) {
    table($(".slow-table", card), [
      { title: "host", key: "host" },
      { title: "fetches", num: true, value: (r) => int(r.fetches) },
      { title: "s/fetch", num: true, value: (r) => Number(r.seconds_per_fetch).toFixed(3) },
    ], summary.slowest_hosts || [], "none", (r) => r.host);
    table($(".failing-table", card), [
      { title: "host", key: "host" },
      { title: "pages", num: true, value: (r) => int(r.pages) },
      { title: "failures", num: true, value: (r) => int(r.failures) },
    ], summary.most_failing_hosts || [], "no failures", (r) => r.host);
  }
}

async function pollJobs() {
  try {
    const body = await api("/api/jobs");
    const list = body.jobs || [];
    $("#no-jobs").hidden = list.length > 0;
    for (const stats of list) showJob(stats);
    // newest first: running jobs on top, then by start time
    const order = [...list].sort((a, b) => (b.state === "running") - (a.state === "running")
      || String(b.started || "").localeCompare(String(a.started || "")));
    for (const stats of order) $("#jobs").appendChild(jobs.get(stats.job).card);
    document.body.dataset.polled = String(Number(document.body.dataset.polled || 0) + 1);
  } catch (e) {
    if (!(e instanceof ApiError)) console.error(e);
  } finally {
    setTimeout(pollJobs, POLL_MS);
  }
}

function readHosts(text) {
  const hosts = {};
  for (const line of text.split("\n")) {
    const fields = line.split("#")[0].trim().split(/\s+/).filter(Boolean);
    if (fields.length < 2) continue;
    for (const name of fields.slice(1)) {
      const key = name.toLowerCase();
      if (!(key in hosts)) hosts[key] = fields[0];
    }
  }
  return hosts;
}

async function startJob(event) {
  event.preventDefault();
  const form = event.target;
  const error = $("#job-form-error");
  error.hidden = true;
  const data = new FormData(form);
  let extra = {};
  try {
    extra = data.get("spec").trim() ? JSON.parse(data.get("spec")) : {};
    if (typeof extra !== "object" || Array.isArray(extra) || extra === null) throw new Error();
  } catch (e) {
    error.textContent = "Other job spec fields must be a JSON object";
    error.hidden = false;
    return;
  }
  // only what was given: the service fills in the rest from crawler/settings.py
  const spec = {};
  for (const name of ["max_pages", "delay"]) {
    if (String(data.get(name)).trim() !== "") spec[name] = Number(data.get(name));
  }
  if (data.get("allow_private") === "on") spec.allow_private = true;
  Object.assign(spec, extra);
  const hosts = readHosts(data.get("hosts") || "");
  if (Object.keys(hosts).length) spec.hosts = hosts;
  const body = {
    seeds: data.get("seeds").split(/\s+/).filter(Boolean),
    workers: Number(data.get("workers") || 1),
    spec,
  };
  if (data.get("job").trim()) body.job = data.get("job").trim();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const stats = await post("/api/jobs", body);
    showJob(stats);
    form.querySelector("details").open = false;
    $("#no-jobs").hidden = true;
    jobs.get(stats.job).card.scrollIntoView({ block: "nearest" });
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// ---- a domain's profile ----------------------------------------------------------------

function figure(label, value, field, raw) {
  const div = document.createElement("div");
  div.className = "figure";
  div.innerHTML = '<span class="label"></span><span class="value"></span>';
  div.firstChild.textContent = label;
  div.lastChild.textContent = value;
  div.lastChild.dataset.field = field;
  if (raw !== undefined) div.lastChild.dataset.value = raw;
  return div;
}

// The time step that gives the history at most ~120 points over its span.
function historyStep(profile) {
  if (!profile.first_seen) return 86400;
  const span = (ms(profile.last_seen) - ms(profile.first_seen)) / 1000;
  const steps = [...STEPS.keys()];
  return steps.find((s) => span / s <= 120) || steps[steps.length - 1];
}

async function openDomain(target) {
  $("#domain-empty").hidden = true;
  $("#domain-error").hidden = true;
  $("#search-domain").value = target;
  document.body.dataset.domainLoaded = "";
  try {
    await showDomain(target);
  } catch (e) {
    $("#domain").hidden = true;
    $("#domain-error").textContent = e.message;
    $("#domain-error").hidden = false;
    document.body.dataset.domainLoaded = "error";
  }
}

async function showDomain(target) {
  const box = $("#domain");
  const query = new URLSearchParams({ target, format: "json", top: "10" });
  const profile = await api(`/api/reports/profile?${query}`);
  const step = historyStep(profile);
  const [history, changes] = await Promise.all([
    reportRows("history", { target, step: String(step), limit: "1000" }),
    reportRows("changes", { target, since: "1970-01-01", limit: "15" }),
  ]);
  box.hidden = false;
  $("#domain-title").textContent = profile.target;
  $("#domain-scope").textContent = profile.scope === "domain" ? "registered domain"
    : profile.scope === "host" ? `host of ${profile.domain}` : `page on ${profile.domain}`;

  const gained = history.reduce((sum, r) => sum + Number(r.new_backlinks), 0);
  const lost = history.reduce((sum, r) => sum + Number(r.lost_backlinks), 0);
  const figures = $("#domain-figures");
  figures.replaceChildren(
    figure("Referring domains", int(profile.referring_domains), "referring_domains", profile.referring_domains),
    figure("Backlinks", int(profile.backlinks), "backlinks", profile.backlinks),
    figure("Followed", `${(profile.follow_ratio * 100).toFixed(1)}%`, "follow_ratio", profile.follow_ratio),
    figure("Referring pages", int(profile.referring_pages), "referring_pages", profile.referring_pages),
    figure("Linked pages", int(profile.linked_pages), "linked_pages", profile.linked_pages),
    figure("Authority", Number(profile.authority).toFixed(1), "authority", profile.authority),
    figure("Institutional", `${(profile.institutional_share * 100).toFixed(1)}%`, "institutional_share",
           profile.institutional_share),
    figure("New backlinks", int(gained), "new_backlinks", gained),
    figure("Lost backlinks", int(lost), "lost_backlinks", lost),
  );
  $("#domain-seen").textContent = profile.first_seen
    ? `first seen ${when(profile.first_seen)} · last seen ${when(profile.last_seen)}` : "no backlinks seen";

  const chart = $("#history-chart");
  const points = (key) => history.map((r) => [ms(r.at) + step * 1000, Number(r[key])]);
  const series = [
    { name: "backlinks", color: BACKLINKS_COLOR, points: points("backlinks") },
    { name: "referring domains", color: DOMAINS_COLOR, points: points("referring_domains"), dash: "7 4" },
  ];
  const first = history.length ? ms(history[history.length - 1].at) : null;
  if (first !== null) for (const s of series) s.points.push([first, 0]);
  Charts.timeSeries(chart, series, { step: true, height: 220, empty: "no backlinks seen yet" });
  const latest = history[0];
  chart.dataset.backlinks = latest ? latest.backlinks : 0;
  chart.dataset.referringDomains = latest ? latest.referring_domains : 0;
  $("#history-note").textContent = `Live backlinks and referring domains at the end of each ${STEPS.get(step)}, `
    + `from the link history of every crawl (${history.length} step${history.length === 1 ? "" : "s"}).`;

  table($("#changes"), [
    { title: "", value: (r) => badge(r.change, r.change) },
    { title: "when", value: (r) => when(r.at), nowrap: true },
    { title: "from", value: (r) => link(r.src_url), wrap: true },
    { title: "to", value: (r) => link(r.dst_url), wrap: true },
  ], changes, "no changes recorded");
  table($("#top-anchors"), [
    { title: "anchor", value: (r) => r.anchor || "(no text)", wrap: true },
    { title: "backlinks", num: true, value: (r) => int(r.backlinks) },
    { title: "domains", num: true, value: (r) => int(r.referring_domains) },
  ], profile.top_anchors, "no anchors");
  table($("#top-pages"), [
    { title: "page", value: (r) => link(r.dst_url), wrap: true },
    { title: "backlinks", num: true, value: (r) => int(r.backlinks) },
    { title: "domains", num: true, value: (r) => int(r.referring_domains) },
  ], profile.top_pages, "no pages");
  table($("#top-refdomains"), [
    { title: "domain", value: (r) => domainLink(r.src_domain) },
    { title: "authority", num: true, value: (r) => Number(r.authority).toFixed(1) },
    { title: "backlinks", num: true, value: (r) => int(r.backlinks) },
  ], profile.top_referring_domains, "no referring domains");
  tldMix($("#tld-mix"), profile.tld_mix, profile.referring_domains);
  table($("#type-mix"), [
    { title: "type", key: "type" },
    { title: "backlinks", num: true, value: (r) => int(r.backlinks) },
    { title: "domains", num: true, value: (r) => int(r.referring_domains) },
  ], profile.type_mix, "no backlinks", (r) => r.type);
  document.body.dataset.domainLoaded = profile.target;
}

function domainLink(domain) {
  const a = document.createElement("a");
  a.href = `#/domain/${encodeURIComponent(domain)}`;
  a.textContent = domain;
  return a;
}

function tldMix(target, rows, total) {
  target.textContent = "";
  if (!rows.length) { target.innerHTML = '<p class="empty small">no referring domains</p>'; return; }
  for (const r of rows) {
    const line = document.createElement("div");
    line.className = "bar-row";
    line.dataset.tld = r.tld;
    const share = total ? Number(r.referring_domains) / total : 0;
    line.innerHTML = '<span class="bar-label"></span><span class="bar"><span class="bar-fill"></span></span>'
      + '<span class="num" data-field="referring_domains"></span>';
    line.firstChild.textContent = `.${r.tld}${r.country ? ` · ${r.country}` : ""}`;
    line.querySelector(".bar-fill").style.width = `${(share * 100).toFixed(1)}%`;
    line.lastChild.textContent = int(r.referring_domains);
    target.appendChild(line);
  }
}

// ---- routing ---------------------------------------------------------------------------

function route() {
  const hash = location.hash || "#/jobs";
  const domain = hash.match(/^#\/domain\/?(.*)$/);
  $("#view-jobs").hidden = Boolean(domain);
  $("#view-domain").hidden = !domain;
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === (domain ? "domain" : "jobs"));
  }
  if (domain && domain[1]) openDomain(decodeURIComponent(domain[1]));
}

document.addEventListener("DOMContentLoaded", () => {
  $("#job-form").addEventListener("submit", startJob);
  $("#search").addEventListener("submit", (event) => {
    event.preventDefault();
    const target = $("#search-domain").value.trim();
    if (target) location.hash = `#/domain/${encodeURIComponent(target)}`;
  });
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem("linkgraph.token", $("#token").value.trim());
    $("#token-bar").hidden = true;
    route();
  });
  window.addEventListener("hashchange", route);
  route();
  pollJobs();
});
