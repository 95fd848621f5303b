// Waveform canvas of one version: the song's sections as coloured bands, min/max peaks from
// the decoded buffer, splice points, the parts already heard, the loop region and the playhead.
// Versions drawn with the same `scale` (seconds across the full width) share one time axis.
// Click to jump there; drag to select a loop region.

const BUCKETS = 2000;
// one colour per section label (A, B, C, ...); sections that sound alike share a label and a colour
const SECTION_COLORS = ["#4263eb", "#2f9e44", "#e67700", "#ae3ec9", "#0c8599", "#c2255c", "#5c940d", "#862e9c"];

/** The colour of a section label. */
export function sectionColor(label) {
  const code = String(label || "A").toUpperCase().charCodeAt(0) - 65;
  return SECTION_COLORS[((code % SECTION_COLORS.length) + SECTION_COLORS.length) % SECTION_COLORS.length];
}

/** Min/max envelope of a buffer (mixed to mono) in `BUCKETS` columns. */
export function peaks(buffer) {
  const n = buffer.length;
  const channels = [];
  for (let c = 0; c < buffer.numberOfChannels; c++) channels.push(buffer.getChannelData(c));
  const buckets = Math.max(1, Math.min(BUCKETS, n));
  const mins = new Float32Array(buckets), maxs = new Float32Array(buckets);
  const per = n / buckets;
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor(b * per), to = Math.max(from + 1, Math.floor((b + 1) * per));
    let lo = 1, hi = -1;
    // sample sparsely inside long buckets: the envelope stays faithful and this stays fast
    const step = Math.max(1, Math.floor((to - from) / 256));
    for (let i = from; i < to && i < n; i += step) {
      let v = 0;
      for (const ch of channels) v += ch[i];
      v /= channels.length;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    mins[b] = lo; maxs[b] = hi;
  }
  return { mins, maxs };
}

