// The rater's listening page: one task at a time, one transport over the original and
// the edits, keyboard shortcuts, drafts kept in localStorage, submissions retried with
// the same client id until the server acknowledges them. A judgment is taken only once
// the rater has heard enough of each edit (must-listen); when the store asks for it, a
// headphone check comes first. While a task is judged, the one after it (reserved by the
// server) has its audio fetched in the background, so it plays as soon as the answer is saved.

// the page loads this module with ?v=<asset version>; import its siblings at the same version
const VERSION = new URL(import.meta.url).search;
const { sourceTimeline, editTimeline, locate, timeOf, differenceExcerpts, sectionBands } = await import(`./beatmap.js${VERSION}`);
const { Player } = await import(`./player.js${VERSION}`);
const { peaks, Waveform } = await import(`./waveform.js${VERSION}`);
const { ListeningTracker, stillToHear } = await import(`./listening.js${VERSION}`);
const { HeadphoneCheck } = await import(`./headphones.js${VERSION}`);
const { HttpError, TaskAudio } = await import(`./task_audio.js${VERSION}`);

const TOKEN = document.body.dataset.token || "";
const EXCERPT_BEFORE_S = 3;     // "next difference" plays this much before the point where A and B diverge...
const EXCERPT_AFTER_S = 3;      // ...and this much after it, first in A, then in B
const BEATS_PER_JUMP = 4;
const LISTEN_POLL_MS = 200;
const NOTES_LIMIT = Number(document.getElementById("notes")?.maxLength) > 0 ? document.getElementById("notes").maxLength : 2000;
const $ = (id) => document.getElementById(id);

const CHOICES = {
  a: { preference: "a", tie_kind: null, label: "A is better" },
  b: { preference: "b", tie_kind: null, label: "B is better" },
  both_good: { preference: "tie", tie_kind: "both_good", label: "Equally good" },
  both_bad: { preference: "tie", tie_kind: "both_bad", label: "Equally bad" },
};
const STRENGTHS = { 1: "slightly", 2: "moderately", 3: "significantly" };
const RATINGS = { 1: "Poor", 2: "Okay", 3: "Good", 4: "Excellent" };

// ---------------------------------------------------------------- storage

