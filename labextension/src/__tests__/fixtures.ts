/** Payloads shaped like jupyter_warp.mime documents them. */

import { CELL_METADATA_KEY } from '../tokens';

export const OUTLINE = {
  version: 1,
  run_id: '20261125-0205-ab12',
  title: 'Local models for report writing',
  query: 'How do local models write long reports?',
  status: 'running',
  state: 'write',
  step: 12,
  cursor: 'section-2.1',
  counts: { searches: 4, extends: 1, tokens_in: 1234, tokens_out: 567 },
  nodes: [
    {
      position: 'section-1',
      title: 'Background',
      plan: 'What WARP is.',
      text: 'WARP alternates drafting and deepening [1].',
      status: 'written',
      citations: 3,
      children: []
    },
    {
      position: 'section-2',
      title: 'Method',
      plan: 'How it runs.',
      text: '',
      status: 'extended',
      citations: 1,
      children: [
        {
          position: 'section-2.1',
          title: 'Drafting',
          plan: 'Evidence-based drafting.',
          text: '',
          status: 'drafting',
          citations: 0,
          children: []
        },
        {
          position: 'section-2.2',
          title: 'Deepening',
          plan: 'Reasoning-driven deepening.',
          text: '',
          status: 'planned',
          citations: 0,
          children: []
        }
      ]
    },
    {
      position: 'section-3',
      title: 'Failure modes',
      plan: '',
      text: '',
      status: 'failed',
      citations: 0,
      children: []
    }
  ]
};

/** A report payload of `sections` sections plus References. */
export function cellsPayload(runId = 'run-1', sections = 3) {
  const cells = [];
  for (let i = 1; i <= sections; i++) {
    cells.push({
      cell_type: 'markdown',
      source: `## ${i} Section ${i}\nText of section ${i} [${i}].`,
      metadata: {
        [CELL_METADATA_KEY]: { run_id: runId, position: `section-${i}`, citations: [i] }
      }
    });
  }
  cells.push({
    cell_type: 'markdown',
    source: ['## References\n', '[1] a.txt\n'],
    metadata: { [CELL_METADATA_KEY]: { run_id: runId, position: 'references' } }
  });
  return { version: 1, run_id: runId, title: 'A report', cells };
}
