/** Every report format, one file each; adding one = one file + one line here. Names must be unique. */
import type { ReportFormat } from './format.ts';
import { html } from './html.ts';
import { journal } from './journal.ts';
import { junit } from './junit.ts';
import { markdown } from './markdown.ts';

export const REPORTS: readonly ReportFormat[] = registry([
  journal,
  markdown,
  html,
  junit,
]);

function registry(list: ReportFormat[]): readonly ReportFormat[] {
  const seen = new Set<string>();
  for (const r of list) {
    if (seen.has(r.name) || seen.has(r.file)) throw new Error(`report format ${r.name} (${r.file}) registered twice`);
    seen.add(r.name).add(r.file);
  }
  return list;
}
