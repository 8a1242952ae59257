/* /m/activities/: activities near me (the phone's position) and of my branch, on a Leaflet map and as a list, each
 * with a check-in button. A check-in goes through checkin.js, which keeps it on the phone until the API answers
 * (offline-safe). Opened from the organizer's QR code (?activity=<id>&code=<digits>) it checks in with the code.
 *
 * <body data-ready="true"> is set once the first list is drawn; each list item carries data-id, and its result
 * line data-status ("sent", "queued", "refused").
 */
/* global L */
import {baseMap} from '../basemap.js';
import {el, fmt, getJson, pageConfig, pageStrings, timeFormatter, withParams} from '../common.js';
import {checkIn, resendQueued} from './checkin.js';

const config = pageConfig('activities-config');
const strings = pageStrings('#activities-i18n');
const checkinConfig = {
  api: config.api, csrfCookie: config.csrfCookie, username: config.username,
  strings: {queued: strings.queued, offline: strings.offline},
};
const formatTime = timeFormatter(config.timeZone);
const NEAR_RADIUS_M = 20000;

const map = baseMap('activities-map', config, [], {});
map.setView([35.2, 109.95], 12);
const markers = L.layerGroup().addTo(map);
let you = null;
let position = null;
let tab = 'near';
const list = document.getElementById('activity-list');
const status = document.getElementById('activities-status');

function setStatus(text) {
  status.textContent = text || '';
  status.hidden = !text;
}

function locate() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) {
      resolve(null);
      return;
    }
    navigator.geolocation.getCurrentPosition((p) => resolve(p), () => resolve(null),
      {enableHighAccuracy: true, timeout: 10000, maximumAge: 30000});
  });
}

function resultLine(item) {
  return item.querySelector('.act-result');
}

function showResult(item, answer) {
  const line = resultLine(item);
  line.dataset.status = answer.status;
  line.textContent = answer.message || (answer.status === 'sent' ? strings.checkedIn : '');
  if (answer.status === 'sent') {
    item.dataset.checkedIn = 'true';
    item.querySelector('button.check-in').disabled = true;
  }
}

async function checkInHere(item, feature) {
  const button = item.querySelector('button.check-in');
  button.disabled = true;
  resultLine(item).textContent = strings.checking;
  const here = position || await locate();
  position = here || position;
  const answer = await checkIn({activityId: feature.id, method: 'geofence', position: here, config: checkinConfig});
  button.disabled = answer.status === 'sent';
  showResult(item, answer);
}

function itemOf(feature) {
  const p = feature.properties;
  const meta = [config.kinds[p.kind] || p.kind_display, p.branch && p.branch.name,
    formatTime(p.starts_at) + '–' + formatTime(p.ends_at), p.venue_name].filter(Boolean).join(' · ');
  const distance = p.distance_m !== null && p.distance_m !== undefined
    ? fmt(strings.metres, Math.round(p.distance_m)) : null;
  const checked = p.checked_in === true;
  const cancelled = p.status === 'cancelled';
  const button = el('button', {type: 'button', class: 'check-in', disabled: checked || cancelled},
    checked ? strings.checkedIn : strings.checkIn);
  const item = el('li', {dataset: {id: String(feature.id), kind: p.kind, checkedIn: String(checked)}},
    el('h2', {}, p.title),
    el('p', 'act-meta', meta),
    distance ? el('p', 'act-meta', distance) : null,
    cancelled ? el('p', 'act-meta', strings.cancelled) : null,
    button,
    el('a', {href: config.activityPage.replace('{id}', feature.id), class: 'record-link'}, strings.record),
    el('p', {class: 'act-result', role: 'status'}));
  button.addEventListener('click', () => checkInHere(item, feature));
  return item;
}

function draw(features) {
  markers.clearLayers();
  list.replaceChildren(...features.map(itemOf));
  const points = [];
  for (const feature of features) {
    const [lon, lat] = feature.geometry.coordinates;
    points.push([lat, lon]);
    L.circleMarker([lat, lon], {radius: 7, color: '#b71c1c', className: 'gl-activity'})
      .bindTooltip(el('span', {}, feature.properties.title))
      .addTo(markers);
  }
  if (position) {
    points.push([position.coords.latitude, position.coords.longitude]);
  }
  if (points.length) {
    map.fitBounds(L.latLngBounds(points).pad(0.2), {maxZoom: 16});
  }
  setStatus(features.length ? '' : strings.none);
}

async function load() {
  setStatus(strings.loading);
  const params = {};
  if (tab === 'near' && position) {
    params.near = position.coords.longitude.toFixed(6) + ',' + position.coords.latitude.toFixed(6);
    params.radius = NEAR_RADIUS_M;
    params.from = new Date().toISOString();
  } else {
    params.mine = 1;
  }
  try {
    const page = await getJson(withParams(config.api.activities, params));
    draw(page.features || []);
  } catch (error) {
    setStatus(strings.failed);
  }
}

function showYou() {
  if (!position) {
    return;
  }
  const latLng = [position.coords.latitude, position.coords.longitude];
  if (you) {
    you.setLatLng(latLng);
  } else {
    you = L.circleMarker(latLng, {radius: 6, color: '#1565c0', className: 'gl-you'})
      .bindTooltip(el('span', {}, strings.you)).addTo(map);
  }
}

function selectTab(name) {
  tab = name;
  document.querySelectorAll('.act-tabs button').forEach((b) => {
    b.setAttribute('aria-pressed', String(b.dataset.tab === name));
  });
  return load();
}

// Opened from the organizer's QR code: the code checks in at once; typed digits go the same way.
async function codeFromAddress() {
  const query = new URLSearchParams(window.location.search);
  const activityId = Number(query.get('activity'));
  if (!activityId) {
    return;
  }
  const form = document.getElementById('code-form');
  const input = document.getElementById('code-input');
  form.hidden = false;
  form.dataset.activity = String(activityId);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const answer = await checkIn({activityId, method: 'code', code: input.value.trim(), config: checkinConfig});
    const item = list.querySelector(`li[data-id="${activityId}"]`);
    if (item) {
      showResult(item, answer);
    }
    form.dataset.status = answer.status;
    setStatus(answer.message || '');
  });
  if (query.get('code')) {
    input.value = query.get('code');
    form.requestSubmit();
  }
}

document.querySelectorAll('.act-tabs button').forEach((b) => b.addEventListener('click', () => selectTab(b.dataset.tab)));

// What an earlier visit left queued (offline, or closed before the answer) goes out now.
resendQueued(checkinConfig);

(async () => {
  setStatus(strings.locating);
  position = await locate();
  showYou();
  if (!position) {
    tab = 'mine';
    document.getElementById('tab-near').setAttribute('aria-pressed', 'false');
    document.getElementById('tab-mine').setAttribute('aria-pressed', 'true');
  }
  await load();
  if (!position && tab === 'mine' && !list.children.length) {
    setStatus(strings.noLocation);
  }
  await codeFromAddress();
  document.body.dataset.ready = 'true';
})();
