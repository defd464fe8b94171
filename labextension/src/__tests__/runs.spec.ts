import { YNotebook } from '@jupyter/ydoc';

import { parseOutline } from '../outline';
import { findRuns, isWarpCell, startingCells } from '../runs';
import { OUTLINE_MIME } from '../tokens';
import { OUTLINE } from './fixtures';

type Outline = typeof OUTLINE & { [key: string]: unknown };

function outline(runId: string, step: number, status: string, extra = {}): Outline {
  return { ...OUTLINE, run_id: runId, step, status, ...extra };
}

function display(data: object) {
  return { output_type: 'display_data', metadata: {}, data: { [OUTLINE_MIME]: data, 'text/plain': 'outline' } };
}

/** Cells given as [source, outlines shown]. */
function notebook(cells: Array<[string, Outline[]]>): YNotebook {
  const nb = YNotebook.create();
  nb.insertCells(
    0,
    cells.map(([source, outlines]) => ({
      cell_type: 'code',
      source,
      metadata: {},
      outputs: outlines.map(display) as any
    }))
  );
  return nb;
}

describe('isWarpCell', () => {
  it.each([
    ['%%warp\nq', true],
    ['%%warp --step --cells\nq', true],
    ['  %%warp', true],
    ['%%warpx\nq', false],
    ['%warp_step 3', false],
    ['print(1)\n%%warp', false]
  ])('%j -> %s', (source, expected) => {
    expect(isWarpCell(source)).toBe(expected);
  });
});

describe('findRuns', () => {
  it('takes the newest outline of each run and the %%warp cell as its place', () => {
    const nb = notebook([
      ['%load_ext jupyter_warp', []],
      ['%%warp --step\nHow?', [outline('a', 0, 'paused'), outline('a', 5, 'paused')]],
      ['warp.controller', [outline('a', 9, 'running')]],
      ['%%warp\nWhy?', [outline('b', 3, 'running')]]
    ]);
    const runs = findRuns(nb);
    expect(runs.map(r => [r.runId, r.status, r.step, r.cellIndex])).toEqual([
      ['a', 'running', 9, 1],
      ['b', 'running', 3, 3]
    ]);
    expect(runs[0].title).toBe(OUTLINE.title);
    expect([runs[0].written, runs[0].sections]).toEqual([2, 5]);
  });

  it('at the same step an ended run wins over a running one, wherever it is', () => {
    const nb = notebook([
      ['%%warp\nq', [outline('a', 7, 'done')]],
      ['warp.controller', [outline('a', 7, 'running')]]
    ]);
    expect(findRuns(nb).map(r => r.status)).toEqual(['done']);
    const reversed = notebook([
      ['%%warp\nq', [outline('a', 7, 'running')]],
      ['warp.controller', [outline('a', 7, 'stopped')]]
    ]);
    expect(findRuns(reversed).map(r => [r.status, r.cellIndex])).toEqual([['stopped', 0]]);
  });

  it('goes to the first cell showing a run when no %%warp cell does', () => {
    const nb = notebook([
      ['x = 1', []],
      ['%warp_resume .warp/runs/a', [outline('a', 4, 'paused')]],
      ['warp.controller', [outline('a', 6, 'paused')]]
    ]);
    expect(findRuns(nb).map(r => [r.step, r.cellIndex])).toEqual([[6, 1]]);
  });

  it('follows the live tree when it is ahead of the outputs', () => {
    const nb = notebook([['%%warp\nq', [outline('a', 0, 'running', { nodes: [] })]]]);
    const live = [{ outline: parseOutline(outline('a', 4, 'running')), cellIndex: 0 }];
    const [run] = findRuns(nb, live);
    expect([run.step, run.state, run.cursor, run.sections]).toEqual([4, 'write', 'section-2.1', 5]);
    // A sighting in a cell that no longer exists is ignored.
    expect(findRuns(nb, [{ outline: live[0].outline, cellIndex: 5 }])[0].step).toBe(0);
  });

  it('shows a run its kernel left behind as stopped, and says why', () => {
    const nb = notebook([
      ['%%warp\nq', [outline('a', 4, 'running')]],
      ['%%warp\nq2', [outline('b', 8, 'done')]],
      ['%%warp --step\nq3', [outline('c', 2, 'paused')]]
    ]);
    const stale = new Map([
      ['a', 4],
      ['c', 1] // it moved on since: not stale
    ]);
    const runs = findRuns(nb, [], stale);
    expect(runs.map(r => r.status)).toEqual(['stopped', 'done', 'paused']);
    expect(runs[0].note).toBe('was running; its kernel is gone (resume with %warp_resume)');
    const noKernel = findRuns(nb, [], new Map(), false);
    expect(noKernel.map(r => r.status)).toEqual(['stopped', 'done', 'stopped']);
    expect(noKernel[1].note).toBeUndefined();
  });

  it('skips outlines it cannot read', () => {
    const nb = notebook([['%%warp\nq', [{ nodes: 'broken' } as unknown as Outline]]]);
    expect(findRuns(nb)).toEqual([]);
  });
});

describe('startingCells', () => {
  it('lists %%warp cells that run and show no outline yet', () => {
    const nb = notebook([
      ['%%warp\nq', []],
      ['%%warp\nq2', [outline('b', 1, 'running')]],
      ['print(1)', []],
      ['%%warp\nq3', []]
    ]);
    nb.cells.forEach(cell => {
      (cell as any).executionState = 'running';
    });
    (nb.cells[3] as any).executionState = 'idle';
    expect(startingCells(nb)).toEqual([0]);
    const live = [{ outline: parseOutline(outline('a', 1, 'running')), cellIndex: 0 }];
    expect(startingCells(nb, live)).toEqual([]);
  });
});
