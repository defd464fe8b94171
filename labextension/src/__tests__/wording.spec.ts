import * as live from '@warp-static/outline.js';

import { parseOutline, summarize } from '../outline';
import {
  count,
  emptyOutline,
  IRunSummary,
  LOCKED_UNWRITTEN,
  runMeta,
  runMetaTitle,
  sectionNumber,
  shortNumber,
  stateLabel
} from '../wording';
import { OUTLINE } from './fixtures';

describe('shortNumber', () => {
  it.each([
    [0, '0'],
    [7, '7'],
    [999, '999'],
    [1000, '1k'],
    [1099, '1k'],
    [1100, '1.1k'],
    [1234, '1.2k'],
    [1299, '1.2k'],
    [9999, '9.9k'],
    [10000, '10k'],
    [11011, '11k'],
    [999999, '999k'],
    [1000000, '1M'],
    [1250000, '1.2M'],
    [12345678, '12M']
  ])('%i -> %s (rounded down, integers only)', (n, text) => {
    expect(shortNumber(n)).toBe(text);
  });
});

describe('the shared wording', () => {
  it('counts in words, one and many', () => {
    expect(count(1, 'citations')).toBe('1 citation');
    expect(count(0, 'citations')).toBe('0 citations');
    expect(count(1, 'searches')).toBe('1 search');
    expect(count(2, 'searches')).toBe('2 searches');
    expect(count(1, 'extends')).toBe('1 extend');
    expect(count(3, 'extends')).toBe('3 extends');
  });

  it('names the state with the section number, not the position id', () => {
    expect(stateLabel('write', 'section-2.1')).toBe('drafting 2.1');
    expect(stateLabel('search', 'section-1')).toBe('searching for 1');
    expect(stateLabel('init_plan', null)).toBe('planning');
    expect(stateLabel('extend_plan', 'section-3')).toBe('deepening');
    expect(stateLabel('odd', null)).toBe('odd');
    expect(sectionNumber('section-2.1')).toBe('2.1');
  });

  it('writes the header line of a running and of a finished run', () => {
    const running = summarize(parseOutline(OUTLINE));
    expect(runMeta(running)).toBe(
      'drafting 2.1 · step 12 · 2/5 sections written · 4 searches · 1 extend · tokens 1.2k/567'
    );
    expect(runMetaTitle(running)).toBe('1234 tokens in, 567 tokens out');
    const done = summarize(
      parseOutline({ ...OUTLINE, status: 'done', state: 'done', max_steps: 140 })
    );
    expect(runMeta(done)).toBe(
      'step 12/140 · 2/5 sections written · 4 searches · 1 extend · tokens 1.2k/567'
    );
  });

  it('says why an outline is empty', () => {
    expect(emptyOutline('running')).toBe('No outline yet.');
    expect(emptyOutline('failed')).toBe('No outline: the run ended before a plan.');
  });
});

describe('outline.js uses the same words and numbers', () => {
  const numbers = [0, 1, 2, 999, 1000, 1050, 1100, 4321, 9999, 10000, 54321, 999999, 1e6, 4.5e6, 2e7];

  it('for numbers and counts', () => {
    for (const n of numbers) {
      expect(live.shortNumber(n)).toBe(shortNumber(n));
      for (const what of ['citations', 'searches', 'extends', 'sections', 'steps'] as const) {
        expect(live.count(n, what)).toBe(count(n, what));
      }
    }
  });

  it('for states, headers and notes', () => {
    for (const state of ['search', 'init_plan', 'write', 'extend_plan', 'done', 'odd']) {
      for (const cursor of [null, 'section-1', 'section-2.3.1']) {
        expect(live.stateLabel(state, cursor)).toBe(stateLabel(state, cursor));
      }
    }
    const outlines = [
      OUTLINE,
      { ...OUTLINE, status: 'done', state: 'done', max_steps: 140 },
      { ...OUTLINE, status: 'paused', counts: {} },
      { ...OUTLINE, nodes: [], counts: { tokens_in: 123456 } },
      {
        ...OUTLINE,
        nodes: [
          { position: 'section-1', title: 'a', plan: '', text: 'kept', status: 'locked', citations: 0, children: [] },
          { position: 'section-2', title: 'b', plan: 'p', text: '', status: 'locked', citations: 0, children: [] },
          { position: 'section-3', title: 'c', plan: '', text: 'half', status: 'drafting', citations: 0, children: [] }
        ]
      }
    ];
    for (const outline of outlines) {
      const ours: IRunSummary = summarize(parseOutline(outline));
      const theirs = live.summarize(outline);
      expect(theirs).toEqual({ ...ours, max_steps: ours.max_steps });
      expect(live.runMeta(theirs)).toBe(runMeta(ours));
      expect(live.runMetaTitle(theirs)).toBe(runMetaTitle(ours));
    }
    for (const status of ['running', 'paused', 'done', 'failed', 'stopped', '']) {
      expect(live.emptyOutline(status)).toBe(emptyOutline(status));
    }
    expect(live.LOCKED_UNWRITTEN).toBe(LOCKED_UNWRITTEN);
    expect(runMeta(summarize(parseOutline(outlines[4])))).toContain('1/3 sections written');
  });
});
