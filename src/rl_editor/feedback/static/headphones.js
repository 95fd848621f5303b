// The headphone check (Woods et al., 2017), played with Web Audio (no audio files).
// Each trial plays three 200 Hz tones: the reference, one 6 dB quieter, and the reference in
// antiphase across the two channels. The rater picks the quietest. Over headphones that is the
// quiet tone; over loudspeakers the antiphase tone partly cancels in the room and sounds
// quieter still. The server draws the trials (which tone is which) and scores the answers.

const TONE_HZ = 200;
const TONE_S = 1.0;
const RAMP_S = 0.1;
const GAP_S = 0.5;
const REFERENCE_GAIN = 0.25;
const QUIET_GAIN = REFERENCE_GAIN * 10 ** (-6 / 20);

/** A stereo buffer of the three tones of one trial, in order (`kinds`: reference, quiet or antiphase). */
export function trialBuffer(ctx, kinds, scale = 1) {
  const sr = ctx.sampleRate;
  const toneN = Math.round(TONE_S * scale * sr), gapN = Math.round(GAP_S * scale * sr);
  const rampN = Math.max(1, Math.round(RAMP_S * scale * sr));
  const buffer = ctx.createBuffer(2, kinds.length * toneN + (kinds.length - 1) * gapN, sr);
  const left = buffer.getChannelData(0), right = buffer.getChannelData(1);
  kinds.forEach((kind, k) => {
    const gain = kind === "quiet" ? QUIET_GAIN : REFERENCE_GAIN;
    const sign = kind === "antiphase" ? -1 : 1;
    const at = k * (toneN + gapN);
    for (let i = 0; i < toneN; i++) {
      const ramp = Math.min(1, i / rampN, (toneN - 1 - i) / rampN);
      const envelope = 0.5 - 0.5 * Math.cos(Math.PI * Math.max(0, ramp));   // raised-cosine on/off ramps
      const x = gain * envelope * Math.sin(2 * Math.PI * TONE_HZ * i / sr);
      left[at + i] = x;
      right[at + i] = sign * x;
    }
  });
  return buffer;
}

function play(ctx, buffer) {
  return new Promise((resolve) => {
    const node = ctx.createBufferSource();
    node.buffer = buffer;
    node.connect(ctx.destination);
    node.onended = () => resolve();
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    node.start();
  });
}

/**
 * Runs the check on the page's #view-headphones until it is passed (resolves true) or the
 * rater's attempts are used up (resolves false, with the page saying so).
 * `api(path, options)` calls the server; `getContext()` gives the page's AudioContext.
 */
export class HeadphoneCheck {
  constructor({ api, getContext, announce }) {
    this.api = api;
    this.getContext = getContext;
    this.announce = announce;
    this.scale = 1;             // tone and gap lengths (the browser tests shorten them)
    this.state = null;          // {checkId, trials, index, answers}
    this.$ = (id) => document.getElementById(id);
  }

  run() {
    return new Promise((resolve, reject) => {
      this.done = resolve;
      this.fail = reject;
      this.wire();
      this.begin().catch(reject);
    });
  }

  wire() {
    if (this.wired) return;
    this.wired = true;
    this.$("hp-calibrate").addEventListener("click", () => {
      const ctx = this.getContext();
      play(ctx, trialBuffer(ctx, ["reference"], this.scale));
    });
    this.$("hp-play").addEventListener("click", () => this.playTrial());
    for (const button of document.querySelectorAll(".hp-answer")) {
      button.addEventListener("click", () => this.answer(Number(button.dataset.tone)).catch(this.fail));
    }
    this.$("hp-retry").addEventListener("click", () => this.begin().catch(this.fail));
  }

  async begin() {
    this.$("hp-retry").hidden = true;
    this.$("hp-result").textContent = "";
    const { data } = await this.api("/api/headphone-check/trials", { method: "POST" });
    this.state = { checkId: data.check_id, trials: data.trials, index: 0, answers: [], played: false };
    this.showTrial();
  }

  showTrial() {
    const { index, trials } = this.state;
    this.$("hp-trial").textContent = `Trial ${index + 1} of ${trials.length}`;
    this.$("hp-play").disabled = false;
    this.$("hp-play").hidden = false;
    this.setAnswersEnabled(false);
    this.announce(`Trial ${index + 1} of ${trials.length}: play the three tones, then pick the quietest.`);
  }

  setAnswersEnabled(on) {
    for (const button of document.querySelectorAll(".hp-answer")) button.disabled = !on;
  }

  async playTrial() {
    const state = this.state;
    if (!state) return;
    this.$("hp-play").disabled = true;
    const ctx = this.getContext();
    await play(ctx, trialBuffer(ctx, state.trials[state.index], this.scale));
    if (this.state !== state) return;
    state.played = true;
    this.setAnswersEnabled(true);
    this.announce("Which tone was the quietest: the first, the second or the third?");
  }

  async answer(tone) {
    const state = this.state;
    if (!state || !state.played) return;
    state.answers.push(tone);
    state.index += 1;
    state.played = false;
    if (state.index < state.trials.length) { this.showTrial(); return; }
    this.setAnswersEnabled(false);
    this.$("hp-play").hidden = true;
    const { data } = await this.api("/api/headphone-check", { method: "POST", json: { check_id: state.checkId, answers: state.answers } });
    this.finish(data);
  }

  finish(result) {
    this.state = null;
    const score = `${result.score} of ${result.trials}`;
    let message;
    if (result.passed) {
      message = `Headphone check passed (${score} right). The listening test starts now.`;
    } else if (result.attempts_left > 0) {
      message = `Headphone check not passed (${score} right). Check that you are wearing headphones, then try again.`;
      this.$("hp-retry").hidden = false;
    } else {
      message = `Headphone check not passed (${score} right), and no attempts are left. Please tell the organiser of the test.`;
    }
    this.$("hp-result").textContent = message;
    this.announce(message);
    if (result.passed) this.done(true);
    else if (result.attempts_left <= 0) this.done(false);
  }
}
