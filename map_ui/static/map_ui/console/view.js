/* The view: what reloads when the map moves, and the start of the page. */
import {openView, rememberView} from '../basemap.js';
import {config, getJson, POLL_MS, RELOAD_DELAY_MS} from './context.js';
import {fillFilterChoices, loadAreaChoices, loadCategories} from './filters.js';
import {container, loadIncidents} from './incidents.js';
import {defs, loadDef, loadRegistry} from './layers.js';
import {list, loadList} from './list.js';
import {bbox, map, mapEl} from './map.js';
import {poll} from './polling.js';

// ---- the view ---------------------------------------------------------------------------------------------------

let reloadTimer = null;
export function reloadView(first) {
  mapEl.dataset.bbox = bbox();
  mapEl.dataset.zoom = String(map.getZoom());
  loadRegistry(first !== true);
  for (const def of defs.values()) {
    if (def.kind === 'boundary') {
      loadDef(def);
    }
  }
  list.page = 1;
  loadIncidents();
  loadList();
}

export function afterReady() {
  loadRegistry(true); // counts in view
  loadAreaChoices();
}

export async function start() {
  fillFilterChoices();
  const categories = loadCategories();
  await openView(map, config.api.areas, async (url) => (await getJson(url)).features);
  container().addTo(map);
  rememberView(map);
  reloadView(true);
  map.on('moveend', () => {
    rememberView(map);
    window.clearTimeout(reloadTimer);
    reloadTimer = window.setTimeout(reloadView, RELOAD_DELAY_MS);
  });
  window.setInterval(poll, POLL_MS);
  await categories;
}
