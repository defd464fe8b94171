/**
 * The live tree (`kernel_magics/static/outline.js`) in jsdom, on a model that
 * behaves like anywidget's: get/set/on/off/send/save_changes.
 */

import widget, { LIVE_EVENT } from '@warp-static/outline.js';

import { OUTLINE } from './fixtures';

type Listener = () => void;

class FakeModel {
  state: { [key: string]: any };
  sent: any[] = [];
  listeners = new Map<string, Set<Listener>>();

  constructor(state: { [key: string]: any }) {
    this.state = { selected: '', editable: true, busy: false, message: '', ...state };
  }
  get(key: string): any {
    return this.state[key];
  }
  set(key: string, value: any): void {
    this.state[key] = value;
    this.listeners.get(`change:${key}`)?.forEach(f => f());
  }
  save_changes(): void {
    return;
  }
  send(content: any): void {
    this.sent.push(content);
  }
  on(event: string, f: Listener): void {
    if (!this.listeners.has(event)) {
      this.listeners.set(event, new Set());
    }
    this.listeners.get(event)!.add(f);
  }
  off(event: string, f: Listener): void {
    this.listeners.get(event)?.delete(f);
  }
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

function mount(state: { [key: string]: any }) {
  const model = new FakeModel({ outline: clone(OUTLINE), ...state });
  const el = document.createElement('div');
  document.body.appendChild(el);
  const dispose = widget.render({ model, el });
  const $ = <T extends HTMLElement = HTMLElement>(selector: string): T => {
    const found = el.querySelector<T>(selector);
    if (found === null) {
      throw new Error(`no ${selector}`);
    }
    return found;
  };
  const button = (label: string): HTMLButtonElement => {
    const found = [...el.querySelectorAll<HTMLButtonElement>('button')].find(
      b => b.textContent === label
    );
    if (!found) {
      throw new Error(`no button ${label}`);
    }
    return found;
  };
  return { model, el, $, button, dispose };
}

function type(input: HTMLInputElement | HTMLTextAreaElement, text: string): void {
  input.value = text;
  input.dispatchEvent(new Event('input'));
}

function press(target: HTMLElement, key: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const event = new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}

afterEach(() => {
  document.body.replaceChildren();
});

describe('the live tree', () => {
  it('shows rows with the shared wording and one badge per node', () => {
    const { el, $ } = mount({});
    const row = $('li[data-position="section-1"] > .warp-node-row');
    expect(row.querySelector('.warp-node-number')?.textContent).toBe('1');
    expect(row.querySelector('.warp-badge')?.textContent).toBe('written');
    expect(row.querySelector('.warp-cites')?.textContent).toBe('3 citations');
    expect($('li[data-position="section-2"] .warp-cites').textContent).toBe('1 citation');
    expect($('.warp-outline-meta').textContent).toBe(
      'drafting 2.1 · step 12 · 2/5 sections written · 4 searches · 1 extend · tokens 1.2k/567'
    );
    expect(el.querySelectorAll('.warp-badge[data-status]')).toHaveLength(6);
  });

  it('selects a row with a click or Enter, and marks it', () => {
    const { model, $ } = mount({});
    $('li[data-position="section-3"] > .warp-node-row').click();
    expect(model.get('selected')).toBe('section-3');
    expect(
      $('li[data-position="section-3"] > .warp-node-row').classList.contains('warp-selected')
    ).toBe(true);
    press($('li[data-position="section-1"] > .warp-node-row'), 'Enter');
    expect(model.get('selected')).toBe('section-1');
  });

  it('uses JupyterLab styled controls', () => {
    const { $, el } = mount({ selected: 'section-1' });
    for (const b of el.querySelectorAll('.warp-editor button')) {
      expect(b.classList.contains('jp-mod-styled')).toBe(true);
      expect(b.classList.contains('jp-Button')).toBe(true);
    }
    expect($('.warp-edit-title').classList.contains('jp-mod-styled')).toBe(true);
    expect($('.warp-edit-plan').classList.contains('jp-mod-styled')).toBe(true);
  });

  it('submits a rename, a re-plan and a subsection with Enter', () => {
    const { model, $ } = mount({ selected: 'section-1' });
    const title = $<HTMLInputElement>('.warp-edit-title');
    type(title, '  Origins ');
    const enter = press(title, 'Enter');
    expect(enter.defaultPrevented).toBe(true);
    const plan = $<HTMLTextAreaElement>('.warp-edit-plan');
    type(plan, 'line one');
    press(plan, 'Enter', { shiftKey: true }); // a new line, not a submit
    press(plan, 'Enter');
    type($<HTMLInputElement>('.warp-edit-sub'), 'Roots');
    press($('.warp-edit-sub'), 'Enter');
    expect(model.sent).toEqual([
      { event: 'edit', op: 'rename', position: 'section-1', title: 'Origins' },
      { event: 'edit', op: 'replan', position: 'section-1', plan: 'line one', rewrite: false },
      { event: 'edit', op: 'add', position: 'section-1', title: 'Roots', plan: '' }
    ]);
  });

  it('keeps keys away from the notebook', () => {
    const { $, el } = mount({ selected: 'section-1' });
    const seen: string[] = [];
    el.parentElement!.addEventListener('keydown', e => seen.push(e.key));
    press($('.warp-edit-title'), 'a');
    press($('.warp-edit-title'), 'Enter');
    expect(seen).toEqual([]);
  });

  it('asks before deleting, and Cancel keeps the section', () => {
    const { model, $, el, button } = mount({ selected: 'section-2' });
    button('Delete').click();
    expect(model.sent).toEqual([]);
    expect($('.warp-confirm-text').textContent).toBe(
      'Delete 2 Method and its 2 subsections? This cannot be undone.'
    );
    $('.warp-confirm-no').click();
    expect(el.querySelector('.warp-confirm')).toBeNull();
    expect(model.sent).toEqual([]);
    button('Delete').click();
    press($('.warp-confirm'), 'Escape');
    expect(el.querySelector('.warp-confirm')).toBeNull();
    button('Delete').click();
    $('.warp-confirm-yes').click();
    expect(model.sent).toEqual([{ event: 'edit', op: 'delete', position: 'section-2' }]);
  });

  it('says why an empty Add section did nothing', () => {
    const { model, $ } = mount({});
    const title = $<HTMLInputElement>('.warp-add-section-title');
    type(title, '   ');
    press(title, 'Enter');
    expect(model.sent).toEqual([]);
    expect($('.warp-outline-message').textContent).toBe(
      'Type a title for the new section, then Add section.'
    );
    type(title, 'Outlook');
    press(title, 'Enter');
    expect(model.sent).toEqual([{ event: 'edit', op: 'add', position: null, title: 'Outlook', plan: '' }]);
    model.set('message', 'added section-4');
    expect($('.warp-outline-message').textContent).toBe('added section-4');
  });

  it('disables every edit control once the run is over', () => {
    const { model, el } = mount({ selected: 'section-1' });
    const controls = (): HTMLInputElement[] => [
      ...el.querySelectorAll<HTMLInputElement>(
        '.warp-editor input, .warp-editor textarea, .warp-editor button, .warp-add-section *'
      )
    ];
    expect(controls().length).toBeGreaterThan(6);
    expect(controls().every(c => !c.disabled)).toBe(true);
    model.set('outline', { ...clone(OUTLINE), status: 'done', state: 'done' });
    expect(controls().length).toBeGreaterThan(6);
    expect(controls().every(c => c.disabled)).toBe(true);
    expect(el.querySelector('.warp-read-only')?.textContent).toBe(
      'The run is over: the outline can no longer be edited.'
    );
    // The kernel turning `editable` off does the same while the status still says running.
    const second = mount({ selected: 'section-1' });
    second.model.set('editable', false);
    expect(
      [...second.el.querySelectorAll<HTMLButtonElement>('.warp-editor button')].every(
        b => b.disabled
      )
    ).toBe(true);
  });

  it('never shows a locked section as empty', () => {
    const outline = clone(OUTLINE);
    outline.nodes[2].status = 'locked';
    const { $ } = mount({ outline, selected: 'section-3' });
    expect($('.warp-detail-note').textContent).toBe('Locked before it was written.');
  });

  it('has no editor when it was never editable', () => {
    const { el } = mount({ editable: false, selected: 'section-1' });
    expect(el.querySelector('.warp-editor')).toBeNull();
    expect(el.querySelector('.warp-add-section')).toBeNull();
  });

  it('announces each new outline to the page for the runs panel', () => {
    const seen: any[] = [];
    const listener = (e: Event): void => {
      seen.push((e as CustomEvent).detail.outline);
    };
    document.addEventListener(LIVE_EVENT, listener);
    const { model } = mount({});
    model.set('outline', { ...clone(OUTLINE), step: 13 });
    document.removeEventListener(LIVE_EVENT, listener);
    expect(seen.map(o => o.step)).toEqual([12, 13]);
  });

  it('stops listening when the view goes', () => {
    const { model, dispose } = mount({});
    dispose();
    expect([...model.listeners.values()].every(set => set.size === 0)).toBe(true);
  });
});
