// Admin page: progress, rater quality, agreement and campaign coverage from /api/admin/summary,
// exports (all or per campaign, preferences and ratings), adding raters with a copyable personal
// link, and rater actions (deactivate, activate, revoke, new link, reset the headphone check).

const TOKEN = document.body.dataset.token || "";
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${TOKEN}` };
  if (options.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET", headers, cache: "no-store",
    body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
  });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    let detail = data?.detail ?? response.statusText;
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    const err = new Error(detail);
    err.status = response.status;
    throw err;
  }
  return data;
}

function announce(message) { $("status").textContent = message; }

const fmt = {
  share: (x) => (x === null || x === undefined || Number.isNaN(x) ? "–" : `${(100 * x).toFixed(0)} %`),
  number: (x, digits = 2) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(digits)),
  seconds: (ms) => (ms === null || ms === undefined ? "–" : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`),
};

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
  return td;
}

/** The body of table `tableId`, emptied; one row saying `emptyText` across `columns` cells when `rows` is empty. */
function freshBody(tableId, rows, emptyText, columns) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren();
  if (!rows.length && emptyText) cell(body.insertRow(), emptyText).colSpan = columns;
  return body;
}

/** A new row at the end of `body`, headed by `text` (a row header cell). */
function headedRow(body, text) {
  const row = body.insertRow();
  const th = document.createElement("th");
  th.scope = "row";
  th.textContent = text;
  row.append(th);
  return row;
}

function renderOverview(summary) {
  const songs = summary.songs || [];
  const done = songs.reduce((n, s) => n + s.done, 0);
  const total = songs.reduce((n, s) => n + s.total, 0);
  const times = (summary.raters || []).map((r) => r.median_time_ms).filter((t) => t !== null && t !== undefined).sort((a, b) => a - b);
  const medianTime = times.length ? times[Math.floor(times.length / 2)] : null;
  const ag = summary.agreement || {};
  const bias = ag.position_bias_a_share;
  const items = [
    ["Judgments", `${done} of ${total}`],
    ["Raters", String((summary.raters || []).length)],
    ["Time per judgment (median of raters)", fmt.seconds(medianTime)],
    ["Krippendorff's alpha", fmt.number(ag.krippendorff_alpha)],
    ...Object.entries(summary.krippendorff_alpha_by_campaign || {}).map(([name, alpha]) => [`Krippendorff's alpha, campaign ${name}`, fmt.number(alpha)]),
    ["Raw agreement", fmt.share(ag.raw_agreement)],
    ["Pairs rated by several raters", String(ag.n_pairs_multi_rated ?? "–")],
    ["Position bias (share choosing what was shown as A)", fmt.share(bias) +
      (bias !== null && bias !== undefined && Math.abs(bias - 0.5) > 0.1 ? " — check for order bias" : "")],
  ];
  const dl = $("overview");
  dl.replaceChildren();
  for (const [term, value] of items) {
    const div = document.createElement("div");
    const dt = document.createElement("dt"); dt.textContent = term;
    const dd = document.createElement("dd"); dd.textContent = value;
    div.append(dt, dd);
    dl.append(div);
  }
}

/** The actions a rater's row offers, by their status: [action, button text]. */
function raterActions(r) {
  const actions = r.status === "active" ? [["deactivate", "Deactivate"], ["revoke", "Revoke link"]]
    : r.status === "deactivated" ? [["activate", "Activate"], ["revoke", "Revoke link"]]
    : [["new-link", "New link"]];
  if (r.headphone_check && !r.headphone_check.passed) actions.push(["reset-headphones", "Reset headphone check"]);
  return actions;
}

async function raterAction(name, action) {
  try {
    const done = await api("/api/admin/rater-actions", { method: "POST", json: { name, action } });
    if (done.link) showLink(name, done.link);
    const words = { deactivate: "deactivated", activate: "activated", revoke: "link revoked",
      "reset-headphones": "headphone check attempts reset", "new-link": "new link made: copy it now, it is shown only once" };
    const handedBack = done.tasks_handed_back ? ` (${done.tasks_handed_back} open tasks handed back)` : "";
    announce(`${name}: ${words[action]}${handedBack}.`);
    await refresh();
  } catch (err) {
    $("admin-error").textContent = `Could not ${action.replace("-", " ")} ${name}: ${err.message}`;
  }
}

