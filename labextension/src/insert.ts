/**
 * Turning a `CELLS_MIME` payload into notebook cells: the pure part.
 *
 * Everything works on the notebook's shared model (`ISharedNotebook`), which the
 * open document, the command, the comm and jest all have, so no widget is needed.
 */

import type { ISharedCell, ISharedCodeCell, ISharedNotebook } from '@jupyter/ydoc';
import type { PartialJSONObject } from '@lumino/coreutils';

import { isObject } from './json';
import {
  CELL_METADATA_KEY,
  CELLS_MIME,
  ICellsPayload,
  IReportCell,
  OUTLINE_MIME
} from './tokens';

/** The payload is not a report this extension can insert. */
export class CellsPayloadError extends Error {}

/** The only cells a report may add: nothing inserted from a payload can run. */
const CELL_TYPES = ['markdown', 'raw'];

function parseCell(value: unknown, runId: string, where: string): IReportCell {
  if (!isObject(value)) {
    throw new CellsPayloadError(`${where} is not an object`);
  }
  const cellType = value.cell_type ?? 'markdown';
  if (cellType === 'code') {
    throw new CellsPayloadError(
      `${where} is a code cell: a report inserts only Markdown and raw cells`
    );
  }
  if (typeof cellType !== 'string' || !CELL_TYPES.includes(cellType)) {
    throw new CellsPayloadError(`${where} has an unknown cell_type`);
  }
  let source = value.source;
  if (Array.isArray(source) && source.every(line => typeof line === 'string')) {
    source = source.join('');
  }
  if (typeof source !== 'string') {
    throw new CellsPayloadError(`${where} has no text "source"`);
  }
  // Parsed JSON, so every value is JSON.
  const metadata = (isObject(value.metadata) ? value.metadata : {}) as PartialJSONObject;
  const own = metadata[CELL_METADATA_KEY];
  const warp = isObject(own) ? own : {};
  return {
    cell_type: cellType as IReportCell['cell_type'],
    source,
    // The payload's run id is what makes inserting idempotent: every cell carries it.
    metadata: { ...metadata, [CELL_METADATA_KEY]: { ...warp, run_id: runId } }
  };
}

/** Check a `CELLS_MIME` payload; throws `CellsPayloadError` saying what is wrong. */
export function parseCellsPayload(data: unknown): ICellsPayload {
  if (!isObject(data)) {
    throw new CellsPayloadError('the payload is not a JSON object');
  }
  const runId = data.run_id;
  if (typeof runId !== 'string' || runId === '') {
    throw new CellsPayloadError('the payload has no "run_id"');
  }
  if (!Array.isArray(data.cells)) {
    throw new CellsPayloadError('"cells" is not a list');
  }
  return {
    version: typeof data.version === 'number' ? data.version : 1,
    run_id: runId,
    title: typeof data.title === 'string' ? data.title : '',
    cells: data.cells.map((cell, i) => parseCell(cell, runId, `cell ${i + 1}`))
  };
}

/** The data a cell's outputs carry under `mime`, in output order. */
export function outputData(cell: ISharedCell, mime: string): unknown[] {
  if (cell.cell_type !== 'code') {
    return [];
  }
  const found: unknown[] = [];
  for (const output of (cell as ISharedCodeCell).getOutputs()) {
    const data = (output as { data?: unknown }).data;
    if (isObject(data) && data[mime] !== undefined) {
      found.push(data[mime]);
    }
  }
  return found;
}

/** The run id a cell's metadata marks it with, if any. */
export function cellRunId(cell: ISharedCell): string | undefined {
  const warp = cell.getMetadata(CELL_METADATA_KEY);
  if (isObject(warp) && typeof warp.run_id === 'string') {
    return warp.run_id;
  }
  return undefined;
}

/** How many cells of the notebook belong to the run `runId`. */
export function countRunCells(notebook: ISharedNotebook, runId: string): number {
  return notebook.cells.filter(cell => cellRunId(cell) === runId).length;
}

/**
 * The report output at or above cell `from`: the cell's index and its payload.
 *
 * Looks at cell `from` first, then upwards, so the command works from the cell
 * that ran `%%warp --cells` or from any cell below it. The cell's last report
 * output wins (a streamed output may have been updated in place); a malformed one
 * throws `CellsPayloadError` rather than silently picking an older report.
 */
export function findCellsOutput(
  notebook: ISharedNotebook,
  from: number
): { index: number; payload: ICellsPayload } | null {
  for (let index = Math.min(from, notebook.cells.length - 1); index >= 0; index--) {
    const payloads = outputData(notebook.cells[index], CELLS_MIME);
    if (payloads.length > 0) {
      return { index, payload: parseCellsPayload(payloads[payloads.length - 1]) };
    }
  }
  return null;
}

/** The index of the cell whose output carries run `runId` (report or outline), or -1. */
export function findRunOutputCell(notebook: ISharedNotebook, runId: string): number {
  const carries = (data: unknown): boolean => isObject(data) && data.run_id === runId;
  let outlineCell = -1;
  for (let index = 0; index < notebook.cells.length; index++) {
    const cell = notebook.cells[index];
    if (outputData(cell, CELLS_MIME).some(carries)) {
      return index;
    }
    if (outlineCell < 0 && outputData(cell, OUTLINE_MIME).some(carries)) {
      outlineCell = index;
    }
  }
  return outlineCell;
}

/**
 * Insert the report's cells below cell `anchor`, in order, each with its metadata.
 *
 * Idempotent per run id: when cells of the payload's run are already in the
 * notebook nothing is inserted. Returns the number of cells inserted. An anchor
 * of -1 inserts at the top; an anchor past the end inserts at the end.
 */
export function insertReportCells(
  notebook: ISharedNotebook,
  payload: ICellsPayload,
  anchor: number
): number {
  if (payload.cells.length === 0 || countRunCells(notebook, payload.run_id) > 0) {
    return 0;
  }
  const at = Math.max(0, Math.min(anchor + 1, notebook.cells.length));
  notebook.insertCells(
    at,
    payload.cells.map(cell => ({
      cell_type: cell.cell_type,
      source: cell.source,
      metadata: cell.metadata
    }))
  );
  return payload.cells.length;
}
