/** The runs panel icon's SVG, apart from `LabIcon` so jest can read it. */

export const WARP_RUNS_ICON_NAME = 'jupyter-warp:runs';

export const WARP_RUNS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M22 11V3h-7v3H9V3H2v8h7V8h2v10h4v3h7v-8h-7v3h-2V8h2v3z"/>
</svg>`;
