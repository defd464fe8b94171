// The run's outline as an interactive tree (anywidget ESM, no build step).
// Document text (titles, plans, section text) is set with textContent only, never as HTML.
// Edits go to the kernel as {event: "edit", op, position, ...}; the kernel calls Run.edit
// and sends the new outline back. Each new outline is also announced to the page with a
// bubbling "jupyter-warp:outline" event, which the JupyterLab runs panel follows.

// The wording every view of a run uses; labextension/src/wording.ts has the same
// functions and a jest test checks both give the same text.
const COUNT_WORDS = { citations: ["citation", "citations"], searches: ["search", "searches"],
  extends: ["extend", "extends"], sections: ["section", "sections"], steps: ["step", "steps"] };
const STATE_WORDS = { search: "searching", init_plan: "planning", write: "drafting", extend_plan: "deepening", done: "done" };
export const LOCKED_UNWRITTEN = "Locked before it was written.";
export const plural = (n, one, many) => `${n} ${n === 1 ? one : many ?? one + "s"}`;
export const count = (n, what) => plural(n, ...COUNT_WORDS[what]);
export const sectionNumber = (position) => position.replace(/^section-/, "");
export const isOver = (status) => ["done", "failed", "stopped"].includes(status);
export const isWritten = (n) => n.status === "written" || n.status === "extended" || (n.status === "locked" && !!n.text);
export const emptyOutline = (status) => (isOver(status) ? "No outline: the run ended before a plan." : "No outline yet.");
export const runMetaTitle = ({ counts: c }) => `${c.tokens_in ?? 0} tokens in, ${c.tokens_out ?? 0} tokens out`;

function tenths(n, unit, suffix) {
  const d = Math.floor(n / (unit / 10));
  return d % 10 ? `${Math.floor(d / 10)}.${d % 10}${suffix}` : `${Math.floor(d / 10)}${suffix}`;
}

export function shortNumber(n) {
  n = Math.max(0, Math.floor(n));
  if (n < 1000) return String(n);
  if (n < 10000) return tenths(n, 1000, "k");
  if (n < 1000000) return `${Math.floor(n / 1000)}k`;
  if (n < 10000000) return tenths(n, 1000000, "M");
  return `${Math.floor(n / 1000000)}M`;
}

export function stateLabel(state, cursor) {
  const word = STATE_WORDS[state] ?? state;
  if (cursor && state === "write") return `${word} ${sectionNumber(cursor)}`;
  if (cursor && state === "search") return `${word} for ${sectionNumber(cursor)}`;
  return word;
}

export function runMeta(run) {
  const c = run.counts;
  const parts = [];
  if (!isOver(run.status) && run.state && run.state !== "done") parts.push(stateLabel(run.state, run.cursor));
  parts.push(run.max_steps ? `step ${run.step}/${run.max_steps}` : `step ${run.step}`);
  parts.push(`${run.written}/${count(run.sections, "sections")} written`);
  if (c.searches !== undefined) parts.push(count(c.searches, "searches"));
  if (c.extends !== undefined) parts.push(count(c.extends, "extends"));
  if (c.tokens_in !== undefined || c.tokens_out !== undefined) {
    parts.push(`tokens ${shortNumber(c.tokens_in ?? 0)}/${shortNumber(c.tokens_out ?? 0)}`);
  }
  return parts.join(" · ");
}

/** The header numbers of an outline payload (`summarize` in labextension/src/outline.ts). */
export function summarize(o) {
  let sections = 0;
  let written = 0;
  const visit = (nodes) => (nodes || []).forEach((n) => {
    sections += 1;
    written += isWritten(n) ? 1 : 0;
    visit(n.children);
  });
  visit(o.nodes);
  return { status: o.status || "", state: o.state || "", step: o.step || 0, max_steps: o.max_steps || undefined,
    cursor: o.cursor || null, counts: o.counts || {}, written, sections };
}

