/**
 * The MIME renderer for a run's outline (`OUTLINE_MIME`).
 *
 * It is a mimeExtension, so JupyterLab loads it at start-up: saved notebooks,
 * papermill outputs and shared notebooks show the outline with no kernel.
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import { renderOutline } from './outline';
import { OUTLINE_MIME } from './tokens';

const CLASS_NAME = 'jp-WarpOutline';

/** Renders one outline output. */
export class OutlineRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this.addClass(CLASS_NAME);
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this.node.replaceChildren(renderOutline(model.data[this._mimeType]));
    return Promise.resolve();
  }

  private _mimeType: string;
}

/** `safe`: it never runs or injects markup, so untrusted notebooks use it too. */
export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [OUTLINE_MIME],
  createRenderer: options => new OutlineRenderer(options)
};

const extension: IRenderMime.IExtension = {
  id: 'jupyter-warp:outline-renderer',
  rendererFactory,
  // Above text/markdown (the fallback in the same bundle), below live widgets (-10).
  rank: 0,
  dataType: 'json'
};

export default extension;
