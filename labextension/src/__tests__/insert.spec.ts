import { YNotebook } from '@jupyter/ydoc';

import {
  CellsPayloadError,
  cellRunId,
  countRunCells,
  findCellsOutput,
  findRunOutputCell,
  insertReportCells,
  parseCellsPayload
} from '../insert';
import { CELL_METADATA_KEY, CELLS_MIME, OUTLINE_MIME } from '../tokens';
import { cellsPayload, OUTLINE } from './fixtures';

/** A notebook of `n` code cells; cell `withReport` shows the report output. */
function notebook(n: number, withReport = -1, runId = 'run-1'): YNotebook {
  const nb = YNotebook.create();
  nb.insertCells(
    0,
    Array.from({ length: n }, (_, i) => ({
      cell_type: 'code',
      source: `cell ${i}`,
      metadata: {},
      outputs:
        i === withReport
          ? [
              {
                output_type: 'display_data',
                metadata: {},
                data: {
                  [OUTLINE_MIME]: { ...OUTLINE, run_id: runId },
                  'text/markdown': '# outline'
                }
              },
              {
                output_type: 'display_data',
                metadata: {},
                data: { [CELLS_MIME]: cellsPayload(runId), 'text/markdown': '# report' }
              }
            ]
          : []
    }))
  );
  return nb;
}

function sources(nb: YNotebook): string[] {
  return nb.cells.map(cell => cell.getSource());
}

describe('insertReportCells', () => {
  it('inserts N sections plus References below the anchor, in order, with metadata', () => {
    const nb = notebook(3);
    const payload = parseCellsPayload(cellsPayload('run-1', 3));
    expect(insertReportCells(nb, payload, 0)).toBe(4);
    expect(nb.cells).toHaveLength(7);
    expect(sources(nb)).toEqual([
      'cell 0',
      '## 1 Section 1\nText of section 1 [1].',
      '## 2 Section 2\nText of section 2 [2].',
      '## 3 Section 3\nText of section 3 [3].',
      '## References\n[1] a.txt\n',
      'cell 1',
      'cell 2'
    ]);
    const inserted = nb.cells.slice(1, 5);
    expect(inserted.map(cell => cell.cell_type)).toEqual(Array(4).fill('markdown'));
    expect(inserted.map(cell => cell.getMetadata(CELL_METADATA_KEY))).toEqual([
      { run_id: 'run-1', position: 'section-1', citations: [1] },
      { run_id: 'run-1', position: 'section-2', citations: [2] },
      { run_id: 'run-1', position: 'section-3', citations: [3] },
      { run_id: 'run-1', position: 'references' }
    ]);
  });

  it('is idempotent per run id', () => {
    const nb = notebook(2);
    const payload = parseCellsPayload(cellsPayload('run-1', 2));
    expect(insertReportCells(nb, payload, 0)).toBe(3);
    expect(insertReportCells(nb, payload, 0)).toBe(0);
    expect(insertReportCells(nb, payload, 4)).toBe(0);
    expect(nb.cells).toHaveLength(5);
    expect(countRunCells(nb, 'run-1')).toBe(3);
    const other = parseCellsPayload(cellsPayload('run-2', 1));
    expect(insertReportCells(nb, other, 4)).toBe(2);
    expect(countRunCells(nb, 'run-2')).toBe(2);
  });

  it('appends when the anchor is the last cell, or past the end', () => {
    const nb = notebook(2);
    expect(insertReportCells(nb, parseCellsPayload(cellsPayload('a', 1)), 1)).toBe(2);
    expect(sources(nb).slice(0, 2)).toEqual(['cell 0', 'cell 1']);
    expect(nb.cells.slice(2).map(cellRunId)).toEqual(['a', 'a']);
    expect(insertReportCells(nb, parseCellsPayload(cellsPayload('b', 1)), 99)).toBe(2);
    expect(nb.cells.slice(4).map(cellRunId)).toEqual(['b', 'b']);
  });

  it('inserts at the top of an empty notebook', () => {
    const nb = YNotebook.create();
    expect(insertReportCells(nb, parseCellsPayload(cellsPayload('a', 2)), -1)).toBe(3);
    expect(nb.cells.map(cellRunId)).toEqual(['a', 'a', 'a']);
  });

  it('marks every cell with the payload run id, even when its metadata lacks it', () => {
    const nb = YNotebook.create();
    const payload = parseCellsPayload({
      run_id: 'r',
      cells: [{ cell_type: 'markdown', source: 'x', metadata: { tags: ['t'] } }]
    });
    insertReportCells(nb, payload, -1);
    expect(nb.cells[0].getMetadata()).toEqual({ tags: ['t'], [CELL_METADATA_KEY]: { run_id: 'r' } });
  });
});

describe('parseCellsPayload', () => {
  it.each([
    ['a list', [], 'the payload is not a JSON object'],
    ['no run id', { cells: [] }, 'the payload has no "run_id"'],
    ['no cells', { run_id: 'r' }, '"cells" is not a list'],
    ['a bad cell type', { run_id: 'r', cells: [{ cell_type: 'html', source: '' }] }, 'cell 1 has an unknown cell_type'],
    ['a cell without source', { run_id: 'r', cells: [{ cell_type: 'markdown' }] }, 'cell 1 has no text "source"'],
    [
      'a code cell',
      { run_id: 'r', cells: [{ source: '# ok' }, { cell_type: 'code', source: 'import os' }] },
      'cell 2 is a code cell: a report inserts only Markdown and raw cells'
    ]
  ])('rejects %s', (_, data, reason) => {
    expect(() => parseCellsPayload(data)).toThrow(new CellsPayloadError(reason));
  });

  it('inserts Markdown and raw cells, and nothing of a payload with a code cell', () => {
    const nb = notebook(1);
    const ok = parseCellsPayload({
      run_id: 'r',
      cells: [{ source: '# md' }, { cell_type: 'raw', source: 'raw' }]
    });
    expect(insertReportCells(nb, ok, 0)).toBe(2);
    expect(nb.cells.map(cell => cell.cell_type)).toEqual(['code', 'markdown', 'raw']);
    const bad = { run_id: 'r2', cells: [{ source: '# md' }, { cell_type: 'code', source: 'x' }] };
    expect(() => insertReportCells(nb, parseCellsPayload(bad), 0)).toThrow(CellsPayloadError);
    expect(nb.cells).toHaveLength(3);
  });
});

describe('finding the report', () => {
  it('finds the report output in the active cell or the nearest above', () => {
    const nb = notebook(4, 1);
    expect(findCellsOutput(nb, 1)?.index).toBe(1);
    expect(findCellsOutput(nb, 3)?.index).toBe(1);
    expect(findCellsOutput(nb, 3)?.payload.run_id).toBe('run-1');
    expect(findCellsOutput(nb, 0)).toBeNull();
  });

  it('finds the cell that produced a run', () => {
    const nb = notebook(4, 2, 'run-9');
    expect(findRunOutputCell(nb, 'run-9')).toBe(2);
    expect(findRunOutputCell(nb, 'run-0')).toBe(-1);
  });

  it('inserts below the report cell from a cell further down', () => {
    const nb = notebook(4, 1);
    const found = findCellsOutput(nb, 3)!;
    expect(insertReportCells(nb, found.payload, found.index)).toBe(4);
    expect(nb.cells.map(cellRunId)).toEqual([
      undefined,
      undefined,
      'run-1',
      'run-1',
      'run-1',
      'run-1',
      undefined,
      undefined
    ]);
  });
});
