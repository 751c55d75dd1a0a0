/**
 * YAML files users write (system files, experiments): read once, with every syntax problem and every schema
 * issue reported as `file:line:col: path: message`, so a user can jump to the spot. Aliases and anchors are
 * resolved here; a bad alias is a syntax problem with its line, never a crash.
 *
 * @example
 *   const { raw, locate } = readYamlFile('faultline.yaml');
 *   const issues = validate(raw).map((i) => ({ ...i, path: `${locate(i.path)}${i.path}` }));
 */
import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { FaultlineError, type Issue } from './errors.ts';

export interface YamlFile {
  file: string;
  raw: unknown;
  /** `file:line:col: ` of the node at a dotted issue path (`services.api.port`, `faults[0].type`), or `file: `. */
  locate(path: string): string;
}

/** Reads and parses `file`; throws INVALID_INPUT (field FILE) naming the line of every syntax problem. */
export function readYamlFile(file: string): YamlFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FaultlineError('INVALID_INPUT', `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { field: 'FILE' });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, lineCounter: lines, merge: true });
  const syntax = [...doc.errors, ...doc.warnings.filter((w) => w.code === 'BAD_ALIAS')];
  if (syntax.length > 0) {
    const shown = syntax.map((e) => `${file}:${e.linePos?.[0].line ?? '?'}:${e.linePos?.[0].col ?? '?'}: ${e.message.split('\n')[0]}`);
    throw new FaultlineError('INVALID_INPUT', shown.join('; '), { field: 'FILE' });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias to an anchor that does not exist, or an alias bomb: a problem in the file, with where it is.
    // The library names the alias, not its line: find `*name` in the text.
    const alias = /alias[^:]*: (\S+)/i.exec((err as Error).message)?.[1];
    const at = alias === undefined ? undefined : text.split('\n').findIndex((l) => l.includes(`*${alias}`)) + 1 || undefined;
    throw new FaultlineError('INVALID_INPUT', `${file}${at ? `:${at}` : ''}: ${(err as Error).message.split('\n')[0]}`, { field: 'FILE' });
  }
  const locate = (path: string): string => {
    const keys = path
      .split(/\.|\[(\d+)\]/)
      .filter((k) => k !== undefined && k !== '' && k !== '(root)')
      .map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    for (let n = keys.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true);
      if (isNode(node) && node.range) {
        const pos = lines.linePos(node.range[0]);
        return `${file}:${pos.line}:${pos.col}: `;
      }
    }
    return `${file}: `;
  };
  return { file, raw, locate };
}

/** Throws one INVALID_INPUT listing every issue, each prefixed with where it is in the file. */
export function throwIfFileIssues(yaml: YamlFile, issues: Issue[]): void {
  if (issues.length === 0) return;
  const text = issues.map((i) => `${yaml.locate(i.path)}${i.path}: ${i.message}`).join('\n');
  throw new FaultlineError('INVALID_INPUT', `${issues.length} problem(s) in ${yaml.file}:\n${text}`, { field: issues[0].path });
}
