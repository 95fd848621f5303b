// Beat timelines: where each played beat of a version sits in that version's audio,
// and how a musical position (source beat + fraction) carries from one version to another.
//
// A timeline has one slot per played beat: `seq[k]` is the source beat played in slot k,
// `starts[k]` its start in the version's own audio (seconds), `durations[k]` its length.
// The original plays every source beat once; an edit plays `beat_sequence`, whose
// beats sit back to back (beat i of the source lasts bounds[i+1] - bounds[i]).

/** Timeline of the unedited song from its segment bounds (n_beats + 1 seconds). */
export function sourceTimeline(bounds) {
  const seq = [];
  for (let i = 0; i + 1 < bounds.length; i++) seq.push(i);
  return editTimeline(bounds, seq, true);
}

/** Timeline of an edit that plays `beatSequence` (source beat indices) back to back. */
export function editTimeline(bounds, beatSequence, isSource = false) {
  const seq = Array.from(beatSequence, Number);
  const starts = new Array(seq.length);
  const durations = new Array(seq.length);
  let t = 0;
  for (let k = 0; k < seq.length; k++) {
    const s = seq[k];
    const d = isSource ? bounds[s + 1] - bounds[s] : Math.max(0, bounds[s + 1] - bounds[s]);
    starts[k] = isSource ? bounds[s] : t;
    durations[k] = d;
    t = starts[k] + d;
  }
  return { seq, starts, durations, total: t };
}

/** Index of the last element of the ascending array `arr` that is <= x (-1 if none). */
function lastAtOrBelow(arr, x) {
  let lo = 0, hi = arr.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] <= x) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
  }
  return found;
}

/** Musical position at time `t` (s) of a timeline: {slot, beat, fraction, occurrence}. */
export function locate(tl, t) {
  if (!tl.seq.length) return { slot: 0, beat: 0, fraction: 0, occurrence: 0 };
  const slot = Math.max(0, lastAtOrBelow(tl.starts, t));
  const d = tl.durations[slot];
  const fraction = d > 0 ? Math.min(1, Math.max(0, (t - tl.starts[slot]) / d)) : 0;
  const beat = tl.seq[slot];
  let occurrence = 0;
  for (let k = slot - 1; k >= 0 && tl.seq[k] === beat; k--) occurrence++;
  return { slot, beat, fraction, occurrence };
}

/** First slot playing source beat `beat` or, if the version cut it, the first later beat. */
export function slotAtOrAfter(tl, beat) {
  for (let k = 0; k < tl.seq.length; k++) if (tl.seq[k] >= beat) return k;
  return tl.seq.length;
}

/**
 * Time (s) in timeline `tl` of a musical position {beat, fraction, occurrence}.
 * A repeated beat keeps its occurrence when the target repeats it too; a beat the
 * target cut maps to the start of the next beat it plays (the splice point).
 */
export function timeOf(tl, pos) {
  const first = slotAtOrAfter(tl, pos.beat);
  if (first >= tl.seq.length) return tl.total;
  if (tl.seq[first] !== pos.beat) return tl.starts[first];
  let slot = first;
  const want = pos.occurrence || 0;
  while (slot - first < want && slot + 1 < tl.seq.length && tl.seq[slot + 1] === pos.beat) slot++;
  return tl.starts[slot] + (pos.fraction || 0) * tl.durations[slot];
}

/** Carry time `t` of timeline `from` to the same musical position in timeline `to`. */
export function mapTime(from, to, t) {
  return timeOf(to, locate(from, t));
}

/**
 * Source beats where two edits start to play something different, in source order.
 * Beats each edit plays a different number of times (0, 1 or 2) form runs; each run
 * is one difference, reported by its first beat.
 */
export function differences(seqA, seqB, nBeats) {
  const count = (seq) => {
    const c = new Array(nBeats).fill(0);
    for (const s of seq) if (s >= 0 && s < nBeats) c[s]++;
    return c;
  };
  const ca = count(seqA), cb = count(seqB);
  const out = [];
  for (let s = 0; s < nBeats; s++) {
    if (ca[s] !== cb[s] && (s === 0 || ca[s - 1] === cb[s - 1])) out.push(s);
  }
  return out;
}

/**
 * Sections of the song as heard in a version: [{index, label, start, end}] in seconds of
 * that version's audio, one band per run of played beats from the same section, so an
 * edit's bands show which sections it kept, cut or repeated. `structure` is the song's
 * {section_start_beats, section_labels}; anything else (an older manifest) gives [].
 */
export function sectionBands(structure, tl) {
  const starts = structure?.section_start_beats;
  const labels = structure?.section_labels;
  if (!Array.isArray(starts) || !Array.isArray(labels) || !starts.length || starts.length !== labels.length) return [];
  const bands = [];
  for (let k = 0; k < tl.seq.length; k++) {
    const index = Math.max(0, lastAtOrBelow(starts, tl.seq[k]));
    const start = tl.starts[k];
    const end = start + tl.durations[k];
    const last = bands[bands.length - 1];
    const continues = last && last.index === index && Math.abs(last.end - start) < 1e-6 &&
      tl.seq[k] >= tl.seq[k - 1];
    if (continues) last.end = end;
    else bands.push({ index, label: String(labels[index]), start, end });
  }
  return bands;
}

/**
 * Where two edits diverge, in order: [{slotA, slotB, a, b, beat}]. Their beat sequences are
 * aligned (longest common subsequence); each stretch where they do not line up is one
 * divergence, found at the slot of each edit where it starts (`a`, `b`: seconds in each
 * edit's own audio; the end of an edit when it has nothing more there), and `beat`, the
 * earlier of the two source beats played there.
 */
export function divergences(tlA, tlB) {
  const a = tlA.seq, b = tlB.seq, n = a.length, m = b.length;
  // common[i][j]: length of the longest common subsequence of a[i:] and b[j:]
  const common = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const aligned = (i, j) => i < n && j < m && a[i] === b[j];
  const out = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (aligned(i, j)) { i++; j++; continue; }
    out.push({
      slotA: i, slotB: j,
      a: i < n ? tlA.starts[i] : tlA.total,
      b: j < m ? tlB.starts[j] : tlB.total,
      beat: Math.min(i < n ? a[i] : Infinity, j < m ? b[j] : Infinity),
    });
    while ((i < n || j < m) && !aligned(i, j)) {
      if (j >= m || (i < n && common[i + 1][j] >= common[i][j + 1])) i++; else j++;
    }
  }
  return out;
}

/**
 * The excerpts "next difference" plays: one per divergence, `before` seconds before it to
 * `after` seconds after it in each edit; a divergence that falls inside the previous excerpt in
 * both edits is heard with it (the excerpt runs on `after` seconds past it), so no excerpt
 * repeats another.
 * Returns [{beat, beats, a: [start, end], b: [start, end], atA, atB}] in seconds of each edit.
 */
export function differenceExcerpts(tlA, tlB, before, after) {
  const out = [];
  for (const d of divergences(tlA, tlB)) {
    const last = out[out.length - 1];
    if (last && d.a <= last.a[1] && d.b <= last.b[1]) {
      last.a[1] = Math.min(tlA.total, d.a + after);
      last.b[1] = Math.min(tlB.total, d.b + after);
      last.beats.push(d.beat);
      continue;
    }
    out.push({
      beat: d.beat, beats: [d.beat], atA: d.a, atB: d.b,
      a: [Math.max(0, d.a - before), Math.min(tlA.total, d.a + after)],
      b: [Math.max(0, d.b - before), Math.min(tlB.total, d.b + after)],
    });
  }
  return out;
}
