/**
 * The runs panel's icon: a report outline as a tree (Material Design's
 * "account_tree" path, Apache-2.0, as JupyterLab's own icons). `jp-icon3`
 * lets every theme colour it.
 */

import { LabIcon } from '@jupyterlab/ui-components';

import { WARP_RUNS_ICON_NAME, WARP_RUNS_SVG } from './iconsvg';

export const warpRunsIcon = new LabIcon({ name: WARP_RUNS_ICON_NAME, svgstr: WARP_RUNS_SVG });
