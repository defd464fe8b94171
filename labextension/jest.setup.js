/**
 * jsdom lacks DragEvent, which @lumino/dragdrop subclasses when imported.
 *
 * @jupyter/ydoc fills a new cell before adding it to the document, which recent
 * yjs reports as "Invalid access" on every inserted cell (the data is right; the
 * same happens in JupyterLab). Those lines would bury real test output.
 */
if (typeof globalThis.DragEvent === 'undefined') {
  globalThis.DragEvent = class DragEvent extends MouseEvent {};
}

const warn = console.warn;
console.warn = (...args) => {
  if (typeof args[0] === 'string' && args[0].startsWith('Invalid access: Add Yjs type')) {
    return;
  }
  warn(...args);
};