function renderRaters(raters, required = false) {
  const body = freshBody("raters-table", raters, "No raters yet: add one below.", 9);
  for (const r of raters) {
    const row = headedRow(body, r.name);
    cell(row, r.held_out ? "yes" : "no");
    cell(row, String(r.done), "num");
    cell(row, fmt.seconds(r.median_time_ms), "num");
    const gold = cell(row, r.gold_total ? `${r.gold_failures} of ${r.gold_total}` : "–", "num");
    if (r.gold_total && r.gold_failures / r.gold_total > 0.25) gold.classList.add("warn");
    cell(row, fmt.share(r.agreement_with_majority), "num");
    const check = cell(row, headphoneText(r.headphone_check, required));
    check.dataset.column = "headphone-check";
    if (r.headphone_check && !r.headphone_check.passed) check.classList.add("warn");
    const status = cell(row, r.status || "active");
    if (r.status && r.status !== "active") status.classList.add("warn");
    const actions = cell(row, "");
    for (const [action, text] of raterActions(r)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button small";
      button.dataset.action = action;
      button.textContent = text;
      button.setAttribute("aria-label", `${text}: ${r.name}`);
      button.addEventListener("click", () => raterAction(r.name, action));
      actions.append(button);
    }
  }
}

/** A link cell: `text` pointing at `href`, downloaded as `filename`. */
function downloadLink(text, href, filename) {
  const a = document.createElement("a");
  a.textContent = text;
  a.href = href;
  a.download = filename;
  return a;
}

function renderCampaigns(coverage) {
  const body = freshBody("campaigns-table", coverage, "No campaign yet.", 9);
  for (const c of coverage) {
    const row = headedRow(body, c.campaign);
    cell(row, c.held_out_only ? "held-out only" : "all");
    cell(row, c.votes_per_pair === null || c.votes_per_pair === undefined ? "per pair" : String(c.votes_per_pair), "num");
    cell(row, c.rater_quota === null || c.rater_quota === undefined ? "none" : String(c.rater_quota), "num");
    cell(row, `${c.complete} of ${c.pairs}`, "num");
    cell(row, String(c.judgments), "num");
    cell(row, String(c.open_assignments), "num");
    cell(row, Object.entries(c.votes || {}).map(([votes, n]) => `${votes}: ${n}`).join(", ") || "–");
    const links = cell(row, "");
    const campaign = encodeURIComponent(c.campaign);
    const safeName = c.campaign.replace(/[^A-Za-z0-9._-]+/g, "_");
    links.append(
      downloadLink("JSON", exportHref("/api/admin/export.json", campaign), `preferences-${safeName}.json`), " ",
      downloadLink("CSV", exportHref("/api/admin/export.csv", campaign), `preferences-${safeName}.csv`), " ",
      downloadLink("Ratings", exportHref("/api/admin/ratings.csv", campaign), `ratings-${safeName}.csv`),
    );
  }
}

/** A rater's headphone check as one cell: result, score, attempts and when. */
function headphoneText(check, required) {
  if (!check) return required ? "not taken yet" : "–";
  const when = check.checked_at ? ` on ${check.checked_at.slice(0, 16).replace("T", " ")}` : "";
  const attempts = `${check.attempts_used} attempt${check.attempts_used === 1 ? "" : "s"}`;
  return `${check.passed ? "passed" : "failed"} ${check.score} of ${check.trials} (${attempts})${when}`;
}

