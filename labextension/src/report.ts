/**
 * The renderer for a report output (`CELLS_MIME`): a one-line note instead of
 * the whole report, since its cells are inserted below the `%%warp` cell.
 *
 *     Report: 4 sections + References, inserted below · Insert again
 *
 * The action inserts the cells below the output's cell, idempotent per run id
 * (`insertReportCells`). Viewers without this extension show the output's
 * Markdown, so a headless or shared notebook still has the report once.
 */

import type { ISharedNotebook, NotebookChange } from '@jupyter/ydoc';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { CellsPayloadError, countRunCells, insertReportCells, parseCellsPayload } from './insert';
import { el } from './outline';
import { CELLS_MIME, ICellsPayload } from './tokens';
import { count } from './wording';

/** Where a rendered output lives: its notebook and the index of its cell. */
export interface IOutputPlace {
  notebook: ISharedNotebook;
  cellIndex: number;
}

/** Finds the notebook cell that holds a DOM node (the plugin looks through open notebooks). */
export type PlaceFinder = (node: HTMLElement) => IOutputPlace | null;

/** `Report: 4 sections + References`. */
export function describeReport(payload: ICellsPayload): string {
  const position = (cell: ICellsPayload['cells'][number]): unknown =>
    (cell.metadata?.jupyter_warp as { position?: unknown } | undefined)?.position;
  const references = payload.cells.some(cell => position(cell) === 'references');
  const sections = payload.cells.length - (references ? 1 : 0);
  return `Report: ${count(sections, 'sections')}${references ? ' + References' : ''}`;
}

/** Renders one report output as the note. */
export class ReportNote extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions, findPlace: PlaceFinder) {
    super();
    this._mimeType = options.mimeType;
    this._findPlace = findPlace;
    this.addClass('jp-WarpReport');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    try {
      this._payload = parseCellsPayload(model.data[this._mimeType]);
      this._error = '';
    } catch (err) {
      this._payload = null;
      this._error = err instanceof CellsPayloadError ? err.message : String(err);
    }
    this._message = '';
    this._draw();
    return Promise.resolve();
  }

  /** Insert the report below this output's cell; returns how many cells went in. */
  insert(): number {
    const place = this._place();
    if (!place || !this._payload) {
      return 0;
    }
    const inserted = insertReportCells(place.notebook, this._payload, place.cellIndex);
    this._message = inserted
      ? ''
      : 'already in this notebook: delete its cells to insert it again';
    this._draw();
    return inserted;
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._follow(this._findPlace(this.node)?.notebook ?? null);
    this._draw();
  }

  protected onBeforeDetach(msg: Message): void {
    this._follow(null);
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    this._follow(null);
    super.dispose();
  }

  /** Redraw when cells come or go: "inserted below" must stay true. */
  private _follow(notebook: ISharedNotebook | null): void {
    if (this._notebook === notebook) {
      return;
    }
    this._notebook?.changed.disconnect(this._onChange, this);
    this._notebook = notebook;
    this._notebook?.changed.connect(this._onChange, this);
  }

  private _onChange(_: ISharedNotebook, change: NotebookChange): void {
    if (change.cellsChange) {
      this._message = '';
      this._draw();
    }
  }

  private _place(): IOutputPlace | null {
    return this.isAttached ? this._findPlace(this.node) : null;
  }

  private _draw(): void {
    const doc = this.node.ownerDocument;
    if (this._payload === null) {
      this.node.replaceChildren(
        el(doc, 'span', 'jp-WarpReport-error', `WARP report cannot be shown: ${this._error}`)
      );
      return;
    }
    const payload = this._payload;
    const summary = el(doc, 'span', 'jp-WarpReport-summary', describeReport(payload));
    summary.title = `${payload.title} (run ${payload.run_id})`;
    const parts: HTMLElement[] = [summary];
    const place = this._place();
    if (place) {
      const present = countRunCells(place.notebook, payload.run_id) > 0;
      this.node.dataset.inserted = String(present);
      parts.push(
        el(doc, 'span', 'jp-WarpReport-state', present ? ', inserted below' : ', not in this notebook'),
        el(doc, 'span', 'jp-WarpReport-sep', ' · ')
      );
      const action = doc.createElement('button');
      action.type = 'button';
      action.className = 'jp-WarpReport-insert';
      action.textContent = present ? 'Insert again' : 'Insert below';
      action.addEventListener('click', () => this.insert());
      parts.push(action);
    }
    if (this._message) {
      const message = el(doc, 'span', 'jp-WarpReport-message', ` (${this._message})`);
      message.setAttribute('role', 'status');
      parts.push(message);
    }
    this.node.replaceChildren(...parts);
  }

  private _mimeType: string;
  private _findPlace: PlaceFinder;
  private _payload: ICellsPayload | null = null;
  private _error = '';
  private _message = '';
  private _notebook: ISharedNotebook | null = null;
}

/** The factory the plugin registers; `safe`: it shows counts, never the report's markup. */
export function reportRendererFactory(findPlace: PlaceFinder): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [CELLS_MIME],
    defaultRank: 0,
    createRenderer: options => new ReportNote(options, findPlace)
  };
}
