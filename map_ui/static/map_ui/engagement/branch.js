/* A branch's page (/branches/<id>/): its place on the map, its member counts (names and titles for those who know
 * the branch), its upcoming and past activities and its notices; its cadres and the staff of its area publish and
 * withdraw notices here, and see where its mobile members are.
 */
/* global L */
import {HttpError, csrfToken, el, fmt, getJson, pageConfig, pageStrings, timeFormatter} from '../common.js';

const config = pageConfig('branch-config');
const s = pageStrings('#branch-i18n');
const when = timeFormatter(config.timeZone);
const status = document.getElementById('branch-status');

function drawMap(detail) {
  const element = document.getElementById('branch-map');
  const map = L.map(element, {zoomControl: true});
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, {attribution: config.tileAttribution, maxZoom: 19}).addTo(map);
  }
  L.control.scale({imperial: false}).addTo(map);
  const group = L.featureGroup().addTo(map);
  if (detail.location) {
    const [lon, lat] = detail.location.coordinates;
    L.circleMarker([lat, lon], {radius: 9, color: '#b71c1c', fillOpacity: 0.8, className: 'branch-marker'})
      .bindTooltip(el('span', {}, detail.name), {permanent: false})
      .addTo(group);
    map.setView([lat, lon], 15);
  } else {
    map.setView([35.2, 109.9], 10);
  }
  return {map, group};
}

async function drawMobileMembers(drawn) {
  const collection = await getJson(config.api['branch-mobile-members']);
  const markers = [];
  collection.features.forEach((feature) => {
    const [lon, lat] = feature.geometry.coordinates;
    const p = feature.properties;
    const where = p.community ? p.community.name : '';
    const content = el('div', 'gl-popup', el('strong', {}, p.name), el('br'), where, ' ', fmt(s.since, p.since),
      el('br'), fmt(s.checkinsElsewhere, p.checkins_elsewhere));
    markers.push(L.circleMarker([lat, lon], {radius: 6, color: '#0b63c5', className: 'mobile-marker'})
      .bindPopup(content).addTo(drawn.group));
  });
  document.getElementById('branch-map').dataset.mobileMembers = String(collection.features.length);
  if (markers.length) {
    drawn.map.fitBounds(drawn.group.getBounds(), {maxZoom: 15, padding: [20, 20]});
  }
}

function drawCounts(detail) {
  const counts = [
    [s.membersCount, detail.counts.members, 'members'],
    [s.cadresCount, detail.counts.cadres, 'cadres'],
    [s.mobileCount, detail.counts.mobile_members, 'mobile'],
    [s.activitiesCount, detail.counts.activities, 'activities'],
  ];
  document.getElementById('branch-counts').replaceChildren(...counts.map(([term, value, key]) =>
    el('div', {dataset: {count: key}}, el('dt', {}, term), el('dd', {}, String(value)))));
  const cadres = document.getElementById('branch-cadres');
  const members = document.getElementById('branch-members');
  cadres.hidden = members.hidden = !detail.known;
  if (detail.known) {
    cadres.replaceChildren(...detail.cadres.map((c) => el('li', 'cadre', el('strong', {}, c.title_display), ' ',
      c.name)));
    members.replaceChildren(...detail.members.map((m) => el('li', 'member', m.name,
      m.mobile ? [' · ', s.mobileMember] : '')));
  }
}

function activityItem(activity) {
  const kind = config.choices.activityKind[activity.kind] || activity.kind_display;
  return el('li', {class: 'activity', dataset: {id: activity.id}},
    el('span', 'kind', kind), el('span', 'title', activity.title),
    activity.status === 'cancelled' ? [' (', s.cancelled, ')'] : '',
    el('span', 'when', when(activity.starts_at), ' – ', when(activity.ends_at),
      activity.venue_name ? [' · ', activity.venue_name] : '', ' · ', fmt(s.checkins, activity.checkin_count)));
}

function drawActivities(detail) {
  for (const key of ['upcoming', 'past']) {
    const list = document.getElementById(`branch-${key}`);
    const items = detail[key].map(activityItem);
    list.replaceChildren(...(items.length ? items : [el('li', 'empty muted', s.noActivities)]));
  }
}

async function writeJson(method, url, body) {
  const response = await fetch(url, {
    method: method,
    credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', Accept: 'application/json',
      'X-CSRFToken': csrfToken(config.csrfCookie, '')},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    throw new HttpError(response.status, await response.json().catch(() => null));
  }
  return response.status === 204 ? null : response.json();
}

function noticeItem(notice, mayRun) {
  const item = el('li', {class: 'notice', dataset: {id: notice.id}}, el('h3', {}, notice.title),
    el('span', 'when', when(notice.published_at)), notice.body ? el('p', {}, notice.body) : '');
  if (mayRun) {
    item.append(el('button', {type: 'button', class: 'link delete-notice', onclick: async () => {
      await writeJson('DELETE', config.noticeUrl.replace('{nid}', notice.id));
      await loadNotices(mayRun);
    }}, s.delete));
  }
  return item;
}

async function loadNotices(mayRun) {
  const page = await getJson(config.api['branch-notices']);
  const list = document.getElementById('branch-notices');
  const items = page.results.map((n) => noticeItem(n, mayRun));
  list.replaceChildren(...(items.length ? items : [el('li', 'empty muted', s.noNotices)]));
}

function enableNoticeForm() {
  const form = document.getElementById('notice-form');
  const error = document.getElementById('notice-error');
  form.hidden = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = {title: form.title.value.trim(), body: form.body.value, client_uuid: crypto.randomUUID()};
    try {
      await writeJson('POST', config.api['branch-notices'], body);
      form.reset();
      await loadNotices(true);
    } catch (failure) {
      const detail = failure.body && (failure.body.title || failure.body.detail);
      error.textContent = detail ? String(detail) : s.failed;
      error.hidden = false;
    }
  });
}

async function main() {
  status.textContent = s.loading;
  let detail;
  try {
    detail = await getJson(config.api['branch-detail']);
  } catch (error) {
    status.textContent = fmt(s.loadFailed, config.name);
    return;
  }
  const drawn = drawMap(detail);
  drawCounts(detail);
  drawActivities(detail);
  await loadNotices(detail.may_run);
  if (detail.may_run) {
    enableNoticeForm();
  }
  if (detail.known) {
    await drawMobileMembers(drawn).catch(() => {
      status.textContent = fmt(s.loadFailed, s.mobileCount);
    });
  }
  status.textContent = s.loaded;
  document.body.dataset.ready = 'true';
}

main();
