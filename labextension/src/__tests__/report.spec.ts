import { YNotebook } from '@jupyter/ydoc';
import { Widget } from '@lumino/widgets';

import { countRunCells, parseCellsPayload } from '../insert';
import { describeReport, ReportNote, reportRendererFactory } from '../report';
import { CELLS_MIME } from '../tokens';
import { cellsPayload } from './fixtures';

/** A notebook whose cell 1 shows the report of run-1 (4 sections + References). */
function notebook(): YNotebook {
  const nb = YNotebook.create();
  nb.insertCells(0, [
    { cell_type: 'code', source: 'x = 1', metadata: {}, outputs: [] },
    { cell_type: 'code', source: '%%warp --cells\nq', metadata: {}, outputs: [] },
    { cell_type: 'markdown', source: 'End.', metadata: {} }
  ]);
  return nb;
}

function note(nb: YNotebook | null, payload: unknown = cellsPayload('run-1', 4)) {
  const factory = reportRendererFactory(() => (nb ? { notebook: nb, cellIndex: 1 } : null));
  const renderer = factory.createRenderer({ mimeType: CELLS_MIME } as any) as ReportNote;
  Widget.attach(renderer, document.body);
  void renderer.renderModel({ data: { [CELLS_MIME]: payload } } as any);
  const text = (): string => renderer.node.textContent ?? '';
  const action = (): HTMLButtonElement =>
    renderer.node.querySelector('.jp-WarpReport-insert') as HTMLButtonElement;
  return { renderer, text, action };
}

afterEach(() => {
  document.body.replaceChildren();
});

describe('describeReport', () => {
  it('counts the sections and names References', () => {
    expect(describeReport(parseCellsPayload(cellsPayload('r', 4)))).toBe(
      'Report: 4 sections + References'
    );
    const one = cellsPayload('r', 1);
    one.cells.pop();
    expect(describeReport(parseCellsPayload(one))).toBe('Report: 1 section');
  });
});

describe('ReportNote', () => {
  it('is a safe renderer of the report MIME type, above Markdown', () => {
    const factory = reportRendererFactory(() => null);
    expect(factory.safe).toBe(true);
    expect(factory.mimeTypes).toEqual([CELLS_MIME]);
    expect(factory.defaultRank).toBeLessThan(60);
  });

  it('shows a note, not the report, and inserts it once', () => {
    const nb = notebook();
    const { renderer, text, action } = note(nb);
    expect(text()).toBe('Report: 4 sections + References, not in this notebook · Insert below');
    expect(renderer.node.textContent).not.toContain('Text of section 1');
    action().click();
    expect(countRunCells(nb, 'run-1')).toBe(5);
    expect(nb.cells.map(c => c.getSource()).slice(0, 3)).toEqual([
      'x = 1',
      '%%warp --cells\nq',
      '## 1 Section 1\nText of section 1 [1].'
    ]);
    expect(text()).toBe('Report: 4 sections + References, inserted below · Insert again');
    action().click();
    expect(nb.cells).toHaveLength(8);
    expect(text()).toBe(
      'Report: 4 sections + References, inserted below · Insert again' +
        ' (already in this notebook: delete its cells to insert it again)'
    );
  });

  it('follows the notebook: cells inserted by the kernel, or deleted by the user', () => {
    const nb = notebook();
    const { text, renderer } = note(nb);
    expect(renderer.node.dataset.inserted).toBe('false');
    nb.insertCells(2, parseCellsPayload(cellsPayload('run-1', 4)).cells as any);
    expect(text()).toBe('Report: 4 sections + References, inserted below · Insert again');
    nb.deleteCellRange(2, 7);
    expect(text()).toBe('Report: 4 sections + References, not in this notebook · Insert below');
    // Once disposed it no longer listens.
    renderer.dispose();
    nb.insertCells(2, parseCellsPayload(cellsPayload('run-1', 4)).cells as any);
    expect(text()).toBe('Report: 4 sections + References, not in this notebook · Insert below');
  });

  it('offers no action outside a notebook and one error line for a bad payload', () => {
    expect(note(null).text()).toBe('Report: 4 sections + References');
    expect(note(null).action()).toBeNull();
    expect(note(notebook(), { cells: [] }).text()).toBe(
      'WARP report cannot be shown: the payload has no "run_id"'
    );
  });
});
