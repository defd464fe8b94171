import { OutlineRenderer, rendererFactory } from '../mime';
import { parseOutline, renderOutline } from '../outline';
import { NODE_STATUSES, OUTLINE_MIME } from '../tokens';
import { OUTLINE } from './fixtures';

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

function node(root: HTMLElement, position: string): HTMLElement {
  const found = root.querySelector<HTMLElement>(`[data-position="${position}"]`);
  if (found === null) {
    throw new Error(`no node ${position}`);
  }
  return found;
}

function summaryOf(item: HTMLElement): HTMLElement {
  return item.querySelector(':scope > details > summary') as HTMLElement;
}

describe('renderOutline', () => {
  it('builds one node per outline node, nested, with status and citations', () => {
    const root = renderOutline(OUTLINE);
    const positions = [...root.querySelectorAll<HTMLElement>('.jp-WarpOutline-node')].map(
      item => item.dataset.position
    );
    expect(positions).toEqual([
      'section-1',
      'section-2',
      'section-2.1',
      'section-2.2',
      'section-3'
    ]);
    const drafting = node(root, 'section-2.1');
    expect(drafting.parentElement?.closest('[data-position]')).toBe(node(root, 'section-2'));
    expect(drafting.dataset.status).toBe('drafting');
    expect(drafting.dataset.cursor).toBe('true');
    const summary = summaryOf(node(root, 'section-1'));
    expect(summary.querySelector('.jp-WarpOutline-number')?.textContent).toBe('1');
    expect(summary.querySelector('.jp-WarpOutline-title')?.textContent).toBe('Background');
    expect(summary.querySelector('.jp-WarpOutline-badge')?.textContent).toBe('written');
    expect(summary.querySelector('.jp-WarpOutline-citations')?.textContent).toBe('3 citations');
    expect(
      summaryOf(node(root, 'section-2')).querySelector('.jp-WarpOutline-citations')?.textContent
    ).toBe('1 citation');
  });

  it('shows a badge for every status the format defines', () => {
    const data = clone(OUTLINE);
    data.nodes = NODE_STATUSES.map((status, i) => ({
      position: `section-${i + 1}`,
      title: status,
      plan: '',
      text: '',
      status,
      citations: 0,
      children: []
    }));
    const badges = [...renderOutline(data).querySelectorAll('.jp-WarpOutline-badge')];
    expect(badges.map(badge => badge.textContent)).toEqual([...NODE_STATUSES]);
    expect(badges.every(badge => !badge.classList.contains('jp-WarpStatus-unknown'))).toBe(
      true
    );
  });

  it('puts the text in a folded body, the plan when there is no text yet', () => {
    const root = renderOutline(OUTLINE);
    const written = node(root, 'section-1');
    expect(written.querySelector('details')?.open).toBe(false);
    expect(written.querySelector('.jp-WarpOutline-text')?.textContent).toBe(
      'WARP alternates drafting and deepening [1].'
    );
    const planned = node(root, 'section-2.2');
    expect(planned.querySelector('.jp-WarpOutline-plan')?.textContent).toBe(
      'Reasoning-driven deepening.'
    );
    expect(node(root, 'section-2').querySelector('details')?.open).toBe(true);
  });

  it('has a header with the run title, status, step and counts', () => {
    const header = renderOutline(OUTLINE).querySelector('.jp-WarpOutline-header') as HTMLElement;
    expect(header.querySelector('.jp-WarpOutline-runTitle')?.textContent).toBe(OUTLINE.title);
    expect(header.querySelector('.jp-WarpOutline-runStatus')?.textContent).toBe('running');
    const meta = header.querySelector('.jp-WarpOutline-meta')?.textContent ?? '';
    expect(meta).toContain('step 12');
    expect(meta).toContain('2/5 sections written');
    expect(meta).toContain('4 searches');
    expect(meta).toContain('1 extend ');
    expect(meta).toContain('tokens 1.2k/567');
    expect(header.querySelector('.jp-WarpOutline-meta')?.getAttribute('title')).toBe(
      '1234 tokens in, 567 tokens out'
    );
  });

  it('marks the cursor only while the run goes on', () => {
    const running = renderOutline(OUTLINE);
    expect(running.querySelectorAll('[data-cursor="true"]')).toHaveLength(1);
    const done = renderOutline({ ...OUTLINE, status: 'done', state: 'done' });
    expect(done.querySelectorAll('[data-cursor]')).toHaveLength(0);
    expect(done.querySelector('.jp-WarpOutline-meta')?.textContent).toBe(
      'step 12 · 2/5 sections written · 4 searches · 1 extend · tokens 1.2k/567'
    );
  });

  it('never shows a locked section as an empty heading', () => {
    const data = clone(OUTLINE);
    data.nodes[2].status = 'locked';
    const locked = node(renderOutline(data), 'section-3');
    expect(locked.querySelector('.jp-WarpOutline-note')?.textContent).toBe(
      'Locked before it was written.'
    );
    data.nodes[2].text = 'Kept as written.';
    const written = node(renderOutline(data), 'section-3');
    expect(written.querySelector('.jp-WarpOutline-note')).toBeNull();
    expect(written.querySelector('.jp-WarpOutline-text')?.textContent).toBe('Kept as written.');
  });

  it('keeps markup in titles and texts as text', () => {
    const data = clone(OUTLINE);
    data.title = '<img src=x onerror="window.__pwned=1">';
    data.nodes[0].title = '<script>window.__pwned = 1</script>';
    data.nodes[0].text = '<b>bold</b> & <i>x</i>';
    const root = renderOutline(data);
    expect(root.querySelector('script')).toBeNull();
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('b')).toBeNull();
    const title = summaryOf(node(root, 'section-1')).querySelector('.jp-WarpOutline-title');
    expect(title?.textContent).toBe('<script>window.__pwned = 1</script>');
    expect(node(root, 'section-1').querySelector('.jp-WarpOutline-text')?.textContent).toBe(
      '<b>bold</b> & <i>x</i>'
    );
    expect(root.querySelector('.jp-WarpOutline-runTitle')?.textContent).toBe(data.title);
  });

  it('accepts a citation list and an unknown status without failing', () => {
    const data = clone(OUTLINE) as any;
    data.nodes[0].citations = [1, 4, 7];
    data.nodes[0].status = 'mystery';
    const summary = summaryOf(node(renderOutline(data), 'section-1'));
    expect(summary.querySelector('.jp-WarpOutline-citations')?.textContent).toBe('3 citations');
    expect(
      summary.querySelector('.jp-WarpOutline-badge')?.classList.contains(
        'jp-WarpStatus-unknown'
      )
    ).toBe(true);
  });

  it.each([
    ['a string', 'not an outline', 'the payload is not a JSON object'],
    ['null', null, 'the payload is not a JSON object'],
    ['no nodes', { title: 't' }, '"nodes" is not a list'],
    ['a node without position', { nodes: [{ title: 't' }] }, 'node 1 has no "position"'],
    [
      'children that are not a list',
      { nodes: [{ position: 'section-1', children: 'x' }] },
      'node section-1: "children" is not a list'
    ],
    [
      'a title that is not text',
      { nodes: [{ position: 'section-1', title: 5 }] },
      'node section-1: "title" is not a string'
    ]
  ])('shows one error line for %s', (_, data, reason) => {
    const root = renderOutline(data);
    const errors = root.querySelectorAll('.jp-WarpOutline-error');
    expect(errors).toHaveLength(1);
    expect(errors[0].textContent).toBe(`WARP outline cannot be shown: ${reason}`);
    expect(root.querySelector('.jp-WarpOutline-node')).toBeNull();
  });

  it('says so when the outline is still empty, and why when the run is over', () => {
    const root = renderOutline({ ...OUTLINE, nodes: [] });
    expect(root.querySelector('.jp-WarpOutline-empty')?.textContent).toBe('No outline yet.');
    const failed = renderOutline({ ...OUTLINE, status: 'failed', nodes: [] });
    expect(failed.querySelector('.jp-WarpOutline-empty')?.textContent).toBe(
      'No outline: the run ended before a plan.'
    );
  });

  it('fills in optional fields', () => {
    const outline = parseOutline({ nodes: [{ position: 'section-1' }] });
    expect(outline.nodes[0]).toEqual({
      position: 'section-1',
      title: '',
      plan: '',
      text: '',
      status: 'planned',
      citations: 0,
      children: []
    });
    expect(outline.cursor).toBeNull();
  });
});

describe('OutlineRenderer', () => {
  it('is a safe JSON renderer for the outline MIME type', () => {
    expect(rendererFactory.safe).toBe(true);
    expect(rendererFactory.mimeTypes).toEqual([OUTLINE_MIME]);
  });

  it('renders the model data of its MIME type', async () => {
    const renderer = rendererFactory.createRenderer({
      mimeType: OUTLINE_MIME,
      sanitizer: { sanitize: (s: string) => s },
      resolver: null,
      linkHandler: null,
      latexTypesetter: null
    } as any) as OutlineRenderer;
    await renderer.renderModel({ data: { [OUTLINE_MIME]: OUTLINE } } as any);
    expect(renderer.node.classList.contains('jp-WarpOutline')).toBe(true);
    expect(renderer.node.querySelectorAll('.jp-WarpOutline-node')).toHaveLength(5);
    await renderer.renderModel({ data: { [OUTLINE_MIME]: 'broken' } } as any);
    expect(renderer.node.querySelectorAll('.jp-WarpOutline-node')).toHaveLength(0);
    expect(renderer.node.querySelector('.jp-WarpOutline-error')).not.toBeNull();
  });
});
