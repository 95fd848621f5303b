// Must-listen: which stretches of each version the rater has played, and whether that
// meets what the server asks of a version (`must_listen`: min_seconds, regions_s).
// A version is heard enough when `min_seconds` of it were played, or every region where it
// differs from the other edit was (at least REGION_SHARE of each). The server checks the
// seconds sent with the judgment against the same rule.

export const REGION_SHARE = 0.9;

/** Add [start, end] (s) to a sorted list of disjoint intervals, merging overlaps; returns the list. */
export function addInterval(intervals, start, end) {
  if (!(end > start)) return intervals;
  const out = [];
  let s = start, e = end, placed = false;
  for (const [a, b] of intervals) {
    if (b < s) out.push([a, b]);
    else if (a > e) {
      if (!placed) { out.push([s, e]); placed = true; }
      out.push([a, b]);
    } else { s = Math.min(s, a); e = Math.max(e, b); }
  }
  if (!placed) out.push([s, e]);
  return out;
}

/** Total length (s) of disjoint intervals. */
export function totalSeconds(intervals) {
  return intervals.reduce((sum, [a, b]) => sum + (b - a), 0);
}

/** Seconds of [start, end] covered by the intervals. */
export function covered(intervals, start, end) {
  let sum = 0;
  for (const [a, b] of intervals) sum += Math.max(0, Math.min(b, end) - Math.max(a, start));
  return sum;
}

/** What the rater has played of each version ("o", "a", "b"): disjoint intervals in seconds of its audio. */
export class ListeningTracker {
  constructor(heard = {}) {
    this.heard = { o: [], a: [], b: [], ...heard };
  }

  /** Record that [start, end] (s) of `version` was played (adding what is known already changes nothing). */
  add(version, start, end) {
    if (!(version in this.heard)) return;
    this.heard[version] = addInterval(this.heard[version], start, end);
  }

  seconds(version) { return totalSeconds(this.heard[version] || []); }

  /** Regions of a requirement that are not yet heard enough. */
  unheardRegions(version, need) {
    return (need?.regions_s || []).filter(([s, e]) => covered(this.heard[version] || [], s, e) < REGION_SHARE * (e - s));
  }

  /** Whether `version` meets its requirement {min_seconds, regions_s}. */
  met(version, need) {
    if (!need || need.min_seconds <= 0) return true;
    if (this.seconds(version) >= need.min_seconds - 0.05) return true;
    return need.regions_s.length > 0 && this.unheardRegions(version, need).length === 0;
  }

  /** {a_s, b_s, original_s}: distinct seconds played of each version (what the judgment carries). */
  record(versions) {
    const names = { o: "original_s", a: "a_s", b: "b_s" };
    const out = {};
    for (const v of versions) out[names[v]] = Math.round(this.seconds(v) * 100) / 100;
    return out;
  }
}

/**
 * What is still to hear, as one sentence, or "" when every version meets its requirement.
 * `needs` maps a version ("a", "b") to its requirement; `label(v)` names a version; `clock(s)` formats times.
 */
export function stillToHear(tracker, needs, label, clock) {
  const parts = [];
  for (const [v, need] of Object.entries(needs)) {
    if (tracker.met(v, need)) continue;
    const more = Math.max(1, Math.ceil(need.min_seconds - tracker.seconds(v)));
    const regions = tracker.unheardRegions(v, need);
    if (!regions.length) { parts.push(`${more} s more of ${label(v)}`); continue; }
    const shown = regions.slice(0, 3).map(([s, e]) => `${clock(s)}-${clock(e)}`).join(", ");
    const rest = regions.length > 3 ? ` and ${regions.length - 3} more` : "";
    parts.push(`${label(v)}'s region${regions.length > 1 ? "s" : ""} at ${shown}${rest} (or ${more} s more of ${label(v)})`);
  }
  return parts.length ? `Still to hear: ${parts.join("; ")}.` : "";
}