// The tree.
function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// JupyterLab's own button classes: accept (blue), reject (grey), warn (red).
function button(label, onClick, kind, extra) {
  const b = h("button", `warp-button jp-Button jp-mod-styled jp-mod-${kind || "reject"} ${extra || ""}`.trim(), label);
  b.type = "button";
  b.addEventListener("click", (ev) => {
    ev.stopPropagation();
    onClick();
  });
  return b;
}

function input(cls, placeholder) {
  const e = h("input", `${cls} jp-mod-styled`);
  e.type = "text";
  if (placeholder) e.placeholder = placeholder;
  return e;
}

function findNode(nodes, position) {
  for (const n of nodes || []) {
    if (n.position === position) return n;
    const found = findNode(n.children, position);
    if (found) return found;
  }
  return null;
}

const descendants = (n) => (n.children || []).reduce((k, c) => k + 1 + descendants(c), 0);

export const LIVE_EVENT = "jupyter-warp:outline";

function render({ model, el }) {
  const root = h("div", "warp-outline");
  const head = h("div", "warp-outline-head");
  const body = h("div", "warp-outline-body");
  const tree = h("ul", "warp-tree");
  tree.setAttribute("role", "tree");
  const detail = h("div", "warp-detail");
  const message = h("div", "warp-outline-message");
  message.setAttribute("role", "status");
  body.append(tree, detail);
  root.append(head, body, message);
  el.appendChild(root);

  const collapsed = new Set(); // node ids, per view
  const drafts = new Map(); // "position:field" -> text typed but not sent
  let everEditable = !!model.get("editable");
  let confirming = null; // the position whose deletion waits for a yes
  let note = ""; // a front-end note (why nothing happened), until the next draw by the kernel

  const over = () => isOver((model.get("outline") || {}).status);
  const canEdit = () => !!model.get("editable") && !over();

  function draft(field, key) {
    if (drafts.has(key)) field.value = drafts.get(key);
    field.addEventListener("input", () => drafts.set(key, field.value));
    field.addEventListener("click", (ev) => ev.stopPropagation());
  }

  // Enter submits (Shift+Enter keeps a new line in a textarea); no key reaches the notebook.
  function onEnter(field, submit) {
    field.addEventListener("keydown", (ev) => {
      ev.stopPropagation();
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        submit();
      }
    });
  }

  function send(op, position, extra) {
    note = "";
    model.send({ event: "edit", op, position: position || null, ...(extra || {}) });
  }

  function say(text) {
    note = text;
    showMessage();
  }

  // A title field: Enter or its button submits; an empty title says what to type instead.
  function titled(field, why, submit) {
    const go = () => {
      const text = field.value.trim();
      if (text) return submit(text);
      say(why);
      field.focus();
    };
    onEnter(field, go);
    return go;
  }

  function select(position) {
    model.set("selected", position);
    model.save_changes();
  }

  function badge(status, cls) {
    const b = h("span", `warp-badge ${cls || ""}`.trim(), status);
    b.dataset.status = status;
    return b;
  }

  function drawHead(o) {
    head.replaceChildren();
    head.append(h("span", "warp-outline-title", o.title || o.query || "WARP run"));
    if (o.status) head.append(badge(o.status, "warp-run-status"));
    const run = summarize(o);
    const meta = h("span", "warp-outline-meta", runMeta(run));
    meta.title = runMetaTitle(run);
    head.append(meta);
    if (!everEditable || !(o.nodes || []).length) return;
    const title = input("warp-add-section-title", "new section title");
    draft(title, ":add-section");
    const add = titled(title, "Type a title for the new section, then Add section.", (text) => {
      send("add", null, { title: text, plan: "" });
      drafts.delete(":add-section");
      title.value = "";
    });
    const addButton = button("Add section", add, "accept");
    const box = h("span", "warp-add-section");
    box.append(title, addButton);
    for (const c of [title, addButton]) c.disabled = !canEdit();
    head.append(box);
  }

  function nodeItem(n, cursor, selected) {
    const li = h("li", "warp-node");
    li.dataset.position = n.position;
    li.dataset.status = n.status;
    li.setAttribute("role", "treeitem");
    const row = h("div", "warp-node-row");
    row.tabIndex = 0;
    if (n.position === selected) {
      row.classList.add("warp-selected");
      li.setAttribute("aria-selected", "true");
    }
    if (n.position === cursor) row.classList.add("warp-cursor");
    const kids = n.children || [];
    const key = n.id ?? n.position;
    const toggle = h("span", "warp-toggle", kids.length ? (collapsed.has(key) ? "▸" : "▾") : "");
    if (kids.length) {
      li.setAttribute("aria-expanded", String(!collapsed.has(key)));
      toggle.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (collapsed.has(key)) collapsed.delete(key);
        else collapsed.add(key);
        draw();
      });
    }
    const number = h("span", "warp-node-number", sectionNumber(n.position));
    number.title = n.position;
    row.append(toggle, number, h("span", "warp-node-title", n.title), badge(n.status, "warp-node-status"),
      h("span", "warp-cites", count(n.citations || 0, "citations")));
    row.addEventListener("click", () => select(n.position));
    row.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        ev.stopPropagation();
        select(n.position);
      }
    });
    li.append(row);
    if (kids.length && !collapsed.has(key)) {
      const ul = h("ul", "warp-tree");
      ul.setAttribute("role", "group");
      for (const k of kids) ul.append(nodeItem(k, cursor, selected));
      li.append(ul);
    }
    return li;
  }

  function confirmDelete(n) {
    const box = h("div", "warp-confirm");
    box.setAttribute("role", "alertdialog");
    const below = descendants(n);
    const what = `${sectionNumber(n.position)} ${n.title}`.trim();
    const also = below ? ` and its ${plural(below, "subsection")}` : "";
    box.append(h("span", "warp-confirm-text", `Delete ${what}${also}? This cannot be undone.`));
    const close = (yes) => {
      confirming = null;
      if (yes) send("delete", n.position);
      draw();
    };
    const yes = button("Delete", () => close(true), "warn", "warp-confirm-yes");
    const no = button("Cancel", () => close(false), "reject", "warp-confirm-no");
    box.addEventListener("keydown", (ev) => {
      ev.stopPropagation();
      if (ev.key === "Escape") no.click();
    });
    box.append(yes, no);
    queueMicrotask(() => no.focus());
    return box;
  }

  function editor(n) {
    const box = h("div", "warp-editor");
    const p = n.position;
    const enabled = canEdit();

    const title = input("warp-edit-title", "section title");
    title.value = n.title;
    draft(title, p + ":title");
    const rename = titled(title, "A section needs a title: type one, then Rename.", (text) => {
      send("rename", p, { title: text });
      drafts.delete(p + ":title");
    });
    const rowTitle = h("div", "warp-edit-row");
    rowTitle.append(title, button("Rename", rename, "accept"));

    const plan = h("textarea", "warp-edit-plan jp-mod-styled");
    plan.rows = 2;
    plan.placeholder = "plan (Enter re-plans, Shift+Enter starts a new line)";
    plan.value = n.plan || "";
    draft(plan, p + ":plan");
    const rewrite = h("input", "warp-edit-rewrite jp-mod-styled");
    rewrite.type = "checkbox";
    const rewriteLabel = h("label", "warp-edit-label");
    rewriteLabel.append(rewrite, document.createTextNode(" rewrite"));
    rewriteLabel.title = "write the section again from the new plan";
    const replan = () => {
      send("replan", p, { plan: plan.value, rewrite: rewrite.checked });
      drafts.delete(p + ":plan");
    };
    onEnter(plan, replan);
    const rowPlan = h("div", "warp-edit-row");
    rowPlan.append(plan, button("Re-plan", replan, "accept"), rewriteLabel);

    const sub = input("warp-edit-sub", "new subsection title");
    draft(sub, p + ":sub");
    const addSub = titled(sub, "Type a title for the new subsection, then Add subsection.", (text) => {
      send("add", p, { title: text, plan: "" });
      drafts.delete(p + ":sub");
      sub.value = "";
    });
    const locked = n.status === "locked";
    const rowOps = h("div", "warp-edit-row");
    const ask = () => {
      confirming = p;
      draw();
    };
    rowOps.append(button(locked ? "Unlock" : "Lock", () => send(locked ? "unlock" : "lock", p), "reject"),
      button("Delete", ask, "warn", "warp-delete"), sub, button("Add subsection", addSub, "accept"));
    box.append(rowTitle, rowPlan, rowOps);
    if (enabled && confirming === p) box.append(confirmDelete(n));
    for (const c of box.querySelectorAll("input, textarea, button")) {
      if (!c.closest(".warp-confirm")) c.disabled = !enabled;
    }
    return box;
  }

  function drawDetail(o) {
    detail.replaceChildren();
    const n = findNode(o.nodes, model.get("selected"));
    if (!n) {
      let hint = "The outline appears after the first plan.";
      if ((o.nodes || []).length) hint = "Click a section to read it" + (canEdit() ? " or edit it." : ".");
      detail.append(h("p", "warp-hint", hint));
      return;
    }
    const headText = `${sectionNumber(n.position)} · ${n.status} · ${count(n.citations || 0, "citations")}`;
    const dhead = h("div", "warp-detail-head", headText);
    dhead.title = n.position;
    detail.append(dhead, h("div", "warp-detail-title", n.title));
    if (n.plan) detail.append(h("div", "warp-detail-plan", "Plan: " + n.plan));
    if (n.text) detail.append(h("div", "warp-detail-text", n.text));
    else if (n.status === "locked") detail.append(h("div", "warp-detail-note", LOCKED_UNWRITTEN));
    else detail.append(h("div", "warp-detail-note", over() ? "Not written: the run ended first." : "Not written yet."));
    if (everEditable) {
      if (!canEdit()) detail.append(h("p", "warp-hint warp-read-only", "The run is over: the outline can no longer be edited."));
      detail.append(editor(n));
    }
  }

  function showMessage() {
    const msg = note || model.get("message") || "";
    message.textContent = msg;
    message.classList.toggle("warp-error", !note && msg.startsWith("error"));
    message.classList.toggle("warp-note", !!note);
  }

  function draw() {
    if (model.get("editable")) everEditable = true;
    const o = model.get("outline") || {};
    root.classList.toggle("warp-over", over());
    drawHead(o);
    tree.replaceChildren();
    const selected = model.get("selected");
    const cursor = !isOver(o.status) && o.state !== "done" ? o.cursor : null;
    for (const n of o.nodes || []) tree.append(nodeItem(n, cursor, selected));
    if (!(o.nodes || []).length) tree.append(h("li", "warp-empty", emptyOutline(o.status)));
    drawDetail(o);
    showMessage();
    root.classList.toggle("warp-busy", !!model.get("busy"));
  }

  // The view may be drawn before it is in the page: announce once it is (or give up after 5 s).
  let pending = null;
  function announce(tries = 50) {
    const o = model.get("outline");
    if (!o || !o.run_id) return;
    clearTimeout(pending);
    if (el.isConnected) el.dispatchEvent(new CustomEvent(LIVE_EVENT, { bubbles: true, detail: { outline: o } }));
    else if (tries > 0) pending = setTimeout(() => announce(tries - 1), 100);
  }

  const onOutline = () => (draw(), announce());
  const onMessage = () => ((note = ""), draw());
  const handlers = [["change:outline", onOutline], ["change:selected", draw], ["change:editable", draw],
    ["change:message", onMessage], ["change:busy", draw]];
  for (const [e, f] of handlers) model.on(e, f);
  draw();
  announce();
  return () => {
    clearTimeout(pending);
    for (const [e, f] of handlers) model.off(e, f);
  };
}

export default { render };
