/* The incident panel: details, photos, timeline, and the actions open to the dispatcher (with the candidates to
 * dispatch to and the possible duplicates to merge into). */
/* global L */
import {el, fmt, textNode, withParams} from '../common.js';
import {
  config, errorText, fill, formatTime, getJson, label, NOTE_REQUIRED, request, safeClass, strings,
} from './context.js';
import {matchesFilters} from './filters.js';
import {incidents, norm, select, upsertIncident, warningOf} from './incidents.js';
import {loadList} from './list.js';
import {map} from './map.js';
import {sessionAlive, showSessionExpired, tracked} from './status.js';

// ---- the incident panel ------------------------------------------------------------------------------------------

const listView = document.getElementById('incident-list-view');
const incidentView = document.getElementById('incident-view');
const detailEl = document.getElementById('incident-detail');
const photosEl = document.getElementById('incident-photos');
const actionsEl = document.getElementById('incident-actions');
const choicesEl = document.getElementById('incident-choices');
const messageEl = document.getElementById('incident-message');
const noteEl = document.getElementById('incident-note');
const timelineEl = document.getElementById('incident-timeline');
export const panel = {id: null, detail: null, busy: false, drafts: new Map(), controller: null};
const candidateLayer = L.layerGroup().addTo(map);

function say(message, kind) {
  messageEl.textContent = message || '';
  messageEl.dataset.kind = kind || '';
}

export async function openIncident(id) {
  if (panel.id !== null) {
    panel.drafts.set(panel.id, noteEl.value); // what was typed for the previous one stays with it
  }
  if (panel.id !== id) {
    say('');
    choicesEl.replaceChildren();
    candidateLayer.clearLayers();
    noteEl.value = panel.drafts.get(id) || '';
  }
  panel.id = id;
  select(id);
  listView.hidden = true;
  incidentView.hidden = false;
  incidentView.dataset.id = String(id);
  await refreshIncident();
}

function closeIncident() {
  if (panel.id !== null) {
    panel.drafts.set(panel.id, noteEl.value);
  }
  if (panel.controller) {
    panel.controller.abort();
  }
  panel.id = null;
  panel.detail = null;
  candidateLayer.clearLayers();
  select(null);
  incidentView.hidden = true;
  listView.hidden = false;
}
document.getElementById('incident-back').addEventListener('click', closeIncident);

export async function refreshIncident() {
  const id = panel.id;
  if (panel.controller) {
    panel.controller.abort();
  }
  const controller = new AbortController();
  panel.controller = controller;
  try {
    const [detail, timeline] = await tracked(Promise.all([
      getJson(fill(config.api.incident, {id: id}), controller.signal),
      getJson(fill(config.api.timeline, {id: id}), controller.signal),
    ]));
    if (controller.signal.aborted || panel.id !== id) {
      return;
    }
    renderIncident(detail);
    renderTimeline(timeline);
  } catch (error) {
    if (error.name === 'AbortError') {
      return;
    }
    if ((error.status === 401 || error.status === 403) && !(await sessionAlive())) {
      showSessionExpired(() => refreshIncident());
      return;
    }
    say(error.status === 404 ? errorText(error.body) : fmt(strings.loadFailed, '#' + id), 'error');
  } finally {
    if (panel.controller === controller) {
      panel.controller = null;
    }
  }
}

