import { YNotebook } from '@jupyter/ydoc';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { WARP_RUNS_ICON_NAME, WARP_RUNS_SVG } from '../iconsvg';
import { RunsPanel } from '../panel';
import { LIVE_EVENT } from '../runs';
import { OUTLINE_MIME } from '../tokens';
import { OUTLINE } from './fixtures';

// LabIcon pulls in React and ES-module-only packages; the panel only hands it to its title.
jest.mock('../icons', () => ({ warpRunsIcon: { name: 'jupyter-warp:runs' } }));

function outline(runId: string, step: number, status: string) {
  return { ...OUTLINE, run_id: runId, step, status };
}

/** Just what panel.ts reads of a NotebookPanel, around a real shared notebook. */
function fakePanel(cells: Array<[string, object[]]>) {
  const sharedModel = YNotebook.create();
  sharedModel.insertCells(
    0,
    cells.map(([source, outlines]) => ({
      cell_type: 'code',
      source,
      metadata: {},
      outputs: outlines.map(data => ({
        output_type: 'display_data',
        metadata: {},
        data: { [OUTLINE_MIME]: data }
      })) as any
    }))
  );
  const node = document.createElement('div');
  document.body.appendChild(node);
  const widgets = sharedModel.cells.map(cell => {
    const cellNode = document.createElement('div');
    node.appendChild(cellNode);
    return { node: cellNode, model: { id: cell.getId() } };
  });
  const scrolled: number[] = [];
  const contentChanged = new Signal<any, void>({});
  const kernel = { status: 'idle' };
  const panel = {
    content: {
      node,
      widgets,
      model: { sharedModel },
      activeCellIndex: cells.length - 1,
      scrollToCell: (cell: unknown) => {
        scrolled.push(widgets.indexOf(cell as (typeof widgets)[number]));
        return Promise.resolve();
      }
    },
    model: { contentChanged },
    context: { ready: Promise.resolve() },
    sessionContext: {
      session: { kernel } as { kernel: typeof kernel | null },
      statusChanged: new Signal<any, string>({}),
      kernelChanged: new Signal<any, any>({})
    }
  };
  return { panel, sharedModel, scrolled, contentChanged, kernel };
}

function fakeTracker(panel: unknown) {
  return {
    currentWidget: panel,
    forEach: (f: (p: unknown) => void) => (panel ? f(panel) : undefined),
    widgetAdded: new Signal<any, any>({}),
    currentChanged: new Signal<any, any>({})
  };
}

async function settle(): Promise<void> {
  await Promise.resolve();
  await Promise.resolve();
  jest.advanceTimersByTime(250);
}

function rows(runs: RunsPanel) {
  return [...runs.node.querySelectorAll<HTMLElement>('.jp-WarpRuns-item')].map(item => ({
    run: item.dataset.runId ?? null,
    title: item.querySelector('.jp-WarpRuns-title')?.textContent,
    status: item.querySelector('.jp-WarpRuns-status')?.textContent,
    meta: item.querySelector('.jp-WarpRuns-meta')?.textContent
  }));
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => {
  jest.useRealTimers();
  document.body.replaceChildren();
});

describe('RunsPanel', () => {
  it('lists each run once, with its true state on one line, and goes to its %%warp cell', async () => {
    const fake = fakePanel([
      ['%%warp --step\nHow?', [outline('a', 3, 'paused')]],
      ['warp.controller', [outline('a', 12, 'running')]],
      ['x = 1', []]
    ]);
    const runs = new RunsPanel(fakeTracker(fake.panel) as any);
    Widget.attach(runs, document.body);
    await settle();
    expect(rows(runs)).toEqual([
      {
        run: 'a',
        title: OUTLINE.title,
        status: 'running',
        meta: 'drafting 2.1 · step 12 · 2/5 sections'
      }
    ]);
    expect((runs.title.icon as any).name).toBe(WARP_RUNS_ICON_NAME);
    // A themed icon of its own, not JupyterLab's list icon.
    expect(WARP_RUNS_SVG).toContain('class="jp-icon3"');
    const item = runs.node.querySelector<HTMLElement>('.jp-WarpRuns-item')!;
    expect(item.querySelectorAll('.jp-WarpRuns-line')).toHaveLength(1);
    item.click();
    expect(fake.panel.content.activeCellIndex).toBe(0);
    expect(fake.scrolled).toEqual([0]);
  });

  it('follows outputs and live trees as they change', async () => {
    const fake = fakePanel([['%%warp\nq', [outline('a', 0, 'running')]]]);
    const runs = new RunsPanel(fakeTracker(fake.panel) as any);
    await settle();
    expect(rows(runs)[0].meta).toContain('step 0');
    // The live tree announces step 7 from inside the cell.
    const view = document.createElement('div');
    fake.panel.content.widgets[0].node.appendChild(view);
    view.dispatchEvent(
      new CustomEvent(LIVE_EVENT, { bubbles: true, detail: { outline: outline('a', 7, 'running') } })
    );
    await settle();
    expect(rows(runs)[0].meta).toContain('step 7');
    // The run ends: its output is replaced by the final static outline.
    const cell = fake.sharedModel.cells[0] as any;
    cell.setOutputs([
      { output_type: 'display_data', metadata: {}, data: { [OUTLINE_MIME]: outline('a', 9, 'done') } }
    ]);
    fake.contentChanged.emit();
    await settle();
    expect(rows(runs)[0]).toMatchObject({ status: 'done', meta: 'step 9 · 2/5 sections' });
  });

  it('shows a run stopped once its kernel restarts, and a starting run before its outline', async () => {
    const fake = fakePanel([
      ['%%warp\nq', [outline('a', 4, 'running')]],
      ['%%warp\nWhat is new?', []]
    ]);
    (fake.sharedModel.cells[1] as any).executionState = 'running';
    const runs = new RunsPanel(fakeTracker(fake.panel) as any);
    await settle();
    expect(rows(runs).map(r => [r.run, r.status, r.title])).toEqual([
      ['a', 'running', OUTLINE.title],
      [null, 'starting', 'What is new?']
    ]);
    fake.panel.sessionContext.statusChanged.emit('restarting');
    (fake.sharedModel.cells[1] as any).executionState = 'idle';
    await settle();
    expect(rows(runs).map(r => [r.run, r.status])).toEqual([['a', 'stopped']]);
    const item = runs.node.querySelector<HTMLElement>('.jp-WarpRuns-item')!;
    expect(item.title).toContain('its kernel is gone');
  });

  it('treats every unfinished run as stopped when the notebook has no kernel', async () => {
    const fake = fakePanel([['%%warp\nq', [outline('a', 4, 'paused')]]]);
    fake.panel.sessionContext.session.kernel = null;
    const runs = new RunsPanel(fakeTracker(fake.panel) as any);
    await settle();
    expect(rows(runs).map(r => r.status)).toEqual(['stopped']);
  });

  it('says when there is nothing to list', async () => {
    const runs = new RunsPanel(fakeTracker(null) as any);
    await settle();
    expect(runs.node.querySelector('.jp-WarpRuns-empty')?.textContent).toBe(
      'Open a notebook to see its WARP runs.'
    );
  });
});
