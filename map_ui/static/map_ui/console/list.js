/* The list of incidents beside the map, paged by the server (page 1 comes from the markers). */
import {el, fmt, withParams} from '../common.js';
import {config, formatTime, getJson, label, LIST_PAGE, strings} from './context.js';
import {filterParams} from './filters.js';
import {incidents, norm, selectedId, warningOf} from './incidents.js';
import {bbox} from './map.js';
import {openIncident} from './panel.js';
import {done, handleReadError, tracked} from './status.js';

// ---- the list beside the map -----------------------------------------------------------------------------------

const listEl = document.getElementById('incident-list');
const summaryEl = document.getElementById('list-summary');
const prevBtn = document.getElementById('list-prev');
const nextBtn = document.getElementById('list-next');
export const list = {page: 1, count: 0, rows: new Map(), controller: null};

export function listRow(feature) {
  const p = feature.properties;
  const where = [p.community && p.community.name, p.grid && p.grid.name].filter(Boolean).join(' · ');
  return el('li', {dataset: {id: String(p.id)}, class: p.id === selectedId ? 'selected' : null},
    el('button', {type: 'button', class: 'incident-row', onclick: () => openIncident(p.id)},
      el('span', {class: 'dot gl-warning-' + warningOf(p), title: strings['warning_' + warningOf(p)]}),
      el('span', {class: 'what'}, el('strong', {}, '#' + p.id + ' ' + (p.category_name || p.category)),
        el('span', {class: 'state'}, label('incidentStatus', p.status))),
      el('span', {class: 'muted'}, formatTime(p.created) + (where ? ' · ' + where : ''))));
}

function renderList(data) {
  (data.features || []).forEach(norm);
  list.count = data.count;
  list.rows.clear();
  const rows = (data.features || []).map((feature) => {
    const row = listRow(feature);
    list.rows.set(feature.properties.id, row);
    return row;
  });
  listEl.replaceChildren(...rows);
  const first = (list.page - 1) * LIST_PAGE + 1;
  summaryEl.textContent = data.count
    ? fmt(strings.listRange, {first: first, last: first + rows.length - 1, count: data.count.toLocaleString()})
    : strings.listEmpty;
  prevBtn.disabled = list.page <= 1;
  nextBtn.disabled = !data.next;
  listEl.dataset.page = String(list.page);
}

// Page 1 of the list is the newest LIST_PAGE of the markers (same view, filters and order as the API's): no request.
export function renderListFromMarkers() {
  const time = (f) => Date.parse(f.properties.created);
  const features = [...incidents.byId.values()].map((known) => known.feature)
    .sort((a, b) => (time(b) - time(a)) || (b.properties.id - a.properties.id));
  const count = Math.max(incidents.count || 0, features.length);
  renderList({count: count, features: features.slice(0, LIST_PAGE), next: count > LIST_PAGE});
  done('list');
}

export async function loadList() {
  if (list.controller) {
    list.controller.abort();
  }
  if (list.page === 1 && incidents.on) {
    if (incidents.loadedOnce && !incidents.controller) {
      renderListFromMarkers();
    }
    return; // else loadIncidents() renders it when its answer comes
  }
  const controller = new AbortController();
  list.controller = controller;
  const url = withParams(config.api.incidents,
    {in_bbox: bbox(), page_size: LIST_PAGE, page: list.page, ...filterParams()});
  try {
    const data = await tracked(getJson(url, controller.signal));
    if (!controller.signal.aborted) {
      renderList(data);
    }
  } catch (error) {
    if (error.status === 404 && list.page > 1) { // fewer pages than before: back to the first
      list.page = 1;
      list.controller = null;
      loadList();
      return;
    }
    await handleReadError(error, 'incidents');
  } finally {
    if (list.controller === controller) {
      list.controller = null;
    }
    done('list');
  }
}

prevBtn.addEventListener('click', () => {
  list.page = Math.max(1, list.page - 1);
  loadList();
});
nextBtn.addEventListener('click', () => {
  list.page += 1;
  loadList();
});
