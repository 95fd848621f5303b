// One transport over several decoded versions of a song on a shared AudioContext clock.
// Switching versions starts the target at the same musical position at a scheduled
// instant and crossfades with short gain ramps, so there is no gap and no click.
// `rate` plays faster than real time (the browser tests use it to get through long edits).

// the page loads this module with ?v=<asset version>; import its siblings at the same version
const { mapTime } = await import(`./beatmap.js${new URL(import.meta.url).search}`);

const FADE_S = 0.015;   // crossfade length: short enough to feel instant, long enough to avoid clicks
const LEAD_S = 0.03;    // schedule slightly ahead so both nodes start exactly on the audio clock

export class Player {
  /**
   * @param {AudioContext} ctx
   * @param {Object<string, {buffer: AudioBuffer, timeline: object}>} versions keyed by "o", "a", "b"
   */
  constructor(ctx, versions, onChange = () => {}) {
    this.ctx = ctx;
    this.versions = versions;
    this.onChange = onChange;
    this.version = "o";
    this.pausedAt = 0;          // time (s) in `version` while paused
    this.segments = [];         // scheduled playback: {version, node, gain, ctxStart, offset, duration, loop}
    this.loop = null;           // {o: [start, end], a: [...], b: [...]} or null
    this.loopOn = false;
    this.rate = 1;              // playback rate: seconds of audio per second of the audio clock
    this.onHeard = null;        // onHeard(version, start, end): a stretch of audio that was played
    this.anchor = null;         // while paused: the position the rater chose, that switching maps from
  }

  /**
   * Add a version whose audio arrived later ({buffer, timeline}), or replace the first part of one
   * with all of it: playback of that version carries on from the same point.
   */
  addVersion(name, version) {
    const replacing = Boolean(this.versions[name]);
    this.versions[name] = version;
    if (replacing && this.playing && this._at(this.ctx.currentTime).version === name) this._restartInPlace();
  }

  get playing() { this._poll(); return this.segments.length > 0; }

  duration(version = this.version) { return this.versions[version].buffer.duration; }

  /** Current version and time (s) in it, as heard now. */
  now() { this._poll(); return this._at(this.ctx.currentTime); }

  _at(ctxTime) {
    if (!this.segments.length) return { version: this.version, time: this.pausedAt };
    let seg = this.segments[0];
    for (const s of this.segments) if (s.ctxStart <= ctxTime + 1e-6) seg = s;
    let t = seg.offset + Math.max(0, ctxTime - seg.ctxStart) * seg.rate;
    if (seg.loop) {
      const [a, b] = seg.loop;
      if (t >= b) t = a + ((t - a) % (b - a));
    }
    return { version: seg.version, time: Math.min(t, this.duration(seg.version)) };
  }

  _poll() {
    if (!this.segments.length) return;
    const last = this.segments[this.segments.length - 1];
    if (last.loop) return;
    const end = last.ctxStart + Math.min(last.duration, this.duration(last.version) - last.offset) / last.rate;
    if (this.ctx.currentTime >= end) {
      this.anchor = null;
      this.version = last.version;
      this.pausedAt = Math.min(last.offset + (end - last.ctxStart), this.duration(last.version));
      this._stopAll(this.ctx.currentTime);
      this.onChange("ended");
    }
  }

  _startNode(version, when, offset, duration, loop) {
    const node = this.ctx.createBufferSource();
    node.buffer = this.versions[version].buffer;
    node.playbackRate.value = this.rate;
    const gain = this.ctx.createGain();
    gain.gain.setValueAtTime(0, when);
    gain.gain.linearRampToValueAtTime(1, when + FADE_S);
    node.connect(gain).connect(this.ctx.destination);
    if (loop) {
      node.loop = true;
      node.loopStart = loop[0];
      node.loopEnd = loop[1];
      node.start(when, offset);
    } else if (Number.isFinite(duration)) {
      node.start(when, offset, duration + FADE_S * this.rate);
      gain.gain.setValueAtTime(1, when + duration / this.rate);
      gain.gain.linearRampToValueAtTime(0, when + duration / this.rate + FADE_S);
    } else {
      node.start(when, offset);
    }
    const seg = { version, node, gain, ctxStart: when, offset, duration, loop, rate: this.rate };
    this.segments.push(seg);
    return seg;
  }

  /** What the scheduled segments have played by `ctxTime`: [{version, start, end}] in seconds of each version. */
  playedUntil(ctxTime = this.ctx.currentTime) {
    const out = [];
    for (const s of this.segments) {
      const elapsed = Math.max(0, ctxTime - s.ctxStart) * s.rate;
      if (elapsed <= 0) continue;
      if (s.loop) {
        const [a, b] = s.loop;
        const reached = s.offset + elapsed;
        out.push({ version: s.version, start: s.offset, end: Math.min(reached, b) });
        if (reached > b) out.push({ version: s.version, start: a, end: Math.min(b, a + (reached - b)) });
        continue;
      }
      const end = Math.min(s.offset + elapsed, s.offset + s.duration, this.duration(s.version));
      out.push({ version: s.version, start: s.offset, end });
    }
    return out;
  }