function raterKey() {
  // FNV-1a of the token: keeps raters sharing a browser apart without storing the token
  let h = 0x811c9dc5;
  for (let i = 0; i < TOKEN.length; i++) { h ^= TOKEN.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h.toString(16);
}
const PENDING_KEY = `rl-editor:pending:${raterKey()}`;
const draftKey = (taskId) => `rl-editor:draft:${taskId}`;
const INTRO_KEY = `rl-editor:intro-seen:${raterKey()}`;
const LAST_ANSWER_KEY = `rl-editor:last-answer:${raterKey()}`;

function load(key) {
  try { return JSON.parse(localStorage.getItem(key) || "null"); } catch { return null; }
}
function save(key, value) {
  try { value === null ? localStorage.removeItem(key) : localStorage.setItem(key, JSON.stringify(value)); }
  catch { /* storage full or disabled: the page still works, only without resume */ }
}

function newClientId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));   // randomUUID needs a secure context
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---------------------------------------------------------------- HTTP

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${TOKEN}`, ...(options.headers || {}) };
  if (options.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
    cache: "no-store",
  });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    let detail = data?.detail ?? response.statusText;
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    throw new HttpError(response.status, detail);
  }
  return { status: response.status, data };
}

class AudioDecodeError extends Error {}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// fetch rejects with a TypeError when the network is down; those and server-side trouble are retried
const isRetryable = (err) => err instanceof TypeError ||
  (err instanceof HttpError && (err.status >= 500 || err.status === 408 || err.status === 429));

// ---------------------------------------------------------------- formatting

function clock(seconds, tenths = false) {
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  const sec = tenths ? rest.toFixed(1).padStart(4, "0") : String(Math.floor(rest)).padStart(2, "0");
  return `${m}:${sec}`;
}

function announce(message) {
  const el = $("status");
  el.textContent = "";
  // a fresh text node makes screen readers announce repeated messages too
  requestAnimationFrame(() => { el.textContent = message; });
}

function showView(name) {
  for (const id of ["view-loading", "view-headphones", "view-task", "view-done", "view-error"]) $(id).hidden = id !== `view-${name}`;
  $("shortcuts").hidden = name !== "task";
  showLastAnswer();
}

function setProgress(done, total) {
  $("progress").max = Math.max(1, total);
  $("progress").value = done;
  $("progress-text").textContent = `${done} of ${total} judged`;
}

// ---------------------------------------------------------------- state

let ctx = null;
const app = {
  task: null,
  player: null,
  timelines: {},
  waveforms: {},
  sections: {},          // section bands per version
  tracker: null,         // what has been played of each version (must-listen)
  diffs: [],
  draft: null,
  lastDiff: null,        // index (in diffs) of the difference last played by "next difference"
  loop: null,            // {start: pos, end: pos, lengthS}
  markIn: null,
  excerpts: null,
  visibleSince: null,
  sending: false,
  audio: null,           // the shown task's audio bytes (TaskAudio)
  audioPrefetched: false, // whether they were fetched while the task before was judged
};

function versionKeys() { return app.task?.kind === "rating" ? ["o", "a"] : ["o", "a", "b"]; }
function versionLabel(v) {
  if (v === "o") return "Original";
  if (app.task?.kind === "rating") return "Edit";
  return app.task[v].label || v.toUpperCase();
}

// ---------------------------------------------------------------- time spent

function elapsedMs() {
  if (!app.draft) return 0;
  return app.draft.elapsed_ms + (app.visibleSince !== null ? performance.now() - app.visibleSince : 0);
}
function pauseClock() {
  if (app.draft && app.visibleSince !== null) app.draft.elapsed_ms = elapsedMs();
  app.visibleSince = null;
}
function resumeClock() {
  if (app.draft && app.visibleSince === null && document.visibilityState === "visible") app.visibleSince = performance.now();
}
function saveDraft() {
  if (!app.task || !app.draft) return;
  save(draftKey(app.task.task_id), { ...app.draft, heard: app.tracker?.heard, elapsed_ms: Math.round(elapsedMs()) });
}
document.addEventListener("visibilitychange", () => {
  document.visibilityState === "visible" ? resumeClock() : (pauseClock(), saveDraft());
});
window.addEventListener("pagehide", saveDraft);
setInterval(saveDraft, 5000);

// ---------------------------------------------------------------- task loading

/** Wait `ms` milliseconds, or less when the browser comes back online. */
function waitToRetry(ms) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); window.removeEventListener("online", done); resolve(); };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
  });
}

/**
 * Call `fn` until it succeeds or fails for good, waiting longer after each connection failure
 * (and retrying at once when the browser says it is online again); the banner says what waits.
 */
async function withRetry(what, fn, banner = null) {
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await fn();
        if (attempt > 0) announce("Connection restored.");
        return result;
      } catch (err) {
        if (err instanceof HttpError && err.status === 401) throw err;
        if (!isRetryable(err)) throw err;
        const wait = Math.min(15000, 1000 * 2 ** attempt);
        $("connection").hidden = false;
        $("connection").textContent = (banner || `Connection lost while ${what}.`) +
          ` Retrying in ${Math.round(wait / 1000)} s, or as soon as the connection is back…`;
        await waitToRetry(wait);
      }
    }
  } finally {
    $("connection").hidden = true;
  }
}

// Compressed audio (Ogg/Vorbis, about a tenth of a WAV) where the browser can play it
const OGG_PLAYABLE = Boolean(document.createElement("audio").canPlayType?.('audio/ogg; codecs="vorbis"'));
const audioUrl = (url) => (OGG_PLAYABLE ? `${url}?format=ogg` : url);

function megabytes(bytes) { return `${(bytes / 1e6).toFixed(1)} MB`; }

// the first part of the original, played while the rest downloads (about 20 s of compressed music);
// the browser tests make it smaller (?head_bytes=N) to try it on their short song
const HEAD_BYTES = (document.body.dataset.testHooks === "on" &&
  Number(new URLSearchParams(location.search).get("head_bytes"))) || 384 * 1024;

/** Where each version of a task is fetched from. */
function audioUrls(task) {
  const urls = { o: audioUrl(task.song.audio_url), a: audioUrl(task.a.audio_url) };
  if (task.b) urls.b = audioUrl(task.b.audio_url);
  return urls;
}

/** Retry a background download a few times without a banner (the task on screen is not waiting for it). */
async function quietly(fn) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryable(err) || attempt >= 4) throw err;
      await waitToRetry(Math.min(15000, 1000 * 2 ** attempt));
    }
  }
}

const loudly = (fn) => withRetry("loading the audio", fn);

/** The task after the current one ({task, audio}), as /api/next?ahead=1 gave it; its audio is fetched once
 * the current task's audio is all here. */
let upcoming = null;

function prefetchUpcoming() {
  if (!upcoming || upcoming.audio) return;
  upcoming.audio = new TaskAudio(audioUrls(upcoming.task), { token: TOKEN, headBytes: HEAD_BYTES, retry: quietly }).start();
}

/**
 * Sort out the prefetched audio once /api/next?ahead=1 answered `data`: returns the audio fetched for the
 * task to show now, if it is the one prefetched (and nothing failed), and keeps `upcoming` on the task
 * after it; audio fetched for a task that is neither is dropped.
 */
function takePrefetched(data) {
  const kept = upcoming?.audio && !upcoming.audio.failed ? upcoming : null;
  const audio = kept && !data.done && kept.task.task_id === data.task_id ? kept.audio : null;
  const next = data.done ? null : data.next ?? null;
  if (kept && next && kept.task.task_id === next.task_id) return audio;   // still the one after (a reload)
  if (upcoming?.audio && upcoming.audio !== audio) upcoming.audio.abort();
  upcoming = next ? { task: next, audio: null } : null;
  if (audio) audio.retry = loudly;   // on screen now: say so when its downloads wait for the connection
  return audio;
}

/**
 * The original of a task: its first part, when that is only a part, is decoded and handed to `onHead`
 * so it can play at once; resolves to the whole file decoded. A browser that cannot decode the first
 * part alone just waits for the whole file.
 */
async function decodeOriginal(audio, onHead) {
  const head = await audio.head;
  if (head.partial && head.bytes.byteLength < head.total) {
    try {
      onHead(await ctx.decodeAudioData(head.bytes.slice(0)));
    } catch { /* not decodable in part: wait for the rest */ }
  }
  return await decodeBytes(audio.urls.o, await audio.original);
}

async function decodeBytes(url, bytes) {
  try {
    return await ctx.decodeAudioData(bytes);
  } catch (err) {
    const part = url.split("?")[0].split("/").pop();
    throw new AudioDecodeError(`this browser cannot play ${part === "original" ? "the original" : `edit ${part.toUpperCase()}`} (${err.message || err})`);
  }
}

async function loadNext() {
  stopPlayback();
  showView("loading");
  $("loading-text").textContent = "Loading the next song…";
  $("loading-progress").hidden = true;
  const { data } = await withRetry("loading the next song", () => api("/api/next?ahead=1"));
  const prefetched = takePrefetched(data);
  if (data.done) {
    app.task = null;
    $("done-message").textContent = data.message || "There is nothing left to judge. Thank you!";
    try {
      const me = (await api("/api/me")).data;
      setProgress(me.done, me.total);
    } catch { /* the message alone is enough */ }
    showView("done");
    announce($("done-message").textContent);
    return;
  }
  await showTask(data, prefetched);
}

/** Download progress of each version: {v: [received, total]}; shown while loading and on the version buttons. */
const downloads = {};

function showDownload(v, received, total) {
  downloads[v] = [received, total];
  const share = total ? Math.min(100, Math.round((100 * received) / total)) : null;
  if (!$("view-loading").hidden) {
    const all = Object.values(downloads).reduce((sum, [r, t]) => [sum[0] + r, sum[1] + t], [0, 0]);
    $("loading-progress").hidden = !all[1];
    $("loading-progress").max = Math.max(1, all[1]);
    $("loading-progress").value = all[0];
    $("loading-text").textContent = all[1]
      ? `Loading the audio: ${Math.round((100 * all[0]) / all[1])} % of ${megabytes(all[1])}…`
      : `Loading the audio: ${megabytes(all[0])}…`;
  }
  const status = document.querySelector(`#version-${v} .version-loading`);
  if (status) status.textContent = share === null ? `loading ${megabytes(received)}` : `loading ${share} %`;
}