function renderIncident(feature) {
  norm(feature);
  const p = feature.properties;
  panel.detail = feature;
  incidentView.dataset.status = p.status;
  incidentView.dataset.version = String(p.version);
  const warning = warningOf(p);
  const area = (a) => (a ? a.name + ' (' + a.code + ')' : '');
  detailEl.replaceChildren(
    el('h2', {}, el('span', {class: 'dot gl-warning-' + warning}), '#' + p.id + ' ' + (p.category_name || p.category)),
    el('dl', {class: 'facts'}, [
      [strings.status, label('incidentStatus', p.status)],
      [strings.warning, config.choices.openStatuses.includes(p.status) ? strings['warning_' + warning] : ''],
      [strings.deadline, formatTime(p.deadline)],
      [strings.reported, formatTime(p.created)],
      [strings.reporter, p.reporter],
      [strings.assignee, p.assignee],
      [strings.grid, p.grid ? area(p.grid) : ''],
      [strings.community, area(p.community)],
      [strings.handlingArea, area(p.handling_area)],
      [strings.note, p.note],
    ].filter(([, v]) => v).map(([term, value]) => [el('dt', {}, term), el('dd', {}, value)])));
  const photos = p.photos || [];
  photosEl.replaceChildren(...(photos.length ? photos.map((photo) => el('a', {href: photo.url, target: '_blank',
    rel: 'noopener'}, el('img', {src: photo.thumbnail_url, alt: '#' + p.id, loading: 'lazy'})))
    : [el('p', {class: 'muted'}, strings.noPhotos)]));
  const allowed = p.allowed_actions || [];
  actionsEl.replaceChildren(...(allowed.length ? allowed.map((action) => el('button', {
    type: 'button', dataset: {action: action}, class: 'action action-' + safeClass(action),
    onclick: () => act(action),
  }, strings['action_' + action] || action)) : [el('p', {class: 'muted'}, strings.noActions)]));
  // a choice list (candidates, duplicates) stays only while its action is still open
  if (choicesEl.dataset.for && !allowed.includes(choicesEl.dataset.for)) {
    choicesEl.replaceChildren();
    choicesEl.dataset.for = '';
    candidateLayer.clearLayers();
  }
  const known = incidents.byId.get(p.id);
  if (known || matchesFilters(p)) {
    upsertIncident(feature);
    select(p.id);
  }
}

function renderTimeline(events) {
  timelineEl.replaceChildren(...events.map((event) => {
    const moved = event.from_status && event.to_status && event.from_status !== event.to_status
      ? label('incidentStatus', event.from_status) + ' → ' + label('incidentStatus', event.to_status) : '';
    return el('li', {dataset: {action: event.action}},
      el('time', {datetime: event.at}, formatTime(event.at)), ' ',
      el('strong', {}, strings['event_' + event.action] || strings['action_' + event.action] || event.action),
      moved ? el('span', {class: 'moved'}, ' ' + moved) : null,
      event.data && event.data.assignee ? el('span', {class: 'assignee'}, ' → ' + event.data.assignee) : null,
      event.actor ? el('span', {class: 'muted'}, ' · ' + event.actor) : null,
      event.note ? el('p', {class: 'note'}, event.note) : null,
      (event.photos || []).length ? el('div', {class: 'photos'}, event.photos.map((photo) => el('a',
        {href: photo.url, target: '_blank', rel: 'noopener'}, el('img', {src: photo.thumbnail_url, alt: '',
          loading: 'lazy'})))) : null);
  }));
}

function act(action) {
  say('');
  if (action === 'dispatch') {
    showCandidates();
    return;
  }
  if (action === 'merge') {
    showDuplicates();
    return;
  }
  if (NOTE_REQUIRED.has(action) && !noteEl.value.trim()) {
    say(strings.noteRequired, 'error');
    noteEl.focus();
    return;
  }
  send({action: action});
}

async function send(move) {
  const id = panel.id;
  if (id === null || !panel.detail || panel.busy) {
    return;
  }
  // The version the dispatcher saw: if the incident changed since, the API refuses (409) and we reload it.
  const body = {...move, note: noteEl.value, version: move.version || panel.detail.properties.version};
  panel.busy = true;
  actionsEl.querySelectorAll('button').forEach((b) => { b.disabled = true; });
  try {
    const {data} = await tracked(request(fill(config.api.transitions, {id: id}), {method: 'POST', body: body}));
    if (panel.id !== id) {
      return;
    }
    noteEl.value = '';
    panel.drafts.delete(id);
    choicesEl.replaceChildren();
    choicesEl.dataset.for = '';
    candidateLayer.clearLayers();
    renderIncident(data);
    say(fmt(strings.done, {action: strings['event_' + move.action] || move.action}), 'ok');
    const timeline = await getJson(fill(config.api.timeline, {id: id}));
    if (panel.id === id) {
      renderTimeline(timeline);
    }
    loadList();
  } catch (error) {
    if (error.status === 409) {
      say(fmt(strings.conflict, {message: errorText(error.body)}), 'error');
      panel.busy = false;
      await refreshIncident();
    } else if (error.status === 400) {
      say(fmt(strings.invalid, {message: errorText(error.body)}), 'error');
    } else if (error.status === 401 || error.status === 403) {
      if (await sessionAlive()) {
        say(fmt(strings.denied, {message: errorText(error.body)}), 'error');
      } else {
        // The note stays in its box; after logging in (another tab) Retry sends the same move again.
        showSessionExpired(() => send({...move, version: body.version}));
      }
    } else if (error.status === 404) {
      say(errorText(error.body), 'error');
    } else {
      say(strings.failed, 'error');
    }
  } finally {
    panel.busy = false;
    actionsEl.querySelectorAll('button').forEach((b) => { b.disabled = false; });
  }
}

