/**
 * Incremental HTTP/1.1 message framing for the http_fault toxic: finds where each request (or response) starts
 * and ends in a byte stream that arrives in arbitrary chunks, without buffering bodies. Only heads are held
 * (up to MAX_HEAD_BYTES) so a decision about a message can be made before any of its bytes move on.
 *
 *   bytes ─▶ head (held until CRLFCRLF) ─▶ body: Content-Length | chunked (size lines, data, trailers) |
 *            none (HEAD answer, 1xx/204/304) | until close (response without length, or an upgrade)
 *
 * feed() returns segments: each is bytes of exactly one message, the first carrying the parsed head and the
 * last marked `end`. A stream that does not parse as HTTP/1.x returns `{ invalid }` with every byte not yet
 * returned, and the caller stops interpreting that connection (it passes bytes through untouched).
 */

const MAX_HEAD_BYTES = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

export interface Head {
  /** Request method (requests only). */
  method?: string;
  /** Response status (responses only). */
  status?: number;
  /** A 1xx answer other than 101: the real response to the same request follows. */
  interim: boolean;
  /** 101 or a body delimited by the end of the connection: nothing after it can be framed. */
  untilClose: boolean;
}

export interface Segment {
  data: Buffer;
  /** Present on a message's first segment. */
  head?: Head;
  /** This segment completes its message. */
  end: boolean;
}

type BodyState =
  | { kind: 'head' }
  | { kind: 'length'; left: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; left: number }
  | { kind: 'trailers' }
  | { kind: 'until-close' };

export class HttpFramer {
  #state: BodyState = { kind: 'head' };
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Bytes of a chunk-size or trailer line seen so far (lines may straddle chunks). */
  #line = '';

  /**
   * @param kind what the stream carries
   * @param answersHead for responses: whether the request this response answers was a HEAD (no body)
   * @example const f = new HttpFramer('request'); for (const s of f.feed(chunk).segments) …
   */
  constructor(
    readonly kind: 'request' | 'response',
    readonly answersHead: () => boolean = () => false,
  ) {}

  /** True between messages: no partial head held, no body in progress. */
  get idle(): boolean {
    return this.#state.kind === 'head' && this.#heldBytes === 0;
  }

  /** True while part of a head is held back (it has not been returned in any segment yet). */
  get holding(): boolean {
    return this.#heldBytes > 0;
  }

  /** True once the stream can no longer be framed (upgrade, or a body that lasts until close). */
  get untilClose(): boolean {
    return this.#state.kind === 'until-close';
  }