/** Show `task`, with its audio as prefetched (`audio`, a TaskAudio) or fetched now. */
async function showTask(task, audio = null) {
  app.task = task;
  setProgress(task.progress?.done ?? 0, task.progress?.total ?? 0);
  ctx = ctx || new (window.AudioContext || window.webkitAudioContext)();
  const keys = versionKeys();
  for (const v of Object.keys(downloads)) delete downloads[v];
  // the original first, on its own: its first part plays as soon as it is here, while the rest
  // of it and then the edits (together) download
  if (app.audio && app.audio !== audio) app.audio.onProgress = null;   // the last task's: no longer shown
  app.audioPrefetched = Boolean(audio);
  audio = audio || new TaskAudio(audioUrls(task), { token: TOKEN, headBytes: HEAD_BYTES, retry: loudly }).start();
  app.audio = audio;
  audio.onProgress = showDownload;
  for (const [v, [received, total]] of Object.entries(audio.progress)) showDownload(v, received, total);
  let head = null;
  const showHead = new Promise((resolve) => { head = resolve; });
  const original = decodeOriginal(audio, (buffer) => head(buffer));
  const first = await Promise.race([showHead, original]);
  if (app.task !== task) return;
  const edit = (v) => audio.edits[v].then((bytes) => decodeBytes(audio.urls[v], bytes));
  const rest = [["o", original], ...keys.filter((v) => v !== "o").map((v) => [v, edit(v)])];
  const bounds = task.song.segment_bounds_s;
  app.timelines = { o: sourceTimeline(bounds), a: editTimeline(bounds, task.a.beat_sequence) };
  if (task.b) app.timelines.b = editTimeline(bounds, task.b.beat_sequence);
  app.diffs = task.b ? differenceExcerpts(app.timelines.a, app.timelines.b, EXCERPT_BEFORE_S, EXCERPT_AFTER_S) : [];
  app.player = new Player(ctx, { o: { buffer: first, timeline: app.timelines.o } }, onPlayerChange);
  app.loop = null; app.markIn = null; app.lastDiff = null; app.excerpts = null;
  app.loaded = new Set();   // versions whose whole audio is here

  app.draft = load(draftKey(task.task_id)) || {
    client_id: newClientId(), choice: null, strength: null, rating: null, notes: "", elapsed_ms: 0,
  };
  app.tracker = new ListeningTracker(app.draft.heard || {});
  app.player.onHeard = (v, start, end) => {
    app.tracker.add(v, start, end);
    updateListenStatus();
  };
  app.visibleSince = null;
  buildTaskView(task, {}, new Set(["o"]));
  restoreForm();
  updateListenStatus();
  showView("task");
  for (const w of Object.values(app.waveforms)) w.resize();
  // a new song starts at the top, with focus (and screen readers) on its title
  if (!document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected ||
      document.activeElement.closest("#judgment")) {
    window.scrollTo(0, 0);
    $("task-heading").focus();
  }
  resumeClock();
  saveDraft();
  const restored = app.draft.choice || app.draft.rating || app.draft.notes;
  announce(`${task.song.song_id}: ${task.kind === "rating" ? "rate the edit" : "compare edits A and B"}.` +
    (restored ? " Your unsent answer was restored." : "") +
    (window.matchMedia("(pointer: coarse)").matches ? " Tap Play to listen." : " Press space to play."));
  await Promise.all(rest.map(async ([v, pending]) => {
    const buffer = await pending;
    if (app.task === task) addVersion(v, buffer);
  }));
  // all of this task is here: fetch the next one's audio while this one is judged
  if (app.task === task) prefetchUpcoming();
}

/** A version whose audio arrived after the task was shown (or all of it, after its first part): it can
 * now be played and switched to. */
function addVersion(v, buffer) {
  if (app.player.versions[v]?.buffer === buffer) { app.loaded.add(v); return; }
  app.player.addVersion(v, { buffer, timeline: app.timelines[v] });
  app.loaded.add(v);
  const button = $(`version-${v}`);
  button.removeAttribute("aria-disabled");
  button.querySelector(".version-loading").textContent = "";
  app.waveforms[v].setEnvelope(peaks(buffer), buffer.duration);
  const scale = Math.max(...Object.values(app.waveforms).map((w) => w.scale));
  for (const w of Object.values(app.waveforms)) if (w.scale !== scale) w.setScale(scale);
  if (app.loop) applyLoop(app.player.loopOn);
}

// ---------------------------------------------------------------- building the view

/** The task's versions, waveforms and form; `buffers` holds the versions whose whole audio is here
 * (the others get their waveform when it arrives), `playable` those that can already be played. */