export class Waveform {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{mins: Float32Array, maxs: Float32Array}} envelope
   * @param {number} duration seconds
   * @param {number[]} spliceTimes seconds
   * @param {{onSeek: function(number), onSelect: function(number, number)}} handlers
   * @param {{label: string, start: number, end: number}[]} sections bands in seconds (may be empty)
   * @param {number} scale seconds across the canvas's full width (default: `duration`)
   */
  constructor(canvas, envelope, duration, spliceTimes, handlers, sections = [], scale = duration) {
    this.canvas = canvas;
    this.envelope = envelope;
    this.duration = Math.max(duration, 1e-6);
    this.scale = Math.max(scale, this.duration);
    this.heard = [];            // [[start, end], ...] seconds of this version already played
    this.spliceTimes = spliceTimes || [];
    this.handlers = handlers;
    this.sections = sections || [];
    this.base = document.createElement("canvas");
    this.active = false;
    this.playhead = null;
    this.region = null;
    this.regionOn = false;
    this._drag = null;
    canvas.addEventListener("pointerdown", (e) => this._down(e));
    canvas.addEventListener("pointermove", (e) => this._move(e));
    canvas.addEventListener("pointerup", (e) => this._up(e));
    canvas.addEventListener("pointercancel", () => { this._drag = null; this.draw(); });
    this.resize();
  }

  _timeAt(e) {
    const r = this.canvas.getBoundingClientRect();
    const t = Math.max(0, Math.min(1, (e.clientX - r.left) / Math.max(1, r.width))) * this.scale;
    return Math.min(t, this.duration);
  }

  _down(e) {
    if (e.button !== undefined && e.button !== 0) return;
    this._drag = { x0: e.clientX, t0: this._timeAt(e), t1: null };
    this.canvas.setPointerCapture?.(e.pointerId);
  }

  _move(e) {
    if (!this._drag) return;
    if (Math.abs(e.clientX - this._drag.x0) > 6) {
      this._drag.t1 = this._timeAt(e);
      this.draw();
    }
  }

  _up(e) {
    const drag = this._drag;
    this._drag = null;
    if (!drag) return;
    if (drag.t1 === null) {
      this.handlers.onSeek(drag.t0);
    } else {
      const t1 = this._timeAt(e);
      this.handlers.onSelect(Math.min(drag.t0, t1), Math.max(drag.t0, t1));
    }
    this.draw();
  }

  /** Show a new envelope (the decoded audio arrived) over `duration` seconds. */
  setEnvelope(envelope, duration = this.duration) {
    this.envelope = envelope;
    this.duration = Math.max(duration, 1e-6);
    this.scale = Math.max(this.scale, this.duration);
    this.base.width = 0;   // force the static layer to be drawn again
    this.resize();
  }

  /** Draw on an axis of `scale` seconds across the full width (shared with the other versions). */
  setScale(scale) {
    this.scale = Math.max(scale, this.duration);
    this.base.width = 0;
    this.resize();
  }

  /** Re-render the static layer at the canvas's current CSS size and pixel ratio. */
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * ratio));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * ratio));
    if (w === this.base.width && h === this.base.height) return this.draw();
    this.canvas.width = this.base.width = w;
    this.canvas.height = this.base.height = h;
    const g = this.base.getContext("2d");
    const style = getComputedStyle(this.canvas);
    g.clearRect(0, 0, w, h);
    this._drawSections(g, w, h, ratio);
    g.fillStyle = style.getPropertyValue("--wave-color").trim() || "#4a6fa5";
    const { mins, maxs } = this.envelope;
    const mid = h / 2;
    const width = Math.min(w, Math.round((this.duration / this.scale) * w));   // this version's part of the axis
    for (let x = 0; x < width; x++) {
      const b = Math.min(mins.length - 1, Math.floor((x / width) * mins.length));
      const top = mid - Math.max(0, maxs[b]) * mid * 0.95;
      const bottom = mid - Math.min(0, mins[b]) * mid * 0.95;
      g.fillRect(x, top, 1, Math.max(1, bottom - top));
    }
    g.fillStyle = style.getPropertyValue("--splice-color").trim() || "#d9480f";
    for (const t of this.spliceTimes) {
      const x = Math.round((t / this.scale) * w);
      g.fillRect(x - Math.max(1, ratio), 0, Math.max(2, 2 * ratio), h);
      g.beginPath();
      g.moveTo(x - 5 * ratio, 0); g.lineTo(x + 5 * ratio, 0); g.lineTo(x, 7 * ratio);
      g.fill();
    }
    this.draw();
  }

  _drawSections(g, w, h, ratio) {
    g.save();
    g.font = `bold ${Math.round(11 * ratio)}px sans-serif`;
    g.textBaseline = "bottom";
    for (const band of this.sections) {
      const x0 = (band.start / this.scale) * w;
      const x1 = (band.end / this.scale) * w;
      g.globalAlpha = 0.16;
      g.fillStyle = sectionColor(band.label);
      g.fillRect(x0, 0, Math.max(1, x1 - x0), h);
      g.globalAlpha = 0.8;
      g.fillRect(Math.round(x0), h - 3 * ratio, Math.max(1, x1 - x0), 3 * ratio);
      if (x1 - x0 > 14 * ratio) g.fillText(band.label, x0 + 3 * ratio, h - 4 * ratio);
    }
    g.restore();
  }

  draw() {
    const g = this.canvas.getContext("2d");
    const { width: w, height: h } = this.canvas;
    const style = getComputedStyle(this.canvas);
    g.clearRect(0, 0, w, h);
    g.drawImage(this.base, 0, 0);
    const x = (t) => (t / this.scale) * w;
    const ratio = window.devicePixelRatio || 1;
    if (this.duration < this.scale) {   // past this version's end: nothing to hear there
      g.fillStyle = "rgba(128, 128, 128, 0.18)";
      g.fillRect(x(this.duration), 0, w - x(this.duration), h);
    }
    g.fillStyle = style.getPropertyValue("--heard-color").trim() || "#2b7a0b";
    for (const [a, b] of this.heard) g.fillRect(x(a), 0, Math.max(1, x(b) - x(a)), 4 * ratio);
    const sel = this._drag && this._drag.t1 !== null ? [Math.min(this._drag.t0, this._drag.t1), Math.max(this._drag.t0, this._drag.t1)] : null;
    const region = sel || this.region;
    if (region) {
      g.fillStyle = this.regionOn || sel ? "rgba(255, 196, 0, 0.30)" : "rgba(128, 128, 128, 0.22)";
      g.fillRect(x(region[0]), 0, Math.max(1, x(region[1]) - x(region[0])), h);
    }
    if (this.playhead !== null) {
      g.fillStyle = this.active ? (style.getPropertyValue("--playhead-color").trim() || "#111") : "rgba(90, 90, 90, 0.6)";
      g.fillRect(Math.round(x(this.playhead)) - ratio, 0, (this.active ? 3 : 2) * ratio, h);
    }
  }
}
