/* New and changed incidents, asked for every POLL_MS and merged by id. */
import {fmt, withParams} from '../common.js';
import {config, FULL_RELOAD_MS, POLL_OVERLAP_MS, request, strings} from './context.js';
import {matchesFilters} from './filters.js';
import {
  incidentKey, incidents, lastSeen, loadIncidents, norm, noteServerTime, refreshHeat, removeIncident, upsertIncident,
} from './incidents.js';
import {setCount} from './layers.js';
import {list, listRow, loadList, renderListFromMarkers} from './list.js';
import {bbox} from './map.js';
import {panel, refreshIncident} from './panel.js';
import {banner, sessionAlive, setLiveText, setNotice, showSessionExpired} from './status.js';

// ---- polling: new and changed incidents -------------------------------------------------------------------------

let polling = false;

export async function poll() {
  if (polling || lastSeen === null || !banner.hidden || incidents.controller) {
    return;
  }
  if (Date.now() - (incidents.loadedAt || 0) > FULL_RELOAD_MS) {
    loadIncidents();
    loadList();
    return;
  }
  polling = true;
  const since = new Date(lastSeen - POLL_OVERLAP_MS).toISOString();
  try {
    const url = withParams(config.api.incidents, {in_bbox: bbox(), modified_since: since, page_size: 500});
    const {data, response} = await request(url);
    noteServerTime(response);
    mergeChanges(data.features || []);
    setLiveText(fmt(strings.live, {time: new Date().toLocaleTimeString(document.documentElement.lang || undefined)}));
    setNotice('poll', null);
  } catch (error) {
    if ((error.status === 401 || error.status === 403) && !(await sessionAlive())) {
      showSessionExpired(null);
    }
  } finally {
    polling = false;
  }
}

function mergeChanges(features) {
  features.forEach(norm);
  let changed = false;
  for (const feature of features) {
    const p = feature.properties;
    if (incidents.on && matchesFilters(p)) {
      const before = incidents.byId.get(p.id);
      if (!before || before.key !== incidentKey(feature)) {
        changed = true;
      }
      // new to the view (not only to the sample): counted in
      if (upsertIncident(feature) && (!incidents.truncated || Date.parse(p.created) >= incidents.loadedServer)) {
        setCount(incidents, (incidents.count || 0) + 1);
      }
    } else if (incidents.byId.has(p.id)) {
      removeIncident(p.id);
      changed = true;
      setCount(incidents, Math.max(0, (incidents.count || 1) - 1));
    }
    const row = list.rows.get(p.id);
    if (row && !(incidents.on && list.page === 1)) { // later pages are updated in place
      const fresh = listRow(feature);
      row.replaceWith(fresh);
      list.rows.set(p.id, fresh);
    }
    if (p.id === panel.id && panel.detail && p.version !== panel.detail.properties.version && !panel.busy) {
      refreshIncident();
    }
  }
  if (changed) {
    incidents.row && (incidents.row.dataset.drawn = String(incidents.byId.size));
    refreshHeat();
    if (list.page === 1) {
      renderListFromMarkers();
    }
  }
}