function buildTaskView(task, buffers, playable) {
  $("song-title").textContent = task.song.song_id;
  $("task-instructions").textContent = task.kind === "rating"
    ? "Listen to the edit (and the original if you like), then rate the edit."
    : "Listen to edits A and B (and the original if you like), then say which edit is better.";
  const list = $("versions");
  list.replaceChildren();
  lastFrameKey = "";
  app.waveforms = {};
  app.sections = {};
  const keys = versionKeys();
  const durationOf = (v) => buffers[v]?.duration ?? (Number((v === "o" ? task.song : task[v]).duration_seconds) ||
    app.timelines[v].total);
  // one time axis for every version: a second is as wide on A's waveform as on B's
  const scale = Math.max(...keys.map(durationOf));
  keys.forEach((v, i) => {
    const info = v === "o" ? task.song : task[v];
    const buffer = buffers[v];
    const duration = durationOf(v);
    const splices = v === "o" ? [] : (info.splice_times_s || []);
    const sections = sectionBands(task.song.structure, app.timelines[v]);
    app.sections[v] = sections;
    const row = document.createElement("div");
    row.className = "version";
    row.dataset.version = v;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "version-button";
    button.id = `version-${v}`;
    button.setAttribute("aria-pressed", "false");
    const shortcut = `${i + 1}`;
    const letter = v === "o" ? "O" : v.toUpperCase();
    button.setAttribute("aria-keyshortcuts", `${shortcut} ${letter}`);
    // the visible text is the button's name (no aria-label that would differ from what is shown)
    button.innerHTML = `<span class="visually-hidden">Listen to </span><span class="version-name"></span>` +
      `<span class="version-duration"></span><kbd></kbd>` +
      `<span class="version-loading" aria-live="polite"></span>`;
    if (!playable.has(v)) button.setAttribute("aria-disabled", "true");
    button.querySelector(".version-name").textContent = versionLabel(v);
    button.querySelector(".version-duration").textContent = clock(duration);
    button.querySelector("kbd").textContent = `${shortcut} / ${letter}`;
    button.addEventListener("click", () => switchVersion(v));
    const canvas = document.createElement("canvas");
    canvas.className = "wave";
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `Waveform of ${versionLabel(v)}, ${clock(duration)} long` +
      (v === "o" ? "" : `, ${splices.length} splice point${splices.length === 1 ? "" : "s"} marked`) +
      (sections.length ? `, sections ${sections.map((b) => b.label).join(" ")}` : "") +
      ". Parts already heard are marked along the top. Click to jump there, drag to select a loop.");
    row.append(button, canvas);
    list.append(row);
    const envelope = buffer ? peaks(buffer) : { mins: new Float32Array(1), maxs: new Float32Array(1) };
    app.waveforms[v] = new Waveform(canvas, envelope, duration, splices, {
      onSeek: (t) => {
        if (!app.player.versions[v]) { switchVersion(v); return; }
        app.lastDiff = null;
        app.player.seek(v, t);
      },
      onSelect: (t0, t1) => (app.player.versions[v] ? setLoopFrom(v, t0, t1) : switchVersion(v)),
    }, sections, scale);
  });
  const pair = task.kind !== "rating";
  document.body.classList.toggle("mode-pair", pair);
  document.body.classList.toggle("mode-rating", !pair);
  $("choice-fields").hidden = !pair;
  $("strength-fields").hidden = !pair;
  $("rating-fields").hidden = pair;
  $("next-diff").hidden = !pair;
  $("diff-count").textContent = pair ? `${app.diffs.length} difference${app.diffs.length === 1 ? "" : "s"}` : "";
  updateVersionButtons();
  updateLoopButton();
}

function restoreForm(keepError = false) {
  const d = app.draft;
  for (const el of document.querySelectorAll('input[name="choice"]')) el.checked = el.value === d.choice;
  for (const el of document.querySelectorAll('input[name="strength"]')) el.checked = Number(el.value) === d.strength;
  for (const el of document.querySelectorAll('input[name="rating"]')) el.checked = Number(el.value) === d.rating;
  $("notes").value = d.notes || "";
  updateStrengthState();
  if (!keepError) $("form-error").textContent = "";
}

function updateStrengthState() {
  const tie = app.draft?.choice === "both_good" || app.draft?.choice === "both_bad";
  $("strength-fields").disabled = tie;
  $("strength-hint").textContent = tie ? "Not needed for a tie." : "";
}

// ---------------------------------------------------------------- transport

function onPlayerChange() {
  if (!app.player) return;
  updateVersionButtons();
  const playing = app.player.playing;
  $("play").setAttribute("aria-pressed", String(playing));
  $("play-label").textContent = playing ? "Pause" : "Play";
  $("play-icon").textContent = playing ? "❚❚" : "▶";
}

function updateVersionButtons() {
  if (!app.player) return;
  const current = app.player.now().version;
  for (const v of versionKeys()) {
    const button = $(`version-${v}`);
    if (!button) continue;
    button.setAttribute("aria-pressed", String(v === current));
    button.closest(".version").classList.toggle("current", v === current);
  }
}

function switchVersion(v) {
  if (!app.player) return;
  if (!app.player.versions[v]) {
    if (versionKeys().includes(v)) announce(`${versionLabel(v)} is still loading.`);
    return;
  }
  app.player.switchTo(v);
  announce(`${versionLabel(v)}`);
}

function stopPlayback() {
  if (app.player) app.player.pause();
}

function togglePlay() {
  if (!app.player) return;
  app.player.toggle();
}

function jumpBeats(delta) {
  if (!app.player) return;
  const { version, time } = app.player.now();
  const tl = app.timelines[version];
  const loc = locate(tl, time);
  const slot = Math.max(0, Math.min(tl.seq.length - 1, loc.slot + delta));
  app.lastDiff = null;
  app.player.seek(version, tl.starts[slot]);
}

function position() {
  if (!app.player) return null;
  const { version, time } = app.player.now();
  const loc = locate(app.timelines[version], time);
  return {
    version, time, beat: loc.beat, fraction: loc.fraction, occurrence: loc.occurrence,
    source_beat: loc.beat + loc.fraction, playing: app.player.playing, clock_s: app.player.ctx.currentTime,
  };
}

// ---------------------------------------------------------------- loops

function setLoopFrom(version, t0, t1) {
  const tl = app.timelines[version];
  if (t1 - t0 < 0.1) return;
  app.loop = { start: locate(tl, t0), end: locate(tl, t1), lengthS: t1 - t0, origin: version, times: [t0, t1] };
  applyLoop(true);
  announce(`Looping ${clock(t0, true)} to ${clock(t1, true)} of ${versionLabel(version)}. Press L to stop looping.`);
}

function loopRegions() {
  if (!app.loop) return null;
  const regions = {};
  for (const v of versionKeys()) {
    if (!app.player.versions[v]) continue;    // still loading: its region is set once it is here
    if (v === app.loop.origin) { regions[v] = app.loop.times; continue; }
    const tl = app.timelines[v];
    let s = timeOf(tl, app.loop.start);
    let e = timeOf(tl, app.loop.end);
    if (e - s < 0.1) e = s + app.loop.lengthS;   // the region fell inside a cut: keep its length
    const dur = app.player.duration(v);
    e = Math.min(e, dur);
    s = Math.min(s, Math.max(0, e - 0.1));
    regions[v] = [s, e];
  }
  return regions;
}

