/**
 * The run outline: parse the `OUTLINE_MIME` payload and build its DOM tree.
 *
 * Everything here is plain DOM so it renders the same in the notebook, in a
 * saved notebook with no kernel, and in jsdom under jest. Titles, plans and
 * texts are model output and retrieved passages: they enter the DOM through
 * `textContent` only, never as HTML.
 */

import { isObject } from './json';
import { IOutline, IOutlineNode, NODE_STATUSES, RUN_STATUSES } from './tokens';
import {
  count,
  emptyOutline,
  IRunSummary,
  isOver,
  isWritten,
  LOCKED_UNWRITTEN,
  runMeta,
  runMetaTitle,
  sectionNumber
} from './wording';

/** The payload is not an outline this renderer understands. */
export class OutlineError extends Error {}

function optionalString(
  obj: { [key: string]: unknown },
  key: string,
  where: string
): string {
  const value = obj[key];
  if (value === undefined || value === null) {
    return '';
  }
  if (typeof value !== 'string') {
    throw new OutlineError(`${where}: "${key}" is not a string`);
  }
  return value;
}

function citationCount(value: unknown, where: string): number {
  if (value === undefined || value === null) {
    return 0;
  }
  if (Array.isArray(value)) {
    return value.length;
  }
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) {
    return Math.floor(value);
  }
  throw new OutlineError(`${where}: "citations" is not a count`);
}

function parseNode(value: unknown, where: string, depth: number): IOutlineNode {
  if (!isObject(value)) {
    throw new OutlineError(`${where} is not an object`);
  }
  if (depth > 16) {
    throw new OutlineError(`${where} is nested too deep`);
  }
  const position = value.position;
  if (typeof position !== 'string' || position === '') {
    throw new OutlineError(`${where} has no "position"`);
  }
  const at = `node ${position}`;
  const children = value.children ?? [];
  if (!Array.isArray(children)) {
    throw new OutlineError(`${at}: "children" is not a list`);
  }
  return {
    position,
    title: optionalString(value, 'title', at),
    plan: optionalString(value, 'plan', at),
    text: optionalString(value, 'text', at),
    status: optionalString(value, 'status', at) || 'planned',
    citations: citationCount(value.citations, at),
    children: children.map((child, i) =>
      parseNode(child, `${at} child ${i + 1}`, depth + 1)
    )
  };
}

/**
 * Check an outline payload and fill in optional fields.
 *
 * Throws an `OutlineError` whose message says what is wrong, in one line.
 */
export function parseOutline(data: unknown): IOutline {
  if (!isObject(data)) {
    throw new OutlineError('the payload is not a JSON object');
  }
  if (!Array.isArray(data.nodes)) {
    throw new OutlineError('"nodes" is not a list');
  }
  const counts: { [key: string]: number } = {};
  if (isObject(data.counts)) {
    for (const [key, value] of Object.entries(data.counts)) {
      if (typeof value === 'number') {
        counts[key] = value;
      }
    }
  }
  const cursor = data.cursor;
  const maxSteps = data.max_steps;
  return {
    version: typeof data.version === 'number' ? data.version : 1,
    run_id: optionalString(data, 'run_id', 'outline'),
    title: optionalString(data, 'title', 'outline'),
    query: optionalString(data, 'query', 'outline'),
    status: optionalString(data, 'status', 'outline'),
    state: optionalString(data, 'state', 'outline'),
    step: typeof data.step === 'number' ? data.step : 0,
    ...(typeof maxSteps === 'number' && maxSteps > 0 ? { max_steps: maxSteps } : {}),
    cursor: typeof cursor === 'string' ? cursor : null,
    counts,
    nodes: data.nodes.map((node, i) => parseNode(node, `node ${i + 1}`, 1))
  };
}

