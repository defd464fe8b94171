/**
 * A side panel listing the WARP runs of the current notebook, with their status.
 *
 * Runs are found in the outline outputs of the notebook's cells; clicking one
 * selects and scrolls to the cell that shows it.
 */

import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { listIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { outputData } from './insert';
import { parseOutline } from './outline';
import { OUTLINE_MIME } from './tokens';

/** One run as the panel lists it. */
export interface IRunEntry {
  runId: string;
  title: string;
  status: string;
  step: number;
  cellIndex: number;
}

/** The runs whose outline a notebook shows, one entry per run (its latest cell). */
export function findRuns(panel: NotebookPanel): IRunEntry[] {
  const runs = new Map<string, IRunEntry>();
  const cells = panel.content.model?.sharedModel.cells ?? [];
  cells.forEach((cell, cellIndex) => {
    for (const data of outputData(cell, OUTLINE_MIME)) {
      try {
        const outline = parseOutline(data);
        const runId = outline.run_id || `cell-${cellIndex}`;
        runs.set(runId, {
          runId,
          title: outline.title || outline.query || runId,
          status: outline.status,
          step: outline.step,
          cellIndex
        });
      } catch {
        continue;
      }
    }
  });
  return [...runs.values()];
}

/** The panel itself. */
export class RunsPanel extends Widget {
  constructor(tracker: INotebookTracker) {
    super();
    this.id = 'jupyter-warp-runs';
    this.addClass('jp-WarpRuns');
    this.title.icon = listIcon;
    this.title.caption = 'WARP runs';
    this._tracker = tracker;
    tracker.currentChanged.connect(this._follow, this);
    this._follow();
  }

  /** Watch the current notebook; outputs stream, so updates are batched. */
  private _follow(): void {
    this._watched?.model?.contentChanged.disconnect(this._schedule, this);
    this._watched = this._tracker.currentWidget;
    this._watched?.model?.contentChanged.connect(this._schedule, this);
    this._watched?.context.ready.then(() => this._schedule());
    this._schedule();
  }

  private _schedule(): void {
    if (this._timer === null) {
      this._timer = window.setTimeout(() => {
        this._timer = null;
        this._update();
      }, 300);
    }
  }

  private _update(): void {
    if (this.isDisposed) {
      return;
    }
    const panel = this._watched;
    const heading = document.createElement('div');
    heading.className = 'jp-WarpRuns-heading';
    heading.textContent = 'WARP runs';
    const list = document.createElement('ul');
    list.className = 'jp-WarpRuns-list';
    const runs = panel ? findRuns(panel) : [];
    for (const run of runs) {
      list.appendChild(this._item(panel!, run));
    }
    const children: HTMLElement[] = [heading, list];
    if (runs.length === 0) {
      const empty = document.createElement('div');
      empty.className = 'jp-WarpRuns-empty';
      empty.textContent = panel
        ? 'No WARP run in this notebook.'
        : 'Open a notebook to see its WARP runs.';
      children.push(empty);
    }
    this.node.replaceChildren(...children);
  }

  private _item(panel: NotebookPanel, run: IRunEntry): HTMLElement {
    const item = document.createElement('li');
    item.className = 'jp-WarpRuns-item';
    item.dataset.runId = run.runId;
    item.tabIndex = 0;
    item.title = `${run.runId}: go to cell ${run.cellIndex + 1}`;
    const title = document.createElement('span');
    title.className = 'jp-WarpRuns-title';
    title.textContent = run.title;
    const status = document.createElement('span');
    status.className = 'jp-WarpRuns-status jp-WarpStatus';
    status.dataset.status = run.status;
    status.textContent = `${run.status || 'unknown'} · step ${run.step}`;
    item.append(title, status);
    const go = (): void => {
      const notebook = panel.content;
      const cell = notebook.widgets[run.cellIndex];
      if (cell) {
        notebook.activeCellIndex = run.cellIndex;
        void notebook.scrollToCell(cell, 'start');
      }
    };
    item.addEventListener('click', go);
    item.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        go();
      }
    });
    return item;
  }

  dispose(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
    }
    super.dispose();
  }

  private _tracker: INotebookTracker;
  private _watched: NotebookPanel | null = null;
  private _timer: number | null = null;
}
