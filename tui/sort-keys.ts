// The sort keys (shift+letter, keymap actions "sort:<id>") as a pure function from action id to reducer actions.
import type { ActionId } from './keymap.js';
import type { UiAction } from './state.js';

/** Reducer actions for a sort action id ("sort:name" → sort by name, or reversed when already), or null for other ids. */
export function sortActions(id: ActionId | null): UiAction[] | null {
  if (!id || !id.startsWith('sort:')) return null;
  return [{ type: 'sort', by: id.slice('sort:'.length) }];
}
