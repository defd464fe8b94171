/**
 * The formats the kernel side and this extension agree on.
 *
 * They repeat `jupyter_warp/mime.py`, the single source of truth;
 * `tests/test_labextension.py` checks that every constant here equals the Python one.
 */

import type { PartialJSONObject } from '@lumino/coreutils';

export const FORMAT_VERSION = 1;
export const OUTLINE_MIME = 'application/vnd.jupyter-warp.outline+json';
export const CELLS_MIME = 'application/vnd.jupyter-warp.cells+json';
export const COMM_TARGET = 'jupyter-warp';
export const CELL_METADATA_KEY = 'jupyter_warp';
export const INSERT_COMMAND = 'jupyter-warp:insert-report-cells';
export const INSERT_COMMAND_LABEL = 'Insert WARP report as cells';

/** Command ids of this extension, in one place. */
export const CommandIDs = {
  insertReportCells: INSERT_COMMAND,
  showRuns: 'jupyter-warp:show-runs'
} as const;

/** The statuses a node of the outline can have. */
export const NODE_STATUSES = [
  'planned',
  'drafting',
  'written',
  'extended',
  'locked',
  'failed'
] as const;

export type NodeStatus = (typeof NODE_STATUSES)[number];

/** The statuses a run can have. */
export const RUN_STATUSES = ['running', 'paused', 'done', 'failed', 'stopped'] as const;

/** One node of a run's outline (`OUTLINE_MIME`). */
export interface IOutlineNode {
  /** Stable across user edits (positions shift when a node is added or deleted); absent in old outputs. */
  id?: string;
  position: string;
  title: string;
  plan: string;
  text: string;
  status: string;
  citations: number;
  children: IOutlineNode[];
}

/** A run's outline, as the kernel emits it under `OUTLINE_MIME`. */
export interface IOutline {
  version: number;
  run_id: string;
  title: string;
  query: string;
  status: string;
  state: string;
  step: number;
  /** The run's step budget, when the kernel sends it (`step 12/140`). */
  max_steps?: number;
  cursor: string | null;
  counts: { [key: string]: number };
  nodes: IOutlineNode[];
}

/** The metadata each inserted cell carries under `CELL_METADATA_KEY`. */
export interface IWarpCellMetadata {
  run_id: string;
  position: string;
  citations?: number[];
  [key: string]: unknown;
}

/** One cell of the report (`CELLS_MIME`). */
export interface IReportCell {
  cell_type: 'markdown' | 'code' | 'raw';
  source: string;
  metadata: PartialJSONObject;
}

/** The report as cells, as the kernel emits it under `CELLS_MIME`. */
export interface ICellsPayload {
  version: number;
  run_id: string;
  title: string;
  cells: IReportCell[];
}
