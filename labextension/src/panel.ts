/**
 * A side panel listing the WARP runs of the current notebook with their true
 * state (status, step, sections written), one line of badges each; clicking a
 * run selects and scrolls to its `%%warp` cell.
 *
 * It follows the notebook's outputs (a run's outline output is updated in place
 * while it runs), the live trees' `LIVE_EVENT`s, and the kernel: a run left
 * "running" by a kernel that restarted or went away is shown as stopped.
 */

import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel, Session } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { warpRunsIcon } from './icons';
import { badge, el, parseOutline } from './outline';
import {
  findRuns,
  IOutlineSighting,
  IRunEntry,
  LIVE_EVENT,
  startingCells
} from './runs';
import { RUN_STATUSES } from './tokens';
import { count, isOver, runHead, runMeta, runMetaTitle } from './wording';

/** What the panel remembers of one notebook between updates. */
interface IWatch {
  /** The newest outline each live tree reported, by run id, with its cell's id. */
  live: Map<string, { outline: IOutlineSighting['outline']; cellId: string }>;
  /** Run id -> the step it was at when its kernel went away. */
  stale: Map<string, number>;
}

/** `drafting 2.1 · step 12/140 · 3/5 sections`: what fits beside the badge. */
export function panelMeta(run: IRunEntry): string {
  return [...runHead(run), `${run.written}/${count(run.sections, 'sections')}`].join(' · ');
}

/** The panel itself. */
export class RunsPanel extends Widget {
  constructor(tracker: INotebookTracker) {
    super();
    this.id = 'jupyter-warp-runs';
    this.addClass('jp-WarpRuns');
    this.title.icon = warpRunsIcon;
    this.title.caption = 'WARP runs';
    this._tracker = tracker;
    tracker.forEach(panel => this._watch(panel));
    tracker.widgetAdded.connect((_, panel) => this._watch(panel), this);
    tracker.currentChanged.connect(this._schedule, this);
    this._schedule();
  }

