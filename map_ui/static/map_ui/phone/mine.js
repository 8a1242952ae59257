/* The user's reports as the server knows them, with a copy kept for offline. */
import {el, fmt, getJson, HttpError} from '../common.js';
import {$, config, formatTime, MINE_KEY, readJson, strings, writeJson} from './context.js';
import {setAuthNeeded} from './sending.js';

// ---- my reports, from the server -----------------------------------------------------------------

function renderMine(features) {
  const list = $('mine');
  list.replaceChildren();
  for (const feature of features) {
    const p = feature.properties || {};
    const item = el('li', 'item');
    item.dataset.id = feature.id;
    item.dataset.status = p.status;
    const head = el('div', 'item-head');
    head.append(el('strong', null, p.category_name || p.category || strings.noCategory));
    head.append(el('span', 'badge badge-status status-' + p.status, config.choices.incidentStatus[p.status] || p.status));
    item.append(head);
    item.append(el('div', 'meta', [fmt(strings.incidentNo, feature.id), formatTime(p.created)].join(' · ')));
    if (p.note) {
      item.append(el('div', 'note', p.note));
    }
    list.append(item);
  }
}

let mineLoading = false;

export async function loadMine() {
  if (mineLoading) {
    return;
  }
  mineLoading = true;
  const status = $('mine-status');
  status.textContent = strings.loading;
  try {
    const url = new URL(config.api.incidents, window.location.href);
    url.searchParams.set('reporter', 'me');
    url.searchParams.set('page_size', '50');
    const page = await getJson(url.pathname + url.search);
    const features = (page.features || []).map((f) => ({id: f.id, properties: {
      status: f.properties.status, category: f.properties.category, category_name: f.properties.category_name,
      note: f.properties.note, created: f.properties.created}}));
    writeJson(MINE_KEY, {at: new Date().toISOString(), features: features});
    renderMine(features);
    status.textContent = features.length ? '' : strings.mineEmpty;
    setAuthNeeded(false); // the session is back (logged in again in another tab)
  } catch (error) {
    if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
      setAuthNeeded(true);
    }
    const cached = readJson(MINE_KEY);
    if (cached) {
      renderMine(cached.features);
      status.textContent = fmt(strings.mineOffline, formatTime(cached.at));
    } else {
      status.textContent = strings.mineFailed;
    }
  } finally {
    mineLoading = false;
  }
}