function applyLoop(on) {
  app.player.setLoop(loopRegions(), on);
  updateLoopButton();
}

function toggleLoop() {
  if (!app.player) return;
  if (!app.loop) {
    // no region yet: loop the bar around the playhead
    const { version, time } = app.player.now();
    const tl = app.timelines[version];
    const loc = locate(tl, time);
    const first = Math.max(0, loc.slot - (loc.slot % BEATS_PER_JUMP));
    const last = Math.min(tl.seq.length - 1, first + BEATS_PER_JUMP - 1);
    setLoopFrom(version, tl.starts[first], tl.starts[last] + tl.durations[last]);
    return;
  }
  const on = app.player.toggleLoop();
  updateLoopButton();
  announce(on ? "Loop on." : "Loop off.");
}

function markLoop(edge) {
  if (!app.player) return;
  const { version, time } = app.player.now();
  if (edge === "in") {
    app.markIn = { version, time };
    announce(`Loop start set at ${clock(time, true)}. Press ] to set its end.`);
    return;
  }
  if (!app.markIn) { announce("Set the loop start first with [."); return; }
  const startInVersion = app.markIn.version === version
    ? app.markIn.time
    : timeOf(app.timelines[version], locate(app.timelines[app.markIn.version], app.markIn.time));
  const [t0, t1] = [Math.min(startInVersion, time), Math.max(startInVersion, time)];
  app.markIn = null;
  if (t1 - t0 < 0.1) { announce("The loop is too short."); return; }
  setLoopFrom(version, t0, t1);
}

function updateLoopButton() {
  const on = Boolean(app.player?.loopOn);
  $("loop").setAttribute("aria-pressed", String(on));
  $("loop-label").textContent = on ? "Loop on" : "Loop";
  const regions = app.player?.loop;
  for (const [v, w] of Object.entries(app.waveforms)) {
    w.region = regions ? regions[v] : null;
    w.regionOn = on;
    w.draw();
  }
}

// ---------------------------------------------------------------- next difference

function nextDifference() {
  if (!app.player || !app.task?.b) return;
  if (!app.player.versions.a || !app.player.versions.b) { announce("A and B are still loading."); return; }
  if (!app.diffs.length) { announce("A and B play the same beats: there is no difference to jump to."); return; }
  // each press plays the next difference; after a seek, the first one after the playhead
  let index = app.lastDiff !== null ? app.lastDiff + 1 : app.diffs.findIndex((d) => d.beat > position().beat);
  const wrapped = index < 0 || index >= app.diffs.length;
  if (wrapped) index = 0;
  const diff = app.diffs[index];
  app.lastDiff = index;
  const excerpts = [
    { version: "a", start: diff.a[0], end: diff.a[1], at: diff.atA },
    { version: "b", start: diff.b[0], end: diff.b[1], at: diff.atB },
  ];
  app.excerpts = { beat: diff.beat, index, excerpts };
  app.player.loopOn = false;
  updateLoopButton();
  app.player.playExcerpts(excerpts);
  announce(`${wrapped && app.diffs.length > 1 ? "Back to the first difference. " : ""}` +
    `Difference ${index + 1} of ${app.diffs.length} (beat ${diff.beat + 1}): playing A, then B.`);
}

// ---------------------------------------------------------------- must-listen

/** What each version to be judged must have had played: {a: need, b: need} (only A for a rating). */
function listeningNeeds() {
  if (!app.task) return {};
  const needs = {};
  for (const v of app.task.kind === "rating" ? ["a"] : ["a", "b"]) {
    if (app.task[v]?.must_listen) needs[v] = app.task[v].must_listen;
  }
  return needs;
}

function unheard() {
  return app.tracker ? stillToHear(app.tracker, listeningNeeds(), versionLabel, clock) : "";
}

function recordPlayed() {
  if (!app.player || !app.tracker) return;
  for (const p of app.player.playedUntil()) app.tracker.add(p.version, p.start, p.end);
}

let lastListenText = null;
function updateListenStatus() {
  recordPlayed();
  showHeard();
  const text = unheard();
  if (text === lastListenText) return;
  lastListenText = text;
  $("listen-status").textContent = text || (app.task ? "You have heard enough of each edit to judge." : "");
  $("listen-status").classList.toggle("met", !text);
  $("submit").setAttribute("aria-disabled", String(Boolean(text)));
  if (!text && $("form-error").textContent.startsWith("Listen first")) $("form-error").textContent = "";
}
setInterval(updateListenStatus, LISTEN_POLL_MS);

/** Mark on each waveform what has been played of it (what is recorded, plus what is playing now). */
function showHeard() {
  if (!app.tracker) return;
  for (const [v, w] of Object.entries(app.waveforms)) {
    const heard = app.tracker.heard[v] || [];
    const key = heard.map(([a, b]) => `${a.toFixed(2)}-${b.toFixed(2)}`).join(",");
    if (key === w.heardKey) continue;
    w.heardKey = key;
    w.heard = heard.map(([a, b]) => [a, b]);
    w.draw();
  }
}

/** True when the rater has heard enough to judge; otherwise says what is still unheard and returns false. */
function mayJudge() {
  updateListenStatus();
  const text = unheard();
  if (!text) return true;
  const message = `Listen first. ${text}`;
  $("form-error").textContent = message;
  announce(message);
  restoreForm(true);
  return false;
}

// ---------------------------------------------------------------- form and submission

function setChoice(choice) {
  if (refuseWhileSaving()) return;
  if (!app.draft || app.task?.kind === "rating") return;
  if (!mayJudge()) return;
  app.draft.choice = choice;
  restoreForm();
  saveDraft();
  const needsStrength = choice === "a" || choice === "b";
  announce(`${CHOICES[choice].label}.${needsStrength && !app.draft.strength ? " How much better? Z, X or C." : ""}`);
}

function setStrength(strength) {
  if (refuseWhileSaving()) return;
  if (!app.draft || app.task?.kind === "rating") return;
  if (app.draft.choice === "both_good" || app.draft.choice === "both_bad") {
    announce("Strength applies only when one edit is better.");
    return;
  }
  if (!mayJudge()) return;
  app.draft.strength = strength;
  restoreForm();
  saveDraft();
  announce(`${STRENGTHS[strength]} better.`);
}

