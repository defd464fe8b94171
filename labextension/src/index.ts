/**
 * The jupyter-warp frontend plugins: the insert-report-cells command, the comm
 * target on every notebook kernel, the report note (the renderer of report
 * outputs, which needs the open notebooks), and the runs side panel.
 *
 * The outline renderer is a separate mimeExtension (`mime.ts`) so it also works
 * where this plugin's notebook services are absent.
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { JSONObject } from '@lumino/coreutils';

import { connectComm } from './comm';
import { findCellsOutput, insertReportCells } from './insert';
import { RunsPanel } from './panel';
import { IOutputPlace, reportRendererFactory } from './report';
import { CommandIDs, INSERT_COMMAND_LABEL } from './tokens';

const PALETTE_CATEGORY = 'WARP';

/**
 * Insert the report shown by the active cell, or by the nearest cell above with
 * one, below that cell. Returns what happened, for callers and tests.
 */
function insertFromActiveCell(tracker: INotebookTracker): JSONObject {
  const panel = tracker.currentWidget;
  const model = panel?.content.model;
  if (!panel || !model) {
    return { count: 0, error: 'no notebook is open' };
  }
  let found;
  try {
    found = findCellsOutput(model.sharedModel, panel.content.activeCellIndex);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    Notification.error(`The WARP report output is malformed: ${reason}`);
    return { count: 0, error: reason };
  }
  if (found === null) {
    Notification.warning(
      'No WARP report here: run %%warp --cells, then select its cell or one below.',
      { autoClose: 5000 }
    );
    return { count: 0, error: 'no report output at or above the active cell' };
  }
  const { index, payload } = found;
  const count = insertReportCells(model.sharedModel, payload, index);
  if (count === 0) {
    Notification.info(
      `No cells inserted: the report of WARP run ${payload.run_id} is empty or already in the notebook.`,
      { autoClose: 5000 }
    );
  } else {
    Notification.success(`Inserted ${count} cells of WARP run ${payload.run_id}.`, {
      autoClose: 3000
    });
  }
  return { count, run_id: payload.run_id };
}

/** The open notebook and cell that hold `node` (a rendered output), if any. */
function placeOf(tracker: INotebookTracker, node: HTMLElement): IOutputPlace | null {
  let place: IOutputPlace | null = null;
  tracker.forEach(panel => {
    const model = panel.content.model;
    if (place !== null || model === null || !panel.node.contains(node)) {
      return;
    }
    const cellIndex = panel.content.widgets.findIndex(cell => cell.node.contains(node));
    if (cellIndex >= 0) {
      place = { notebook: model.sharedModel, cellIndex };
    }
  });
  return place;
}

const commandPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-warp:plugin',
  description: 'Insert a WARP report as notebook cells, from the palette or the kernel.',
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null
  ) => {
    // Notebooks clone the registry when they open, after plugins start: they all get it.
    rendermime.addFactory(reportRendererFactory(node => placeOf(tracker, node)), 0);
    app.commands.addCommand(CommandIDs.insertReportCells, {
      label: INSERT_COMMAND_LABEL,
      caption:
        'Insert the report of the selected %%warp cell (or the nearest above) as cells below it',
      isEnabled: () => tracker.currentWidget !== null,
      execute: () => insertFromActiveCell(tracker)
    });
    palette?.addItem({ command: CommandIDs.insertReportCells, category: PALETTE_CATEGORY });

    tracker.forEach(connectComm);
    tracker.widgetAdded.connect((_, panel) => connectComm(panel));
  }
};

const runsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-warp:runs',
  description: 'A side panel listing the WARP runs of the current notebook.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const panel = new RunsPanel(tracker);
    app.shell.add(panel, 'left', { rank: 700 });
    restorer?.add(panel, panel.id);
    app.commands.addCommand(CommandIDs.showRuns, {
      label: 'Show WARP runs',
      execute: () => app.shell.activateById(panel.id)
    });
    palette?.addItem({ command: CommandIDs.showRuns, category: PALETTE_CATEGORY });
  }
};

export default [commandPlugin, runsPlugin];
