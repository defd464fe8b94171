/**
 * The kernel's way in: the `COMM_TARGET` comm on every notebook's kernel.
 *
 * `%%warp --cells` opens the comm (`hello`, answered `hello-ack`) and sends
 * `insert-cells`; only the frontend may change the open document, so the cells
 * are inserted here and the kernel gets `inserted` with the count back.
 */

import type { CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { JSONObject } from '@lumino/coreutils';

import { findRunOutputCell, insertReportCells, parseCellsPayload } from './insert';
import { COMM_TARGET, FORMAT_VERSION } from './tokens';

/** The index of the code cell whose running execution sent message `msgId`, or -1. */
function executingCell(panel: NotebookPanel, msgId: string | undefined): number {
  if (!msgId) {
    return -1;
  }
  return panel.content.widgets.findIndex(
    cell =>
      cell.model.type === 'code' &&
      (cell as CodeCell).outputArea.future?.msg.header.msg_id === msgId
  );
}

/**
 * Insert a payload the kernel sent into `panel`'s notebook.
 *
 * Below the cell whose output carries the same run (the `%%warp` cell), else below
 * the cell whose execution sent the message (`parentMsgId`: the run's output may
 * not be displayed yet), else below the active cell. Returns the `inserted` answer.
 */
export function insertFromKernel(
  panel: NotebookPanel,
  data: unknown,
  parentMsgId?: string
): JSONObject {
  const payload = parseCellsPayload(data);
  const model = panel.content.model;
  if (model === null) {
    throw new Error('the notebook has no model');
  }
  const notebook = model.sharedModel;
  let anchor = findRunOutputCell(notebook, payload.run_id);
  if (anchor < 0) {
    anchor = executingCell(panel, parentMsgId);
  }
  if (anchor < 0) {
    anchor = panel.content.activeCellIndex;
  }
  const count = insertReportCells(notebook, payload, anchor);
  return { action: 'inserted', run_id: payload.run_id, count };
}

function answer(
  panel: NotebookPanel,
  data: JSONObject,
  parentMsgId: string | undefined
): JSONObject | null {
  switch (data.action) {
    case 'hello':
      return { action: 'hello-ack', version: FORMAT_VERSION };
    case 'insert-cells':
      try {
        return insertFromKernel(panel, data.payload, parentMsgId);
      } catch (err) {
        // The kernel waits for `inserted`: answer it, with the reason, instead of going quiet.
        const runId = (data.payload as JSONObject | undefined)?.run_id;
        return {
          action: 'inserted',
          run_id: typeof runId === 'string' ? runId : null,
          count: 0,
          error: err instanceof Error ? err.message : String(err)
        };
      }
    default:
      return null;
  }
}

function onCommOpen(
  panel: NotebookPanel,
  comm: Kernel.IComm,
  msg: KernelMessage.ICommOpenMsg
): void {
  const reply = (message: KernelMessage.ICommOpenMsg | KernelMessage.ICommMsgMsg): void => {
    const parent = message.parent_header as Partial<KernelMessage.IHeader>;
    const response = answer(panel, message.content.data, parent.msg_id);
    if (response !== null && !comm.isDisposed) {
      comm.send(response);
    }
  };
  comm.onMsg = reply;
  reply(msg);
}

const connected = new WeakSet<NotebookPanel>();

/**
 * Register the comm target on `panel`'s kernel, now and for every later kernel.
 *
 * A kernel change brings a new connection without our target; a restart keeps the
 * connection, and registering again there is harmless, so both re-register.
 */
export function connectComm(panel: NotebookPanel): void {
  if (connected.has(panel)) {
    return;
  }
  connected.add(panel);
  const context = panel.sessionContext;
  const register = (kernel: Kernel.IKernelConnection | null | undefined): void => {
    kernel?.registerCommTarget(COMM_TARGET, (comm, msg) => onCommOpen(panel, comm, msg));
  };
  register(context.session?.kernel);
  context.kernelChanged.connect((_, change) => register(change.newValue));
  context.statusChanged.connect((_, status) => {
    if (status === 'restarting' || status === 'autorestarting') {
      register(context.session?.kernel);
    }
  });
}