function setRating(rating) {
  if (refuseWhileSaving()) return;
  if (!app.draft || app.task?.kind !== "rating") return;
  if (!mayJudge()) return;
  app.draft.rating = rating;
  restoreForm();
  saveDraft();
  announce(`Rated ${RATINGS[rating]}.`);
}

function buildJudgment() {
  const d = app.draft;
  recordPlayed();
  const base = {
    client_id: d.client_id, task_id: app.task.task_id,
    notes: (d.notes || "").slice(0, NOTES_LIMIT), time_spent_ms: Math.round(elapsedMs()),
    listening: app.tracker.record(versionKeys()),
  };
  if (app.task.kind === "rating") {
    if (!d.rating) throw new Error("Rate the edit first: Poor, Okay, Good or Excellent (keys Z X C V).");
    return { ...base, rating: d.rating };
  }
  if (!d.choice) throw new Error("Choose first: A better (←), B better (→), equally good (↑) or equally bad (↓).");
  const choice = CHOICES[d.choice];
  if (choice.preference !== "tie" && !d.strength) throw new Error("Say how much better: slightly (Z), moderately (X) or significantly (C).");
  return { ...base, preference: choice.preference, tie_kind: choice.tie_kind, strength: choice.preference === "tie" ? 1 : d.strength };
}

/** Store the judgment as pending and send it; true once it is acknowledged. */
async function submit() {
  if (!app.task || app.sending) return false;
  if (!mayJudge()) return false;
  let judgment;
  try { judgment = buildJudgment(); }
  catch (err) {
    $("form-error").textContent = err.message;
    announce(err.message);
    return false;
  }
  $("form-error").textContent = "";
  save(PENDING_KEY, judgment);
  return await sendPending();
}

/** Lock the answer form while an answer is on its way (it shows what is sent, not an editable draft). */
function lockForm(locked, state = "") {
  $("judgment").inert = locked;
  $("judgment").classList.toggle("locked", locked);
  $("judgment").setAttribute("aria-busy", String(locked));
  $("submit").disabled = locked;
  $("save-state").textContent = state;
}

/** Show a message about an answer that stays on screen until dismissed (or the next answer is saved). */
function showSaveNotice(message) {
  $("save-notice-text").textContent = message;
  $("save-notice").hidden = !message;
}

/** Send the stored judgment until the server acknowledges it, then move on. */
async function sendPending() {
  const judgment = load(PENDING_KEY);
  if (!judgment) return true;
  app.sending = true;
  lockForm(true, "Saving your answer… It is not saved until this page says so.");
  announce("Saving your answer…");
  try {
    await withRetry("saving your answer", () => api("/api/judgments", { method: "POST", json: judgment }),
      "Connection lost: your answer is NOT saved yet. It is kept in this browser and sent when the connection is back.");
    save(PENDING_KEY, null);
    save(draftKey(judgment.task_id), null);
    rememberLastAnswer(judgment);
    if (app.task?.task_id === judgment.task_id) app.draft = null;
    showSaveNotice("");
    announce("Saved. Thank you!");
    return true;
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) throw err;
    save(PENDING_KEY, null);
    if (err instanceof HttpError && err.status === 409) {
      // the server kept an earlier answer to this task (e.g. from another tab): this one was dropped
      save(draftKey(judgment.task_id), null);
      if (app.task?.task_id === judgment.task_id) app.draft = null;
      const message = `Your answer was not saved: ${err.message}.`;
      showSaveNotice(message);
      announce(message);
      return true;
    }
    if (err instanceof HttpError && (err.status === 403 || err.status === 404)) {
      // the task is no longer ours to judge (withdrawn or reassigned): move on
      save(draftKey(judgment.task_id), null);
      if (app.task?.task_id === judgment.task_id) app.draft = null;
      const message = `Your answer was not saved, the song is no longer yours to judge: ${err.message}.`;
      showSaveNotice(message);
      announce(message);
      return true;
    }
    $("form-error").textContent = `Could not save: ${err.message}`;
    announce(`Could not save: ${err.message}`);
    return false;
  } finally {
    app.sending = false;
    lockForm(false);
  }
}

// ---------------------------------------------------------------- revising the last answer

/** The answer as the form holds it: {choice, strength, rating, notes} from a judgment as sent. */
function answerOf(judgment) {
  const choice = judgment.preference === "tie" ? judgment.tie_kind : judgment.preference ?? null;
  return { choice, strength: judgment.preference === "tie" ? null : judgment.strength ?? null,
    rating: judgment.rating ?? null, notes: judgment.notes || "" };
}

function describeAnswer(last) {
  if (last.kind === "rating") return `rated ${RATINGS[last.rating] || "?"}`;
  const label = CHOICES[last.choice]?.label || "?";
  return last.strength ? `${label}, ${STRENGTHS[last.strength]}` : label;
}

function rememberLastAnswer(judgment) {
  const task = app.task?.task_id === judgment.task_id ? app.task : null;
  save(LAST_ANSWER_KEY, { task_id: judgment.task_id, song_id: task?.song.song_id ?? "",
    kind: judgment.rating ? "rating" : "pair", ...answerOf(judgment) });
  showLastAnswer();
}

function showLastAnswer() {
  const last = load(LAST_ANSWER_KEY);
  const view = $("view-task").hidden ? ($("view-done").hidden ? null : "done") : "task";
  $("revise").hidden = !last || !view;
  if (!last) return;
  $("revise-summary").textContent = `Your last answer${last.song_id ? ` (${last.song_id})` : ""}: ${describeAnswer(last)}.`;
}

function openRevision() {
  const last = load(LAST_ANSWER_KEY);
  if (!last) return;
  const pair = last.kind !== "rating";
  $("revise-song").textContent = last.song_id ? `(${last.song_id})` : "";
  $("revise-choice").hidden = !pair;
  $("revise-strength").hidden = !pair;
  $("revise-rating").hidden = pair;
  for (const el of document.querySelectorAll('input[name="revise-choice"]')) el.checked = el.value === last.choice;
  for (const el of document.querySelectorAll('input[name="revise-strength"]')) el.checked = Number(el.value) === last.strength;
  for (const el of document.querySelectorAll('input[name="revise-rating"]')) el.checked = Number(el.value) === last.rating;
  $("revise-notes").value = last.notes || "";
  $("revise-error").textContent = "";
  stopPlayback();
  $("revise-dialog").showModal();
}