const candidateIcon = L.divIcon({className: 'gl-candidate', iconSize: [18, 18]});

async function showCandidates() {
  const id = panel.id;
  choicesEl.dataset.for = 'dispatch';
  choicesEl.replaceChildren(el('p', {class: 'muted'}, strings.loading));
  let rows;
  try {
    rows = await tracked(getJson(withParams(fill(config.api.candidates, {id: id}), {limit: 10})));
  } catch (error) {
    if ((error.status === 401 || error.status === 403) && !(await sessionAlive())) {
      showSessionExpired(() => showCandidates());
    } else {
      say(error.status === 403 ? fmt(strings.denied, {message: errorText(error.body)})
        : fmt(strings.loadFailed, strings.candidates), 'error');
    }
    choicesEl.replaceChildren();
    return;
  }
  if (panel.id !== id) {
    return;
  }
  candidateLayer.clearLayers();
  const assign = (username) => send({action: 'dispatch', assignee: username});
  const bounds = [];
  const items = rows.map((c, rank) => {
    const name = c.full_name || c.username;
    const line = fmt(strings.candidateLine, {distance: Math.round(c.distance_m).toLocaleString(),
      load: c.open_cases});
    if (c.position && c.position.coordinates) {
      const [lon, lat] = c.position.coordinates;
      bounds.push([lat, lon]);
      const marker = L.marker([lat, lon], {icon: candidateIcon, pane: 'candidates', title: name, alt: name});
      marker.bindTooltip(textNode('span', name + ' · ' + line),
        {permanent: rank < 3, direction: 'top', offset: [0, -8]});
      marker.bindPopup(() => el('div', {class: 'gl-popup'}, el('h3', {}, name), el('p', {}, line),
        el('button', {type: 'button', onclick: () => assign(c.username)}, strings.assign)));
      marker.on('add', () => {
        const node = marker.getElement();
        if (node) {
          node.dataset.username = c.username;
        }
      });
      candidateLayer.addLayer(marker);
    }
    return el('li', {dataset: {username: c.username}},
      el('span', {class: 'who'}, el('strong', {}, name), el('span', {class: 'muted'}, line)),
      el('button', {type: 'button', class: 'assign', onclick: () => assign(c.username)}, strings.assign));
  });
  choicesEl.replaceChildren(el('h4', {}, strings.candidates),
    items.length ? el('ol', {class: 'candidates'}, items) : el('p', {class: 'muted'}, strings.noCandidates));
  const here = panel.detail && panel.detail.geometry.coordinates;
  if (bounds.length && here) {
    bounds.push([here[1], here[0]]);
    const all = L.latLngBounds(bounds);
    if (!map.getBounds().contains(all)) {
      map.fitBounds(all.pad(0.2), {maxZoom: map.getZoom()});
    }
  }
}

function showDuplicates() {
  const p = panel.detail.properties;
  const duplicates = p.possible_duplicates || [];
  choicesEl.dataset.for = 'merge';
  candidateLayer.clearLayers();
  const items = duplicates.map((d) => el('li', {dataset: {id: String(d.id)}},
    el('span', {class: 'who'}, el('strong', {}, '#' + d.id + ' ' + label('incidentStatus', d.status)),
      el('span', {class: 'muted'}, Math.round(d.distance_m) + ' m · ' + formatTime(d.created)
        + (d.note ? ' · ' + d.note : ''))),
    el('button', {type: 'button', class: 'merge', onclick: () => send({action: 'merge', duplicate_of: d.id})},
      fmt(strings.mergeInto, {id: d.id}))));
  choicesEl.replaceChildren(el('h4', {}, strings.duplicates),
    items.length ? el('ol', {class: 'duplicates'}, items) : el('p', {class: 'muted'}, strings.noDuplicates));
}
