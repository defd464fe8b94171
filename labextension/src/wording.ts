/**
 * One wording for every view of a run: this renderer, the runs panel, the live
 * tree (`kernel_magics/static/outline.js` repeats these functions, and a jest
 * test checks both give the same text) and the kernel's static views.
 *
 * Numbers: below 1000 exactly; above, one abbreviation computed with integers
 * only (so Python and JavaScript agree digit for digit), the exact number in a
 * tooltip where it is shown.
 */

import type { IOutline } from './tokens';

/** `1 citation`, `0 citations`, `2 searches`. */
export function plural(n: number, one: string, many?: string): string {
  return `${n} ${n === 1 ? one : many ?? `${one}s`}`;
}

/** How many of each thing, in the words every view uses. */
export const COUNT_WORDS: { [key: string]: [string, string] } = {
  citations: ['citation', 'citations'],
  searches: ['search', 'searches'],
  extends: ['extend', 'extends'],
  sections: ['section', 'sections'],
  steps: ['step', 'steps']
};

/** `count(3, 'searches')` -> `3 searches`. */
export function count(n: number, what: keyof typeof COUNT_WORDS): string {
  const [one, many] = COUNT_WORDS[what];
  return plural(n, one, many);
}

function tenths(n: number, unit: number, suffix: string): string {
  const d = Math.floor(n / (unit / 10));
  const whole = Math.floor(d / 10);
  return d % 10 ? `${whole}.${d % 10}${suffix}` : `${whole}${suffix}`;
}

/**
 * 999 -> `999`, 1234 -> `1.2k`, 1000 -> `1k`, 12345 -> `12k`, 1234567 -> `1.2M`,
 * 12345678 -> `12M`. Always rounded down.
 */
export function shortNumber(n: number): string {
  n = Math.max(0, Math.floor(n));
  if (n < 1000) {
    return String(n);
  }
  if (n < 10_000) {
    return tenths(n, 1000, 'k');
  }
  if (n < 1_000_000) {
    return `${Math.floor(n / 1000)}k`;
  }
  if (n < 10_000_000) {
    return tenths(n, 1_000_000, 'M');
  }
  return `${Math.floor(n / 1_000_000)}M`;
}

/** "section-2.1" -> "2.1": the number a reader sees before a title. */
export function sectionNumber(position: string): string {
  return position.replace(/^section-/, '');
}

const STATE_WORDS: { [state: string]: string } = {
  search: 'searching',
  init_plan: 'planning',
  write: 'drafting',
  extend_plan: 'deepening',
  done: 'done'
};

/** `drafting 2.1`, `searching for 1`, `planning`, `deepening`. */
export function stateLabel(state: string, cursor?: string | null): string {
  const word = STATE_WORDS[state] ?? state;
  if (cursor && state === 'write') {
    return `${word} ${sectionNumber(cursor)}`;
  }
  if (cursor && state === 'search') {
    return `${word} for ${sectionNumber(cursor)}`;
  }
  return word;
}

/** A run that can take no more steps. */
export const OVER_STATUSES: ReadonlyArray<string> = ['done', 'failed', 'stopped'];

/** Whether a run with this status is over (its outline can no longer change). */
export function isOver(status: string): boolean {
  return OVER_STATUSES.includes(status);
}

/** What a run's header needs, from an outline payload. */
export interface IRunSummary
  extends Pick<
    IOutline,
    'status' | 'state' | 'step' | 'max_steps' | 'cursor' | 'counts'
  > {
  written: number;
  sections: number;
}

/**
 * How a run's header starts, `runMeta`'s and the runs panel's: the state (only
 * while the run can still move) and the step, `['drafting 2.1', 'step 12/140']`.
 */
export function runHead(run: IRunSummary): string[] {
  const parts: string[] = [];
  if (!isOver(run.status) && run.state && run.state !== 'done') {
    parts.push(stateLabel(run.state, run.cursor));
  }
  parts.push(run.max_steps ? `step ${run.step}/${run.max_steps}` : `step ${run.step}`);
  return parts;
}

/**
 * The line under a run's title:
 * `drafting 2.1 · step 12/140 · 3/5 sections written · 4 searches · 1 extend · tokens 1.2k/567`.
 * The state only while the run can still move; counts only when the payload has them.
 */
export function runMeta(run: IRunSummary): string {
  const parts = runHead(run);
  parts.push(`${run.written}/${count(run.sections, 'sections')} written`);
  const c = run.counts;
  if (c.searches !== undefined) {
    parts.push(count(c.searches, 'searches'));
  }
  if (c.extends !== undefined) {
    parts.push(count(c.extends, 'extends'));
  }
  if (c.tokens_in !== undefined || c.tokens_out !== undefined) {
    parts.push(`tokens ${shortNumber(c.tokens_in ?? 0)}/${shortNumber(c.tokens_out ?? 0)}`);
  }
  return parts.join(' · ');
}

/** The exact numbers behind `runMeta`'s abbreviations, for a tooltip. */
export function runMetaTitle(run: IRunSummary): string {
  const c = run.counts;
  return `${c.tokens_in ?? 0} tokens in, ${c.tokens_out ?? 0} tokens out`;
}

/** What an outline with no node says. */
export function emptyOutline(status: string): string {
  return isOver(status) ? 'No outline: the run ended before a plan.' : 'No outline yet.';
}

/** The body of a locked section that was never written: never an empty heading. */
export const LOCKED_UNWRITTEN = 'Locked before it was written.';

/** A node counts as written when its status says so, or it was locked with its text. */
export function isWritten(node: { status: string; text?: string }): boolean {
  return (
    node.status === 'written' ||
    node.status === 'extended' ||
    (node.status === 'locked' && !!node.text)
  );
}