async function saveRevision() {
  const last = load(LAST_ANSWER_KEY);
  if (!last) return;
  const checked = (name) => document.querySelector(`input[name="${name}"]:checked`)?.value ?? null;
  const body = { task_id: last.task_id, notes: $("revise-notes").value.slice(0, NOTES_LIMIT) };
  if (last.kind === "rating") {
    body.rating = Number(checked("revise-rating"));
  } else {
    const choice = checked("revise-choice");
    const tie = choice === "both_good" || choice === "both_bad";
    if (!choice || (!tie && !checked("revise-strength"))) {
      $("revise-error").textContent = "Choose which edit is better and by how much (or a tie).";
      return;
    }
    Object.assign(body, { preference: CHOICES[choice].preference, tie_kind: CHOICES[choice].tie_kind,
      strength: tie ? 1 : Number(checked("revise-strength")) });
  }
  try {
    await api("/api/judgments/last", { method: "PUT", json: body });
  } catch (err) {
    if (err instanceof HttpError && err.status === 409) save(LAST_ANSWER_KEY, null);
    $("revise-error").textContent = `Not revised: ${err.message}`;
    showLastAnswer();
    return;
  }
  save(LAST_ANSWER_KEY, { ...last, ...answerOf(body), kind: last.kind });
  $("revise-dialog").close();
  showLastAnswer();
  if (!$("view-task").hidden) $("task-heading").focus();   // back to the song, where the shortcuts work
  announce(`Your last answer is now: ${describeAnswer(load(LAST_ANSWER_KEY))}.`);
}

/** While an answer is being saved it cannot change: say so and refuse. */
function refuseWhileSaving() {
  if (!app.sending) return false;
  announce("Your answer is being saved: it cannot be changed now.");
  return true;
}

async function submitAndContinue() {
  if (!app.task || app.sending) return;
  if (await submit()) await run(loadNext);
}

// ---------------------------------------------------------------- keyboard

const KEYS = {
  " ": togglePlay,
  "1": () => switchVersion("o"), o: () => switchVersion("o"),
  "2": () => switchVersion("a"), a: () => switchVersion("a"),
  "3": () => switchVersion("b"), b: () => switchVersion("b"),
  n: nextDifference,
  l: toggleLoop,
  "[": () => markLoop("in"),
  "]": () => markLoop("out"),
  ",": () => jumpBeats(-BEATS_PER_JUMP),
  ".": () => jumpBeats(BEATS_PER_JUMP),
  Home: () => { if (app.player) { app.lastDiff = null; app.player.seek(app.player.now().version, 0); } },
  ArrowLeft: () => setChoice("a"),
  ArrowRight: () => setChoice("b"),
  ArrowUp: () => setChoice("both_good"),
  ArrowDown: () => setChoice("both_bad"),
  z: () => (app.task?.kind === "rating" ? setRating(1) : setStrength(1)),
  x: () => (app.task?.kind === "rating" ? setRating(2) : setStrength(2)),
  c: () => (app.task?.kind === "rating" ? setRating(3) : setStrength(3)),
  v: () => setRating(4),
  t: () => { if (!refuseWhileSaving()) $("notes").focus(); },
  s: submitAndContinue,
  "?": () => { $("shortcuts").open = !$("shortcuts").open; },
};

// Controls that handle keys themselves (Space presses a button or checks a radio, arrows move
// between radios, letters type into text fields): while one has focus, its keys stay its own.
const INTERACTIVE = "input, button, select, textarea, summary, a[href], [contenteditable]:not([contenteditable=false])," +
  " [role=button], [role=radio], [role=checkbox], [role=slider], [role=tab], [role=menuitem], [role=option]";
const TEXT_ENTRY = "textarea, select, input:not([type=radio]):not([type=checkbox]):not([type=button]):not([type=submit])";

/** Whether focus is on a control that keeps its own keys (no page shortcut may take them). */
function focusInControl(target) {
  return Boolean(target?.closest?.(INTERACTIVE));
}

document.addEventListener("keydown", (e) => {
  if (e.target.closest?.("dialog[open]")) return;   // a dialog (revising an answer) keeps every key
  if (e.target.closest?.(TEXT_ENTRY)) {
    if (e.key === "Escape") e.target.blur();
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.id === "notes") { e.preventDefault(); submitAndContinue(); }
    return;
  }
  if (focusInControl(e.target)) {
    if (e.key === "Escape") e.target.blur();   // back to the page, where the shortcuts work
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if ($("view-task").hidden) return;
  const handler = KEYS[e.key] || KEYS[e.key.toLowerCase()];
  if (!handler) return;
  e.preventDefault();
  handler();
});

// ---------------------------------------------------------------- wiring

function wire() {
  $("play").addEventListener("click", togglePlay);
  $("next-diff").addEventListener("click", nextDifference);
  $("loop").addEventListener("click", toggleLoop);
  $("mark-in").addEventListener("click", () => markLoop("in"));
  $("mark-out").addEventListener("click", () => markLoop("out"));
  $("back").addEventListener("click", () => jumpBeats(-BEATS_PER_JUMP));
  $("forward").addEventListener("click", () => jumpBeats(BEATS_PER_JUMP));
  for (const el of document.querySelectorAll('input[name="choice"]')) el.addEventListener("change", () => setChoice(el.value));
  for (const el of document.querySelectorAll('input[name="strength"]')) el.addEventListener("change", () => setStrength(Number(el.value)));
  for (const el of document.querySelectorAll('input[name="rating"]')) el.addEventListener("change", () => setRating(Number(el.value)));
  $("notes").addEventListener("input", () => {
    if (!app.draft) return;
    app.draft.notes = $("notes").value;
    saveDraft();
  });
  $("judgment").addEventListener("submit", (e) => { e.preventDefault(); submitAndContinue(); });
  $("retry").addEventListener("click", () => run(start));
  $("save-notice-close").addEventListener("click", () => showSaveNotice(""));
  $("show-intro").addEventListener("click", () => showIntro(true));
  $("revise-open").addEventListener("click", openRevision);
  $("revise-cancel").addEventListener("click", () => $("revise-dialog").close());
  $("revise-form").addEventListener("submit", (e) => { e.preventDefault(); saveRevision(); });
  $("intro-start").addEventListener("click", () => showIntro(false));
  // a mouse click on a page button or choice does not take focus, so the shortcuts keep working
  // after it (keyboard users still tab to every control, which then keeps its own keys)
  $("view-task").addEventListener("mousedown", (e) => {
    if (e.button === 0 && e.target.closest("button, .choice") && !e.target.closest("textarea")) e.preventDefault();
  });
  window.addEventListener("resize", () => { for (const w of Object.values(app.waveforms)) w.resize(); });
  if (window.matchMedia("(max-width: 700px)").matches) $("shortcuts").open = false;
}