/** An element with its class and, when given, its text (never HTML). */
export function el(
  doc: Document,
  tag: string,
  className: string,
  text?: string
): HTMLElement {
  const node = doc.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * A status badge; `data-status` picks its colour, an unknown status stays grey.
 * It reads `label`, the status itself unless told otherwise.
 */
export function badge(
  doc: Document,
  status: string,
  className: string,
  known: ReadonlyArray<string> = NODE_STATUSES,
  label: string = status
): HTMLElement {
  const node = el(doc, 'span', className, label);
  node.dataset.status = status;
  if (!known.includes(status)) {
    node.classList.add('jp-WarpStatus-unknown');
  }
  return node;
}

function countNodes(nodes: IOutlineNode[]): { all: number; done: number } {
  let all = 0;
  let done = 0;
  for (const node of nodes) {
    const below = countNodes(node.children);
    all += 1 + below.all;
    done += below.done + (isWritten(node) ? 1 : 0);
  }
  return { all, done };
}

/** The numbers a run's header shows, from a parsed outline. */
export function summarize(outline: IOutline): IRunSummary {
  const { all, done } = countNodes(outline.nodes);
  return {
    status: outline.status,
    state: outline.state,
    step: outline.step,
    max_steps: outline.max_steps,
    cursor: outline.cursor,
    counts: outline.counts,
    written: done,
    sections: all
  };
}

function buildHeader(doc: Document, outline: IOutline): HTMLElement {
  const header = el(doc, 'div', 'jp-WarpOutline-header');
  header.appendChild(
    el(doc, 'span', 'jp-WarpOutline-runTitle', outline.title || outline.query)
  );
  if (outline.status) {
    header.appendChild(
      badge(doc, outline.status, 'jp-WarpOutline-runStatus jp-WarpStatus', RUN_STATUSES)
    );
  }
  const summary = summarize(outline);
  const meta = el(doc, 'span', 'jp-WarpOutline-meta', runMeta(summary));
  meta.title = runMetaTitle(summary);
  header.appendChild(meta);
  return header;
}

function buildNode(
  doc: Document,
  node: IOutlineNode,
  cursor: string | null
): HTMLElement {
  const item = el(doc, 'li', 'jp-WarpOutline-node');
  item.dataset.position = node.position;
  item.dataset.status = node.status;
  if (node.position === cursor) {
    item.dataset.cursor = 'true';
  }
  const details = doc.createElement('details');
  // Parents start open so the tree reads like an outline; texts stay folded.
  details.open = node.children.length > 0;
  const summary = doc.createElement('summary');
  summary.className = 'jp-WarpOutline-summary';
  summary.appendChild(
    el(doc, 'span', 'jp-WarpOutline-number', sectionNumber(node.position))
  );
  summary.appendChild(el(doc, 'span', 'jp-WarpOutline-title', node.title));
  summary.appendChild(badge(doc, node.status, 'jp-WarpOutline-badge jp-WarpStatus'));
  const cites = el(doc, 'span', 'jp-WarpOutline-citations', count(node.citations, 'citations'));
  cites.dataset.count = String(node.citations);
  summary.appendChild(cites);
  details.appendChild(summary);
  if (node.text) {
    details.appendChild(el(doc, 'div', 'jp-WarpOutline-text', node.text));
  } else if (node.plan) {
    details.appendChild(el(doc, 'div', 'jp-WarpOutline-plan', node.plan));
  }
  if (!node.text && node.status === 'locked') {
    details.appendChild(el(doc, 'div', 'jp-WarpOutline-note', LOCKED_UNWRITTEN));
  }
  if (node.children.length > 0) {
    details.appendChild(buildList(doc, node.children, cursor));
  }
  item.appendChild(details);
  return item;
}

function buildList(
  doc: Document,
  nodes: IOutlineNode[],
  cursor: string | null
): HTMLElement {
  const list = el(doc, 'ul', 'jp-WarpOutline-tree');
  for (const node of nodes) {
    list.appendChild(buildNode(doc, node, cursor));
  }
  return list;
}

/**
 * Build the outline's DOM from a raw payload.
 *
 * A malformed payload gives a one-line error element instead of an exception,
 * so one bad output never breaks the rest of the notebook.
 */
export function renderOutline(data: unknown, doc: Document = document): HTMLElement {
  const root = el(doc, 'div', 'jp-WarpOutline-root');
  let outline: IOutline;
  try {
    outline = parseOutline(data);
  } catch (err) {
    const reason = err instanceof OutlineError ? err.message : String(err);
    root.appendChild(
      el(doc, 'div', 'jp-WarpOutline-error', `WARP outline cannot be shown: ${reason}`)
    );
    return root;
  }
  root.dataset.runId = outline.run_id;
  root.appendChild(buildHeader(doc, outline));
  if (outline.nodes.length === 0) {
    root.appendChild(el(doc, 'div', 'jp-WarpOutline-empty', emptyOutline(outline.status)));
  } else {
    // The cursor marks where the run works next: nothing once it is over.
    const cursor = isOver(outline.status) ? null : outline.cursor;
    root.appendChild(buildList(doc, outline.nodes, cursor));
  }
  return root;
}
