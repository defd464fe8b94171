import { YNotebook } from '@jupyter/ydoc';
import { Signal } from '@lumino/signaling';

import { connectComm } from '../comm';
import { cellRunId } from '../insert';
import { CELLS_MIME, COMM_TARGET } from '../tokens';
import { cellsPayload } from './fixtures';

type Handler = (comm: any, msg: any) => void;

/** A kernel connection that records comm target registrations. */
class FakeKernel {
  targets = new Map<string, Handler>();
  registerCommTarget(name: string, handler: Handler): void {
    this.targets.set(name, handler);
  }
}

/** A comm that records what the frontend sends. */
class FakeComm {
  sent: any[] = [];
  isDisposed = false;
  onMsg: (msg: any) => void = () => undefined;
  send(data: any): void {
    this.sent.push(data);
  }
}

function message(data: any, parentMsgId = 'parent') {
  return { content: { data }, parent_header: { msg_id: parentMsgId } };
}

/** Just what comm.ts reads of a NotebookPanel, around a real shared notebook. */
function fakePanel(kernel: FakeKernel, notebook: YNotebook, activeCellIndex: number) {
  return {
    content: { model: { sharedModel: notebook }, activeCellIndex, widgets: [] },
    sessionContext: {
      session: { kernel },
      kernelChanged: new Signal<any, any>({}),
      statusChanged: new Signal<any, string>({})
    }
  };
}

function codeCells(n: number, reportAt = -1): YNotebook {
  const nb = YNotebook.create();
  nb.insertCells(
    0,
    Array.from({ length: n }, (_, i) => ({
      cell_type: 'code',
      source: `cell ${i}`,
      outputs:
        i === reportAt
          ? [{ output_type: 'display_data', metadata: {}, data: { [CELLS_MIME]: cellsPayload('run-1', 2) } }]
          : []
    }))
  );
  return nb;
}

function open(kernel: FakeKernel, data: any): FakeComm {
  const comm = new FakeComm();
  kernel.targets.get(COMM_TARGET)!(comm, message(data));
  return comm;
}

describe('the jupyter-warp comm', () => {
  it('answers hello with hello-ack and the format version', () => {
    const kernel = new FakeKernel();
    connectComm(fakePanel(kernel, codeCells(1), 0) as any);
    const comm = open(kernel, { action: 'hello', version: 1 });
    expect(comm.sent).toEqual([{ action: 'hello-ack', version: 1 }]);
  });

  it('inserts below the cell showing the run, then answers inserted with the count', () => {
    const kernel = new FakeKernel();
    const nb = codeCells(4, 1);
    connectComm(fakePanel(kernel, nb, 3) as any);
    const comm = open(kernel, { action: 'hello' });
    const payload = cellsPayload('run-1', 2);
    comm.onMsg(message({ action: 'insert-cells', payload }));
    comm.onMsg(message({ action: 'insert-cells', payload }));
    expect(comm.sent.slice(1)).toEqual([
      { action: 'inserted', run_id: 'run-1', count: 3 },
      { action: 'inserted', run_id: 'run-1', count: 0 }
    ]);
    expect(nb.cells.map(cellRunId)).toEqual([
      undefined,
      undefined,
      'run-1',
      'run-1',
      'run-1',
      undefined,
      undefined
    ]);
  });

  it('inserts below the active cell when no cell shows the run', () => {
    const kernel = new FakeKernel();
    const nb = codeCells(3);
    connectComm(fakePanel(kernel, nb, 0) as any);
    const comm = open(kernel, { action: 'insert-cells', payload: cellsPayload('run-2', 1) });
    expect(comm.sent).toEqual([{ action: 'inserted', run_id: 'run-2', count: 2 }]);
    expect(nb.cells.map(cellRunId)).toEqual([undefined, 'run-2', 'run-2', undefined, undefined]);
  });

  it('answers a malformed payload with count 0 and the reason', () => {
    const kernel = new FakeKernel();
    connectComm(fakePanel(kernel, codeCells(1), 0) as any);
    const comm = open(kernel, { action: 'insert-cells', payload: { run_id: 'r', cells: 'x' } });
    expect(comm.sent).toEqual([
      { action: 'inserted', run_id: 'r', count: 0, error: '"cells" is not a list' }
    ]);
  });

  it('registers the target again on a new kernel', () => {
    const first = new FakeKernel();
    const panel = fakePanel(first, codeCells(1), 0);
    connectComm(panel as any);
    const second = new FakeKernel();
    panel.sessionContext.session.kernel = second as any;
    panel.sessionContext.kernelChanged.emit({ name: 'kernel', oldValue: first, newValue: second });
    expect(second.targets.has(COMM_TARGET)).toBe(true);
    const comm = open(second, { action: 'hello' });
    expect(comm.sent).toEqual([{ action: 'hello-ack', version: 1 }]);
  });
});