let lastFrameKey = "";
function frame() {
  if (app.player && !$("view-task").hidden) {
    const { version, time } = app.player.now();
    const key = `${version}:${time.toFixed(3)}:${app.player.playing}`;
    if (key === lastFrameKey) { requestAnimationFrame(frame); return; }
    lastFrameKey = key;
    const tl = app.timelines[version];
    const loc = locate(tl, time);
    for (const [v, w] of Object.entries(app.waveforms)) {
      w.active = v === version;
      w.playhead = v === version ? time : timeOf(app.timelines[v], loc);
      w.draw();
    }
    $("clock").textContent = `${versionLabel(version)} ${clock(time, true)} / ${clock(app.player.duration(version))} · beat ${loc.beat + 1}`;
    updateVersionButtons();
    if (app.player.playing !== ($("play").getAttribute("aria-pressed") === "true")) onPlayerChange();
  }
  requestAnimationFrame(frame);
}

async function run(step) {
  try {
    await step();
  } catch (err) {
    showView("error");
    if (err instanceof HttpError && err.status === 401) {
      $("error-message").textContent = "This link is not valid. Please ask the organiser of the listening test for a new link.";
      $("retry").hidden = true;
    } else {
      $("error-message").textContent = `Something went wrong: ${err.message}`;
      $("retry").hidden = false;
    }
    announce($("error-message").textContent);
  }
}

async function showRater() {
  const me = (await withRetry("loading your details", () => api("/api/me"))).data;
  $("rater-name").textContent = `· ${me.rater}`;
  setProgress(me.done, me.total);
  return me;
}

const headphoneCheck = new HeadphoneCheck({
  api, announce, getContext: () => (ctx = ctx || new (window.AudioContext || window.webkitAudioContext)()),
});

/** Whether the rater may go on to the tasks: the headphone check is off, passed, or passed now. */
async function passHeadphoneCheck(me) {
  const check = me.headphone_check;
  if (!check?.required || check.passed) return true;
  showView("headphones");
  if (check.attempts_left <= 0) {
    $("hp-play").hidden = true;
    $("hp-result").textContent = "You did not pass the headphone check and no attempts are left. Please tell the organiser of the test.";
    return false;
  }
  $("hp-title").focus?.();
  return await headphoneCheck.run();
}

/** Show the instructions (first visit, or on request) or put them away for good. */
function showIntro(show) {
  $("intro").hidden = !show;
  $("show-intro").setAttribute("aria-expanded", String(show));
  if (show) { $("intro").scrollIntoView?.({ block: "start" }); $("intro-title").focus(); return; }
  save(INTRO_KEY, true);
  if (!$("view-task").hidden) $("task-heading").focus();
}

async function start() {
  if (!load(INTRO_KEY)) showIntro(true);
  showView("loading");
  const me = await showRater();
  if (!(await passHeadphoneCheck(me))) return;
  showView("loading");
  if (load(PENDING_KEY)) {
    $("loading-text").textContent = "Sending your last answer…";
    await sendPending();
  }
  await loadNext();
}

// The browser tests read the page's state through this hook; only a server started
// with the test setting (data-test-hooks on <body>) puts it on the page.
const testHooks = {
  position,
  task: () => app.task,
  draft: () => (app.draft ? { ...app.draft, elapsed_ms: Math.round(elapsedMs()) } : null),
  differences: () => app.diffs.map((d) => ({ ...d, a: d.a.slice(), b: d.b.slice(), beats: d.beats.slice() })),
  excerpts: () => app.excerpts,
  loop: () => app.player?.loop ?? null,
  loopOn: () => Boolean(app.player?.loopOn),
  player: () => app.player,
  sending: () => app.sending,
  ready: () => !$("view-task").hidden && Boolean(app.player) && versionKeys().every((v) => app.loaded?.has(v)),
  playable: () => !$("view-task").hidden && Boolean(app.player),
  downloads: () => ({ ...downloads }),
  upcoming: () => (upcoming ? { task_id: upcoming.task.task_id, fetching: Boolean(upcoming.audio),
    progress: { ...(upcoming.audio?.progress ?? {}) }, failed: Boolean(upcoming.audio?.failed) } : null),
  prefetched: () => Boolean(app.audioPrefetched),
  listening: () => (updateListenStatus(), {
    heard: app.tracker?.heard ?? null, record: app.tracker?.record(versionKeys()) ?? null, stillToHear: unheard(),
    met: Object.fromEntries(Object.entries(listeningNeeds()).map(([v, need]) => [v, Boolean(app.tracker?.met(v, need))])),
  }),
  setPlaybackRate: (rate) => app.player?.setRate(rate),
  sections: () => app.sections,
  waveformScales: () => Object.fromEntries(Object.entries(app.waveforms).map(([v, w]) => [v, w.scale])),
  headphoneCheck: () => (headphoneCheck.state ? { ...headphoneCheck.state } : null),
  setToneScale: (scale) => { headphoneCheck.scale = scale; },
};
if (document.body.dataset.testHooks === "on") window.raterApp = testHooks;

wire();
requestAnimationFrame(frame);
run(start);