  _stopAll(when) {
    if (this.onHeard) for (const p of this.playedUntil(when)) this.onHeard(p.version, p.start, p.end);
    for (const s of this.segments) {
      try {
        s.gain.gain.cancelScheduledValues(when);
        s.gain.gain.setValueAtTime(s.gain.gain.value, when);
        s.gain.gain.linearRampToValueAtTime(0, when + FADE_S);
        s.node.stop(when + FADE_S + 0.01);
      } catch (e) { /* already stopped */ }
    }
    this.segments = [];
  }

  _loopFor(version) {
    return this.loopOn && this.loop && this.loop[version] ? this.loop[version] : null;
  }

  /** Start (or restart) continuous playback of `version` at `time` seconds. */
  _playFrom(version, time, when) {
    const loop = this._loopFor(version);
    if (loop && (time < loop[0] || time >= loop[1])) time = loop[0];
    if (!loop && time >= this.duration(version) - 0.05) time = 0;
    this.version = version;
    this._startNode(version, when, time, Infinity, loop);
  }

  _wake() {
    // a live context may start suspended until a user gesture; an offline one runs on startRendering
    const offline = typeof OfflineAudioContext !== "undefined" && this.ctx instanceof OfflineAudioContext;
    if (!offline && this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
  }

  play() {
    if (this.playing) return;
    this.anchor = null;
    this._wake();
    this._playFrom(this.version, this.pausedAt, this.ctx.currentTime + LEAD_S);
    this.onChange("play");
  }

  pause() {
    if (!this.playing) return;
    const pos = this._at(this.ctx.currentTime);
    this.version = pos.version;
    this.pausedAt = pos.time;
    this.anchor = null;
    this._stopAll(this.ctx.currentTime);
    this.onChange("pause");
  }

  toggle() { this.playing ? this.pause() : this.play(); }

  /** Switch to `version` at the same musical position (keeps playing if playing). */
  switchTo(version) {
    if (!this.versions[version]) return;
    if (!this.playing) {
      // map from where the rater paused, not from the last version switched to: going A -> B -> A
      // through a stretch that B cut comes back to the same point of A, not to the splice
      this.anchor = this.anchor || { version: this.version, time: this.pausedAt };
      this.pausedAt = this._map(this.anchor.version, version, this.anchor.time);
      this.version = version;
      this.onChange("switch");
      return;
    }
    const when = this.ctx.currentTime + LEAD_S;
    const pos = this._at(when);
    const t = this._map(pos.version, version, pos.time);
    this._stopAll(when);
    this._playFrom(version, t, when);
    this.onChange("switch");
  }

  /** Jump to `time` seconds of `version`. */
  seek(version, time) {
    time = Math.max(0, Math.min(time, this.duration(version)));
    this.anchor = null;
    if (this.playing) {
      const when = this.ctx.currentTime + LEAD_S;
      this._stopAll(when);
      this._playFrom(version, time, when);
    } else {
      this.version = version;
      this.pausedAt = time;
    }
    this.onChange("seek");
  }

  _map(from, to, t) {
    if (from === to) return t;
    return mapTime(this.versions[from].timeline, this.versions[to].timeline, t);
  }

  /** Play `rate` times faster than real time from now on (1: normal). */
  setRate(rate) {
    this.rate = Math.max(0.25, Number(rate) || 1);
    this._restartInPlace();
  }

  /** Set the loop region per version ({version: [start, end]}) or clear it with null. */
  setLoop(regions, on = true) {
    this.loop = regions;
    this.loopOn = Boolean(regions) && on;
    this._restartInPlace();
  }

  toggleLoop() {
    if (!this.loop) return false;
    this.loopOn = !this.loopOn;
    this._restartInPlace();
    return this.loopOn;
  }

  _restartInPlace() {
    if (this.playing) {
      const when = this.ctx.currentTime + LEAD_S;
      const pos = this._at(when);
      this._stopAll(when);
      this._playFrom(pos.version, pos.time, when);
    }
    this.onChange("loop");
  }

  /**
   * Play a list of excerpts back to back: [{version, start, end}] (seconds in each version).
   * Playback stops after the last one; loops are ignored meanwhile.
   */
  playExcerpts(excerpts) {
    this._wake();
    this.anchor = null;
    const when0 = this.ctx.currentTime + LEAD_S;
    this._stopAll(when0);
    let when = when0;
    for (const ex of excerpts) {
      const start = Math.max(0, ex.start);
      const end = Math.min(ex.end, this.duration(ex.version));
      if (end <= start) continue;
      this._startNode(ex.version, when, start, end - start, null);
      when += (end - start) / this.rate;
    }
    if (this.segments.length) this.version = this.segments[0].version;
    this.onChange("excerpts");
    return when - when0;
  }
}
