// Keys of the drift views as a pure function from (action id, state, selected item) to reducer actions.
import { DEFAULT_DRIFT_WINDOW, nextDriftWindow } from './drift-poller.js';
import type { ActionId } from './keymap.js';
import { currentFrame, type UiAction, type UiState } from './state.js';

/** The window a drift-model frame shows. */
export function frameWindow(s: UiState): string {
  return currentFrame(s).window ?? DEFAULT_DRIFT_WINDOW;
}

/**
 * Reducer actions for a drift action id, or null when the id is not one of them.
 * `item` is the selected row of the current view ("node/name@version" in the models view).
 */
export function driftActions(id: ActionId | null, s: UiState, item: string | undefined): UiAction[] | null {
  const f = currentFrame(s);
  switch (id) {
    case 'drift': {
      // The models list drills by its selected row; the model detail view by its own version.
      const key = f.view === 'models' ? item : f.view === 'model-detail' ? f.arg : null;
      return key ? [{ type: 'push', view: 'drift-model', arg: key }] : [{ type: 'message', text: 'select a model version first' }];
    }
    case 'driftWindow':
      return [{ type: 'setWindow', value: nextDriftWindow(f.window) }];
    default:
      return null;
  }
}
