// The run's outline as an interactive tree (anywidget ESM, no build step).
// Document text (titles, plans, section text) is set with textContent only, never as HTML.
// Edits go to the kernel as {event: "edit", op, position, ...}; the kernel calls Run.edit
// and sends the new outline back.

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function button(label, onClick, cls) {
  const b = h("button", "warp-button" + (cls ? " " + cls : ""), label);
  b.type = "button";
  b.addEventListener("click", (ev) => {
    ev.stopPropagation();
    onClick();
  });
  return b;
}

function findNode(nodes, position) {
  for (const n of nodes || []) {
    if (n.position === position) return n;
    const found = findNode(n.children, position);
    if (found) return found;
  }
  return null;
}

function render({ model, el }) {
  const root = h("div", "warp-outline");
  const head = h("div", "warp-outline-head");
  const body = h("div", "warp-outline-body");
  const tree = h("ul", "warp-tree");
  const detail = h("div", "warp-detail");
  const message = h("div", "warp-outline-message");
  body.append(tree, detail);
  root.append(head, body, message);
  el.appendChild(root);

  const collapsed = new Set(); // node ids, per view
  const drafts = new Map(); // "position:field" -> text typed but not sent

  function draft(input, key) {
    if (drafts.has(key)) input.value = drafts.get(key);
    input.addEventListener("input", () => drafts.set(key, input.value));
    input.addEventListener("click", (ev) => ev.stopPropagation());
    input.addEventListener("keydown", (ev) => ev.stopPropagation()); // keep notebook shortcuts out
  }

  function send(op, position, extra) {
    model.send({ event: "edit", op, position: position || null, ...(extra || {}) });
  }

  function select(position) {
    model.set("selected", position);
    model.save_changes();
  }

  function drawHead(o) {
    head.replaceChildren();
    head.append(h("span", "warp-outline-title", o.title || o.query || "(no outline yet)"));
    const counts = o.counts || {};
    head.append(
      h(
        "span",
        "warp-outline-meta",
        `${o.status || ""} · step ${o.step || 0} · ${counts.searches || 0} searches · ${counts.extends || 0} extends`
      )
    );
    if (model.get("editable") && (o.nodes || []).length) {
      const title = h("input", "warp-add-section-title");
      title.type = "text";
      title.placeholder = "new section title";
      draft(title, ":add-section");
      const add = button("Add section", () => {
        if (!title.value.trim()) return;
        send("add", null, { title: title.value.trim(), plan: "" });
        drafts.delete(":add-section");
      });
      const box = h("span", "warp-add-section");
      box.append(title, add);
      head.append(box);
    }
  }

  function nodeItem(n, cursor, selected) {
    const li = h("li", "warp-node");
    li.dataset.position = n.position;
    li.dataset.status = n.status;
    const row = h("div", "warp-node-row");
    if (n.position === selected) row.classList.add("warp-selected");
    if (n.position === cursor) row.classList.add("warp-cursor");
    const kids = n.children || [];
    const toggle = h("span", "warp-toggle", kids.length ? (collapsed.has(n.id) ? "▸" : "▾") : "·");
    if (kids.length) {
      toggle.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (collapsed.has(n.id)) collapsed.delete(n.id);
        else collapsed.add(n.id);
        draw();
      });
    }
    row.append(
      toggle,
      h("code", "warp-node-position", n.position),
      h("span", "warp-node-title", n.title),
      h("span", `warp-badge warp-status-${n.status}`, n.status),
      h("span", "warp-cites", `${n.citations} cit.`)
    );
    row.addEventListener("click", () => select(n.position));
    li.append(row);
    if (kids.length && !collapsed.has(n.id)) {
      const ul = h("ul", "warp-tree");
      for (const k of kids) ul.append(nodeItem(k, cursor, selected));
      li.append(ul);
    }
    return li;
  }

  function editor(n) {
    const box = h("div", "warp-editor");
    const p = n.position;

    const title = h("input", "warp-edit-title");
    title.type = "text";
    title.value = n.title;
    draft(title, p + ":title");
    const rowTitle = h("div", "warp-edit-row");
    rowTitle.append(
      title,
      button("Rename", () => {
        send("rename", p, { title: title.value });
        drafts.delete(p + ":title");
      })
    );

    const plan = h("textarea", "warp-edit-plan");
    plan.rows = 2;
    plan.value = n.plan || "";
    draft(plan, p + ":plan");
    const rewrite = h("input", "warp-edit-rewrite");
    rewrite.type = "checkbox";
    const rewriteLabel = h("label", "warp-edit-label");
    rewriteLabel.append(rewrite, document.createTextNode(" rewrite"));
    const rowPlan = h("div", "warp-edit-row");
    rowPlan.append(
      plan,
      button("Re-plan", () => {
        send("replan", p, { plan: plan.value, rewrite: rewrite.checked });
        drafts.delete(p + ":plan");
      }),
      rewriteLabel
    );

    const sub = h("input", "warp-edit-sub");
    sub.type = "text";
    sub.placeholder = "new subsection title";
    draft(sub, p + ":sub");
    const locked = n.status === "locked";
    const rowOps = h("div", "warp-edit-row");
    rowOps.append(
      button(locked ? "Unlock" : "Lock", () => send(locked ? "unlock" : "lock", p)),
      button("Delete", () => send("delete", p), "warp-danger"),
      sub,
      button("Add subsection", () => {
        if (!sub.value.trim()) return;
        send("add", p, { title: sub.value.trim(), plan: "" });
        drafts.delete(p + ":sub");
      })
    );
    box.append(rowTitle, rowPlan, rowOps);
    return box;
  }

  function drawDetail(o) {
    detail.replaceChildren();
    const n = findNode(o.nodes, model.get("selected"));
    if (!n) {
      const hint = (o.nodes || []).length
        ? "Click a section to read it" + (model.get("editable") ? " or edit it." : ".")
        : "The outline appears after the first plan.";
      detail.append(h("p", "warp-hint", hint));
      return;
    }
    detail.append(h("div", "warp-detail-head", `${n.position} · ${n.status} · ${n.citations} citations`));
    detail.append(h("div", "warp-detail-title", n.title));
    if (n.plan) detail.append(h("div", "warp-detail-plan", "Plan: " + n.plan));
    detail.append(h("div", "warp-detail-text", n.text || "(not written yet)"));
    if (model.get("editable")) detail.append(editor(n));
  }

  function draw() {
    const o = model.get("outline") || {};
    drawHead(o);
    tree.replaceChildren();
    const selected = model.get("selected");
    const cursor = o.status === "running" && o.state !== "done" ? o.cursor : null;
    for (const n of o.nodes || []) tree.append(nodeItem(n, cursor, selected));
    drawDetail(o);
    const msg = model.get("message") || "";
    message.textContent = msg;
    message.classList.toggle("warp-error", msg.startsWith("error"));
    root.classList.toggle("warp-busy", !!model.get("busy"));
  }

  const events = ["change:outline", "change:selected", "change:editable", "change:message", "change:busy"];
  for (const e of events) model.on(e, draw);
  draw();
  return () => {
    for (const e of events) model.off(e, draw);
  };
}

export default { render };