  feed(data: Buffer): { segments: Segment[]; invalid?: Buffer } {
    const segments: Segment[] = [];
    let at = 0;
    while (at < data.length) {
      const s = this.#state;
      if (s.kind === 'until-close') {
        this.#push(segments, data.subarray(at), false);
        break;
      }
      if (s.kind === 'head') {
        // Search the held bytes plus this chunk: the terminator may straddle the boundary.
        const joined = this.#heldBytes > 0 ? Buffer.concat([...this.#held, data.subarray(at)]) : data.subarray(at);
        const found = joined.indexOf(CRLFCRLF, Math.max(0, this.#heldBytes - 3));
        if (found < 0) {
          if (joined.length > MAX_HEAD_BYTES) return this.#invalid(segments, joined);
          this.#held = [Buffer.from(joined)];
          this.#heldBytes = joined.length;
          break;
        }
        const headBytes = joined.subarray(0, found + 4);
        const head = this.#parseHead(headBytes.toString('latin1'));
        if (head === null) return this.#invalid(segments, joined);
        at += headBytes.length - this.#heldBytes;
        this.#held = [];
        this.#heldBytes = 0;
        segments.push({ data: Buffer.from(headBytes), head: head.head, end: this.#state.kind === 'head' });
        continue;
      }
      if (s.kind === 'length' || s.kind === 'chunk-data') {
        const take = Math.min(s.left, data.length - at);
        s.left -= take;
        const done = s.left === 0;
        if (done) this.#state = s.kind === 'length' ? { kind: 'head' } : { kind: 'chunk-size' };
        this.#push(segments, data.subarray(at, at + take), done && s.kind === 'length');
        at += take;
        continue;
      }
      // chunk-size or trailers: one line at a time
      const nl = data.indexOf(0x0a, at);
      const end = nl < 0 ? data.length : nl + 1;
      this.#line += data.subarray(at, end).toString('latin1');
      if (this.#line.length > 8_192) return this.#invalid(segments, data.subarray(at));
      let complete = false;
      if (nl >= 0) {
        const line = this.#line.replace(/\r?\n$/, '');
        this.#line = '';
        if (s.kind === 'chunk-size') {
          const size = Number.parseInt(line.split(';')[0].trim(), 16);
          if (!Number.isSafeInteger(size) || size < 0 || !/^[0-9a-fA-F]+$/.test(line.split(';')[0].trim())) return this.#invalid(segments, data.subarray(at));
          this.#state = size === 0 ? { kind: 'trailers' } : { kind: 'chunk-data', left: size + 2 };
        } else if (line === '') {
          this.#state = { kind: 'head' };
          complete = true;
        }
      }
      this.#push(segments, data.subarray(at, end), complete);
      at = end;
    }
    return { segments };
  }

  /** Appends body bytes to the current message's last segment when it is the same message (fewer writes). */
  #push(segments: Segment[], data: Buffer, end: boolean): void {
    const last = segments.at(-1);
    if (last !== undefined && !last.end) {
      last.data = Buffer.concat([last.data, data]);
      last.end = end;
    } else {
      segments.push({ data, end });
    }
  }

  #invalid(segments: Segment[], rest: Buffer): { segments: Segment[]; invalid: Buffer } {
    this.#state = { kind: 'until-close' };
    this.#held = [];
    this.#heldBytes = 0;
    return { segments, invalid: Buffer.from(rest) };
  }

  #parseHead(text: string): { head: Head } | null {
    const lines = text.split('\r\n');
    const first = lines[0];
    let head: Head;
    if (this.kind === 'request') {
      const m = /^([A-Z][A-Z0-9!#$%&'*+.^_`|~-]*) \S+ HTTP\/1\.[01]$/.exec(first);
      if (m === null) return null;
      head = { method: m[1], interim: false, untilClose: false };
    } else {
      const m = /^HTTP\/1\.[01] ([1-5][0-9][0-9])(?: .*)?$/.exec(first);
      if (m === null) return null;
      const status = Number(m[1]);
      head = { status, interim: status >= 100 && status < 200 && status !== 101, untilClose: false };
    }
    let length: number | null = null;
    let chunked = false;
    let upgrade = false;
    for (const line of lines.slice(1)) {
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) return null;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^[0-9]{1,15}$/.test(value) || (length !== null && length !== Number(value))) return null;
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      } else if (name === 'upgrade' && this.kind === 'request') {
        upgrade = true;
      }
    }
    const noBody = this.kind === 'response' && (head.interim || head.status === 204 || head.status === 304 || this.answersHead());
    if (head.status === 101 || (upgrade && this.kind === 'request' && !chunked && !length)) {
      // An upgrade: what follows is another protocol (for a request, only once the 101 arrives, but a
      // proxy cannot tell, so it stops framing either way).
      head.untilClose = head.status === 101;
      this.#state = head.status === 101 ? { kind: 'until-close' } : { kind: 'head' };
    } else if (noBody) this.#state = { kind: 'head' };
    else if (chunked) this.#state = { kind: 'chunk-size' };
    else if (length !== null) this.#state = length > 0 ? { kind: 'length', left: length } : { kind: 'head' };
    else if (this.kind === 'request') this.#state = { kind: 'head' };
    else {
      this.#state = { kind: 'until-close' };
      head.untilClose = true;
    }
    return { head };
  }
}