function renderScreening(screening) {
  const rule = screening.rule || {};
  $("screening-rule").textContent = `Flagged: failed more than ${fmt.share(rule.max_gold_failure_share)} of ` +
    `${rule.min_gold_judgments ?? "–"}+ gold pairs${rule.tie_is_failure ? " (a tie fails)" : ""}. ` +
    "Exports and reward training count flagged raters at their low weight by default." +
    ((screening.suspect_gold || []).length ? ` Gold pairs most raters failed, not counted: ${screening.suspect_gold.join(", ")}.` : "");
  const flagged = (screening.raters || []).filter((r) => r.flagged);
  const body = freshBody("screening-table", flagged, "No rater is flagged.", 5);
  for (const r of flagged) {
    const row = headedRow(body, r.rater);
    cell(row, `${r.gold_failed} of ${r.gold_judged} (${fmt.share(r.gold_failure_share)})`, "num warn");
    cell(row, String(r.gold_ties), "num");
    cell(row, `${fmt.share(r.majority_agreement)} of ${r.majority_judged}`, "num");
    cell(row, fmt.number(r.weight), "num");
  }
}

function renderSongs(songs) {
  const body = freshBody("songs-table", songs);
  for (const s of songs) {
    const row = headedRow(body, s.song_id);
    cell(row, `${s.done} / ${s.total}`, "num");
    const td = cell(row, "");
    const bar = document.createElement("progress");
    bar.max = Math.max(1, s.total);
    bar.value = s.done;
    bar.setAttribute("aria-label", `${s.song_id}: ${s.done} of ${s.total} judged`);
    td.append(bar);
  }
}

async function refresh() {
  try {
    const summary = await api("/api/admin/summary");
    renderOverview(summary);
    renderRaters(summary.raters || [], Boolean(summary.headphone_check_required));
    renderSongs(summary.songs || []);
    renderCampaigns(summary.coverage || []);
    renderScreening(summary.screening || {});
    $("admin-error").textContent = "";
    document.body.dataset.loaded = "true";
  } catch (err) {
    $("admin-error").textContent = err.status === 401 || err.status === 403
      ? "This admin link is not valid. Create an admin token with `rl-editor admin-token` and open /admin?token=…"
      : `Could not load the summary: ${err.message}`;
  }
}

async function copyLink() {
  const input = $("new-link-url");
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    input.select();   // the clipboard API needs a secure context; fall back to selection
    document.execCommand("copy");
  }
  announce("Link copied.");
}

/** Show a rater's personal link (shown only once) ready to copy. */
function showLink(name, link) {
  $("new-link-name").textContent = name;
  $("new-link-url").value = new URL(link, window.location.origin).href;
  $("new-link").hidden = false;
  $("new-link-url").select();
}

async function addRater(e) {
  e.preventDefault();
  const name = $("rater-name").value.trim();
  if (!name) { announce("Give the rater a name."); $("rater-name").focus(); return; }
  try {
    const made = await api("/api/admin/raters", { method: "POST", json: { name, held_out: $("rater-held-out").checked } });
    showLink(made.name, made.link || `/r/${made.token}`);
    $("rater-name").value = "";
    $("rater-held-out").checked = false;
    announce(`Added ${made.name}. Copy their link now: it is shown only once.`);
    await refresh();
  } catch (err) {
    $("admin-error").textContent = `Could not add the rater: ${err.message}`;
  }
}

/** An export address with the admin token, for one campaign when `campaign` (URI-encoded) is given. */
const exportHref = (path, campaign) => `${path}?token=${encodeURIComponent(TOKEN)}${campaign ? `&campaign=${campaign}` : ""}`;
$("export-json").href = exportHref("/api/admin/export.json");
$("export-csv").href = exportHref("/api/admin/export.csv");
$("export-ratings-json").href = exportHref("/api/admin/ratings.json");
$("export-ratings-csv").href = exportHref("/api/admin/ratings.csv");
$("refresh").addEventListener("click", refresh);
$("add-rater").addEventListener("submit", addRater);
$("copy-link").addEventListener("click", copyLink);
refresh();
// keep the numbers current while the page is open and visible
setInterval(() => { if (document.visibilityState === "visible") refresh(); }, 30000);
