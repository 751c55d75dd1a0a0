/**
 * The Prometheus text exposition format (0.0.4), read side: one scrape body in, flat samples out. This module
 * alone owns the format's lexical rules (label escaping, special floats, optional timestamps, comment lines);
 * everything downstream works on `Sample`s and never sees text.
 *
 *   "# TYPE x histogram\nx_bucket{le="0.1"} 3\n…" ─▶ parseExposition ─▶ [{ name, labels, value }, …] + types
 */

/** One sample line: a metric name, its labels and its value (NaN and ±Inf included). */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the line carried a timestamp. */
  timestamp_ms?: number;
}

export interface Exposition {
  samples: Sample[];
  /** Metric family → declared type (counter, gauge, histogram, summary, untyped). */
  types: Map<string, string>;
  /** Lines that could not be read, with their line number: a scrape keeps what it could parse. */
  errors: { line: number; message: string }[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Parses one exposition body. Malformed lines are reported in `errors` and skipped, because one bad line from
 * one process must not blank a whole scrape.
 * @example
 *   const { samples } = parseExposition('http_requests_total{code="200"} 1027\n');
 *   // → [{ name: 'http_requests_total', labels: { code: '200' }, value: 1027 }]
 */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const errors: { line: number; message: string }[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types.set(m[1], m[2]);
      continue;
    }
    try {
      samples.push(parseSampleLine(line));
    } catch (err) {
      errors.push({ line: n + 1, message: (err as Error).message });
    }
  }
  return { samples, types, errors };
}

function parseSampleLine(line: string): Sample {
  const nameMatch = NAME.exec(line);
  if (!nameMatch) throw new Error(`no metric name in "${line}"`);
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const ln = LABEL_NAME.exec(line.slice(i));
      if (!ln) throw new Error(`bad label name at column ${i + 1}`);
      i += ln[0].length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=') throw new Error(`expected = after label ${ln[0]}`);
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') throw new Error(`expected " for label ${ln[0]}`);
      i++;
      let value = '';
      for (;;) {
        if (i >= line.length) throw new Error(`unterminated value for label ${ln[0]}`);
        const c = line[i++];
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          value += e === 'n' ? '\n' : e; // \\ → \, \" → ", \n → newline
        } else value += c;
      }
      labels[ln[0]] = value;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length < 1 || rest[0] === '') throw new Error(`no value for ${name}`);
  const value = parseFloatToken(rest[0]);
  const sample: Sample = { name, labels, value };
  if (rest.length > 1) {
    const ts = Number(rest[1]);
    if (!Number.isFinite(ts)) throw new Error(`bad timestamp "${rest[1]}"`);
    sample.timestamp_ms = ts;
  }
  return sample;
}

function parseFloatToken(token: string): number {
  switch (token) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
  }
  const v = Number(token);
  if (Number.isNaN(v)) throw new Error(`bad value "${token}"`);
  return v;
}
