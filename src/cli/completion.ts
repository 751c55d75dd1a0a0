/**
 * `faultline completion bash|zsh`: a shell completion script generated from the commander tree itself (every
 * command, subcommand and option as registered), so it cannot drift from the CLI: a new command or flag is in
 * the next script printed, with nothing to list by hand.
 *
 *   program ─walk─▶ [{ path: 'proxy ca', words: [{ word: '--dir', about: '…' }, …] }, …] ─▶ bash | zsh text
 *
 * Both scripts find the command path typed so far (words that name a subcommand of the path before them) and
 * offer that path's subcommands and options; anything else (file arguments, values) falls back to the shell's
 * file completion.
 */
import { InvalidArgumentError, type Command } from 'commander';

export const SHELLS = ['bash', 'zsh'] as const;
type Shell = (typeof SHELLS)[number];

interface Node {
  /** The command path below `faultline`, space-separated ('' = the root). */
  path: string;
  words: { word: string; about: string }[];
}

/** Every command path of the tree with the words that may follow it. */
export function completionTree(program: Command): Node[] {
  const out: Node[] = [];
  const walk = (cmd: Command, path: string): void => {
    const words = [
      ...cmd.commands.map((c) => ({ word: c.name(), about: c.description() })),
      ...cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined).map((word) => ({ word, about: o.description }))),
      ...(cmd.commands.length > 0 || path !== '' ? [{ word: '--help', about: 'display help for command' }] : []),
    ];
    const unique = words.filter((w, k) => words.findIndex((x) => x.word === w.word) === k);
    out.push({ path, words: unique });
    for (const c of cmd.commands) walk(c, path === '' ? c.name() : `${path} ${c.name()}`);
  };
  walk(program, '');
  return out;
}

const sq = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;

function bash(tree: Node[]): string {
  const cases = tree.map((n) => `    ${sq(n.path)}) echo ${sq(n.words.map((w) => w.word).join(' '))} ;;`).join('\n');
  return `# faultline completion for bash. Install: faultline completion bash > /etc/bash_completion.d/faultline
# (or: source <(faultline completion bash) in ~/.bashrc). Generated from the CLI's command tree.
_faultline_words() {
  case "$1" in
${cases}
  esac
}
_faultline() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    if [[ " $(_faultline_words "$cmdpath") " == *" $w "* ]]; then cmdpath="\${cmdpath:+$cmdpath }$w"; fi
  done
  COMPREPLY=($(compgen -W "$(_faultline_words "$cmdpath")" -- "$cur"))
}
complete -o default -F _faultline faultline
`;
}

function zsh(tree: Node[]): string {
  const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
  const cases = tree
    .map((n) => `    ${sq(n.path)}) cands=(${n.words.map((w) => sq(`${esc(w.word)}:${w.about.split('\n')[0]}`)).join(' ')}) ;;`)
    .join('\n');
  return `#compdef faultline
# faultline completion for zsh. Install: faultline completion zsh > "\${fpath[1]}/_faultline" (then compinit),
# or: source <(faultline completion zsh) in ~/.zshrc. Generated from the CLI's command tree.
_faultline_cands() {
  case "$1" in
${cases}
    *) cands=() ;;
  esac
}
_faultline() {
  # not "path": in zsh that is $PATH as an array
  local cmdpath="" w i
  local -a cands names
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    _faultline_cands "$cmdpath"
    names=(\${cands%%:*})
    if (( \${names[(Ie)$w]} )); then cmdpath="\${cmdpath:+$cmdpath }$w"; fi
  done
  _faultline_cands "$cmdpath"
  _describe -t commands 'faultline' cands || _files
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _faultline "$@"; else compdef _faultline faultline; fi
`;
}

/** The completion script for one shell. */
export function completionScript(program: Command, shell: Shell): string {
  return shell === 'bash' ? bash(completionTree(program)) : zsh(completionTree(program));
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('Print a shell completion script (bash or zsh) for every command and option.')
    .argument('<shell>', `one of ${SHELLS.join(', ')}`, (v: string) => {
      if (!(SHELLS as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${SHELLS.join(', ')} (got "${v}")`);
      return v;
    })
    .addHelpText(
      'after',
      `
Examples:
  source <(faultline completion bash)                   # this shell; add it to ~/.bashrc to keep it
  faultline completion zsh > "\${fpath[1]}/_faultline"   # zsh, then restart the shell (or run compinit)`,
    )
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });
}
