/**
 * Which WARP runs a notebook holds, and the true state of each: the pure part
 * of the runs panel, on the notebook's shared model (jest runs it too).
 *
 * A run's outline can be shown by several outputs: its `%%warp` cell (a static
 * outline, updated in place while the run goes on), a later cell that displays
 * the controller again, and the live tree (which reports each new outline with
 * a DOM event, see `LIVE_EVENT`). The most advanced one is the run's state; the
 * `%%warp` cell is where the panel takes the user.
 */

import type { ISharedCodeCell, ISharedNotebook } from '@jupyter/ydoc';

import { outputData } from './insert';
import { parseOutline, summarize } from './outline';
import { IOutline, OUTLINE_MIME } from './tokens';
import { IRunSummary, isOver } from './wording';

/** The event the live tree (`outline.js`) dispatches, bubbling, on each new outline. */
export const LIVE_EVENT = 'jupyter-warp:outline';

/** One run as the panel lists it. */
export interface IRunEntry extends IRunSummary {
  runId: string;
  title: string;
  /** The cell to go to: the run's `%%warp` cell when there is one. */
  cellIndex: number;
  /** Set when the shown status is not the outline's own (the kernel is gone). */
  note?: string;
}

/** An outline seen in a cell, from an output or from the live tree. */
export interface IOutlineSighting {
  outline: IOutline;
  cellIndex: number;
}

/** `%%warp` on the first line: the cell that starts a run. */
export function isWarpCell(source: string): boolean {
  return /^\s*%%warp(\s|$)/.test(source);
}

/** Every outline output of the notebook, in document order. */
export function outlineSightings(notebook: ISharedNotebook): IOutlineSighting[] {
  const found: IOutlineSighting[] = [];
  notebook.cells.forEach((cell, cellIndex) => {
    for (const data of outputData(cell, OUTLINE_MIME)) {
      try {
        found.push({ outline: parseOutline(data), cellIndex });
      } catch {
        continue; // the renderer shows the error; the panel skips it
      }
    }
  });
  return found;
}

/** Steps only go up; at the same step an ended run is newer than a running one. */
function newer(a: IOutline, b: IOutline): boolean {
  if (a.step !== b.step) {
    return a.step > b.step;
  }
  return Number(isOver(a.status)) >= Number(isOver(b.status));
}

/**
 * The runs of a notebook, one entry each, in the order their cells come.
 *
 * `live` adds the outlines the live trees reported; `stale` maps run ids to the
 * step they were at when their kernel went away (restart, shutdown): a run still
 * "running" or "paused" at that step is shown as stopped, since nothing runs it.
 * `kernelAlive` false treats every run that way.
 */
export function findRuns(
  notebook: ISharedNotebook,
  live: IOutlineSighting[] = [],
  stale: ReadonlyMap<string, number> = new Map(),
  kernelAlive = true
): IRunEntry[] {
  const best = new Map<string, IOutlineSighting>();
  /** Run id -> the cell to go to, and whether it is a `%%warp` cell. */
  const home = new Map<string, { index: number; warp: boolean }>();
  for (const sighting of [...outlineSightings(notebook), ...live]) {
    const { outline, cellIndex } = sighting;
    if (cellIndex < 0 || cellIndex >= notebook.cells.length) {
      continue;
    }
    const runId = outline.run_id || `cell-${cellIndex}`;
    const known = best.get(runId);
    if (known === undefined || newer(outline, known.outline)) {
      best.set(runId, sighting);
    }
    const warp = isWarpCell(notebook.cells[cellIndex].getSource());
    const current = home.get(runId);
    if (
      current === undefined ||
      (warp && !current.warp) ||
      (warp === current.warp && cellIndex < current.index)
    ) {
      home.set(runId, { index: cellIndex, warp });
    }
  }
  const entries: IRunEntry[] = [];
  for (const [runId, { outline }] of best) {
    const entry: IRunEntry = {
      ...summarize(outline),
      runId,
      title: outline.title || outline.query || runId,
      cellIndex: home.get(runId)?.index ?? 0
    };
    const gone = !kernelAlive || stale.get(runId) === outline.step;
    if (gone && !isOver(entry.status)) {
      entry.note = `was ${entry.status || 'running'}; its kernel is gone (resume with %warp_resume)`;
      entry.status = 'stopped';
    }
    entries.push(entry);
  }
  return entries.sort((a, b) => a.cellIndex - b.cellIndex);
}

/**
 * `%%warp` cells that are executing but show no outline yet (the model loads,
 * the first search runs): the panel lists them so a start is never silent.
 */
export function startingCells(
  notebook: ISharedNotebook,
  live: IOutlineSighting[] = []
): number[] {
  const shown = new Set(live.map(sighting => sighting.cellIndex));
  const starting: number[] = [];
  notebook.cells.forEach((cell, index) => {
    if (
      !shown.has(index) &&
      cell.cell_type === 'code' &&
      (cell as ISharedCodeCell).executionState === 'running' &&
      isWarpCell(cell.getSource()) &&
      outputData(cell, OUTLINE_MIME).length === 0
    ) {
      starting.push(index);
    }
  });
  return starting;
}