  /** Listen to one notebook for as long as it is open. */
  private _watch(panel: NotebookPanel): void {
    const watch: IWatch = { live: new Map(), stale: new Map() };
    this._watches.set(panel, watch);
    const onChange = (): void => {
      if (this._tracker.currentWidget === panel) {
        this._schedule();
      }
    };
    panel.content.node.addEventListener(LIVE_EVENT, event => {
      this._onLive(panel, watch, event as CustomEvent);
      onChange();
    });
    panel.context.ready.then(() => {
      panel.model?.contentChanged.connect(onChange, this);
      onChange();
    });
    const context = panel.sessionContext;
    const gone = (): void => {
      this._markStale(panel, watch);
      onChange();
    };
    context.statusChanged.connect((_, status: Kernel.Status) => {
      if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
        gone();
      } else {
        onChange();
      }
    }, this);
    context.kernelChanged.connect(
      (_, change: Session.ISessionConnection.IKernelChangedArgs) => {
        if (change.oldValue) {
          gone();
        } else {
          onChange();
        }
      },
      this
    );
  }

  private _onLive(panel: NotebookPanel, watch: IWatch, event: CustomEvent): void {
    const target = event.target as Node | null;
    const cell = panel.content.widgets.find(c => target !== null && c.node.contains(target));
    if (!cell) {
      return;
    }
    try {
      const outline = parseOutline((event.detail as { outline?: unknown })?.outline);
      const runId = outline.run_id;
      if (runId) {
        watch.live.set(runId, { outline, cellId: cell.model.id });
        watch.stale.delete(runId);
      }
    } catch {
      return; // the tree itself shows what is wrong
    }
  }

  /** The kernel went away: whatever it was running stops where it was. */
  private _markStale(panel: NotebookPanel, watch: IWatch): void {
    for (const run of this._runs(panel, watch, this._liveSightings(panel, watch), true)) {
      if (!isOver(run.status)) {
        watch.stale.set(run.runId, run.step);
      }
    }
    watch.live.clear();
  }

  private _liveSightings(panel: NotebookPanel, watch: IWatch): IOutlineSighting[] {
    const cells = panel.content.model?.sharedModel.cells ?? [];
    const sightings: IOutlineSighting[] = [];
    for (const { outline, cellId } of watch.live.values()) {
      const cellIndex = cells.findIndex(cell => cell.getId() === cellId);
      if (cellIndex >= 0) {
        sightings.push({ outline, cellIndex });
      }
    }
    return sightings;
  }

  private _runs(
    panel: NotebookPanel,
    watch: IWatch,
    live: IOutlineSighting[],
    alive?: boolean
  ): IRunEntry[] {
    const model = panel.content.model;
    if (!model) {
      return [];
    }
    const kernel = panel.sessionContext.session?.kernel;
    const kernelAlive = alive ?? (!!kernel && kernel.status !== 'dead');
    return findRuns(model.sharedModel, live, watch.stale, kernelAlive);
  }

  private _schedule(): void {
    if (this._timer === null) {
      this._timer = window.setTimeout(() => {
        this._timer = null;
        this._update();
      }, 200);
    }
  }

  private _update(): void {
    if (this.isDisposed) {
      return;
    }
    const panel = this._tracker.currentWidget;
    const watch = panel ? this._watches.get(panel) : undefined;
    const heading = el(document, 'span', 'jp-WarpRuns-heading', 'WARP runs');
    const list = el(document, 'ul', 'jp-WarpRuns-list');
    const live = panel && watch ? this._liveSightings(panel, watch) : [];
    const runs = panel && watch ? this._runs(panel, watch, live) : [];
    for (const run of runs) {
      list.appendChild(this._item(panel!, run));
    }
    const model = panel?.content.model;
    const starting = panel && watch && model ? startingCells(model.sharedModel, live) : [];
    for (const index of starting) {
      list.appendChild(this._startingItem(panel!, index));
    }
    const children: HTMLElement[] = [heading, list];
    if (runs.length + starting.length === 0) {
      children.push(
        el(
          document,
          'span',
          'jp-WarpRuns-empty',
          panel ? 'No WARP run in this notebook.' : 'Open a notebook to see its WARP runs.'
        )
      );
    }
    this.node.replaceChildren(...children);
  }

  private _row(panel: NotebookPanel, cellIndex: number, title: string): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'jp-WarpRuns-item';
    item.tabIndex = 0;
    item.dataset.cellIndex = String(cellIndex);
    item.appendChild(el(document, 'span', 'jp-WarpRuns-title', title));
    const go = (): void => {
      const notebook = panel.content;
      const cell = notebook.widgets[cellIndex];
      if (cell) {
        notebook.activeCellIndex = cellIndex;
        void notebook.scrollToCell(cell, 'start');
      }
    };
    item.addEventListener('click', go);
    item.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        go();
      }
    });
    return item;
  }

  private _line(status: string, label: string, meta: string): HTMLElement {
    const line = el(document, 'div', 'jp-WarpRuns-line');
    line.append(
      badge(document, status, 'jp-WarpRuns-status jp-WarpStatus', RUN_STATUSES, label),
      el(document, 'span', 'jp-WarpRuns-meta', meta)
    );
    return line;
  }

  private _item(panel: NotebookPanel, run: IRunEntry): HTMLElement {
    const item = this._row(panel, run.cellIndex, run.title);
    item.dataset.runId = run.runId;
    item.dataset.status = run.status;
    item.appendChild(this._line(run.status, run.status || 'unknown', panelMeta(run)));
    item.title = [
      `${run.title}`,
      `run ${run.runId}: ${run.status}${run.note ? ` (${run.note})` : ''}`,
      runMeta(run),
      runMetaTitle(run),
      `click: go to cell ${run.cellIndex + 1}`
    ].join('\n');
    return item;
  }

  private _startingItem(panel: NotebookPanel, cellIndex: number): HTMLElement {
    const source = panel.content.model?.sharedModel.cells[cellIndex]?.getSource() ?? '';
    const question = source.split('\n').slice(1).join(' ').trim() || 'WARP run';
    const item = this._row(panel, cellIndex, question);
    item.classList.add('jp-mod-starting');
    item.appendChild(this._line('running', 'starting', 'no outline yet'));
    item.title = `${question}\nstarting: loading the model or searching\nclick: go to cell ${cellIndex + 1}`;
    return item;
  }

  dispose(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
    }
    super.dispose();
  }

  private _tracker: INotebookTracker;
  private _watches = new WeakMap<NotebookPanel, IWatch>();
  private _timer: number | null = null;
}
