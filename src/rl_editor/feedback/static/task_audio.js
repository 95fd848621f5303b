// One task's audio as bytes, fetched in the order the page plays it: the first part of the original
// (an HTTP Range request, so it can play at once), the rest of the original, then the edits together.
// The page fetches the task it shows this way, and the task after it in the background while the
// current one is judged (prefetching), so the next pair can be played as soon as the answer is saved.
// Only bytes are kept: decoding waits until the task is shown.

export class HttpError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

export function concatenate(chunks, length) {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) { out.set(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk), at); at += chunk.byteLength; }
  return out;
}

/**
 * Download `url` in chunks, calling onProgress(received, total) (total 0 when unknown).
 * With `from` / `to` (byte offsets, `to` inclusive) only that range is asked for (HTTP Range).
 * Returns {bytes, total, partial}: `total` is the whole file's size when the server says it.
 */
export async function download(url, token, onProgress, from = null, to = null, signal = undefined) {
  const headers = { Authorization: `Bearer ${token}` };
  if (from !== null) headers.Range = `bytes=${from}-${to ?? ""}`;
  const response = await fetch(url, { headers, signal });
  if (!response.ok) throw new HttpError(response.status, `could not load audio (${response.status})`);
  const length = Number(response.headers.get("Content-Length")) || 0;
  const whole = Number((response.headers.get("Content-Range") || "").split("/")[1]) || length;
  const partial = response.status === 206;
  const offset = partial ? from : 0;
  const report = (received) => onProgress(offset + received, whole);
  if (!response.body?.getReader) {
    const bytes = await response.arrayBuffer();
    report(bytes.byteLength);
    return { bytes, total: whole, partial };
  }
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  report(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    report(received);
  }
  return { bytes: concatenate(chunks, received).buffer, total: whole, partial };
}

/** The audio bytes of one task: `head` (the original's first part), `original` (all of it) and `edits[v]`. */
export class TaskAudio {
  /**
   * @param {{o: string, a: string, b?: string}} urls what to fetch of each version (e.g. with ?format=ogg)
   * @param {{token: string, headBytes: number, retry?: function}} options `retry(fn)` runs one download
   *   until it succeeds or fails for good (read when each download starts, so it can change)
   */
  constructor(urls, { token, headBytes, retry = (fn) => fn() }) {
    this.urls = urls;
    this.token = token;
    this.headBytes = headBytes;
    this.retry = retry;
    this.progress = {};        // version -> [received, total], as last reported
    this.onProgress = null;    // (version, received, total) => void, e.g. once the task is shown
    this.failed = false;       // a download failed for good (or was aborted)
    this.controller = new AbortController();
    this.head = null;
    this.original = null;
    this.edits = {};
  }

  /** Start downloading (in order: the original's first part, its rest, then the edits); returns this. */
  start() {
    this.head = this.#fetch("o", this.urls.o, 0, this.headBytes - 1);
    this.original = this.head.then(async (head) => {
      if (!head.partial || head.bytes.byteLength >= head.total) return head.bytes;
      const rest = await this.#fetch("o", this.urls.o, head.bytes.byteLength);
      return concatenate([new Uint8Array(head.bytes), new Uint8Array(rest.bytes)],
        head.bytes.byteLength + rest.bytes.byteLength).buffer;
    });
    for (const v of ["a", "b"]) {
      if (this.urls[v]) this.edits[v] = this.original.then(() => this.#fetch(v, this.urls[v])).then((r) => r.bytes);
    }
    // a failure is for whoever awaits the audio (the shown task); in the background it only marks it failed
    for (const pending of [this.head, this.original, ...Object.values(this.edits)]) {
      pending.catch(() => { this.failed = true; });
    }
    return this;
  }

  /** Stop every download still running (the task will not be shown). */
  abort() {
    this.failed = true;
    this.controller.abort();
  }

  #fetch(v, url, from = null, to = null) {
    const report = (received, total) => {
      this.progress[v] = [received, total];
      this.onProgress?.(v, received, total);
    };
    return this.retry(() => download(url, this.token, report, from, to, this.controller.signal));
  }
}
