/**
 * How the demo's report writes a number, and a table in Markdown and in HTML: one place for each, so the ramp, the
 * recovery ranking, the sweeps and the verdict table print the same value the same way in report.md, report.html
 * and the log. A missing value is a dash, never a zero.
 */

/** Milliseconds, rounded: "312 ms". */
export const ms = (x: number | null): string => (x === null ? '—' : `${x.toFixed(0)} ms`);
/** A fraction as a percentage: pc(0.0123) = "1.23 %". */
export const pc = (x: number | null, d = 2): string => (x === null ? '—' : `${(x * 100).toFixed(d)} %`);
/** Seconds with one decimal: "3.4 s". */
export const sec = (x: number | null): string => (x === null ? '—' : `${x.toFixed(1)} s`);
/** A ratio as a multiplier: "×1.40". */
export const times = (x: number | null): string => (x === null ? '—' : `×${x.toFixed(2)}`);
/** A rate in requests per second, at most one decimal: "299.8 req/s". */
export const rps = (x: number | null): string => (x === null ? '—' : `${Math.round(x * 10) / 10} req/s`);

/** Text for HTML content and attribute values. */
export const esc = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A Markdown table (cells are written as they are: a `|` inside one is escaped). */
export function mdTable(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)];
}

/** An HTML table, every cell escaped. */
export function htmlTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const tr = (cells: readonly string[], tag: 'th' | 'td'): string => `<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`;
  return `<table>${tr(head, 'th')}${rows.map((r) => tr(r, 'td')).join('')}</table>`;
}
