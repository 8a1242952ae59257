/* Gridline station finder: the stations and the party and community organizations nearest to a gig worker.
 *
 * The position comes from the browser (navigator.geolocation) or, where that is refused or unavailable,
 * from a tap on the map. Stations come from /api/v1/stations/nearest/ (filtered by amenities and "open
 * now" on the server), organizations from /api/v1/layers/organizations/nearest/. Both are drawn on the
 * map and listed nearest first; every change of position or filter asks again.
 */
/* global L */
import {choiceLabels, el, fmt, getJson, pageConfig, pageStrings} from './common.js';


const config = pageConfig('finder-config');
const strings = pageStrings('#finder-i18n');
const statusEl = document.getElementById('finder-status');
const stationList = document.getElementById('station-list');
const organizationList = document.getElementById('organization-list');
const filters = document.getElementById('finder-filters');

// ---- small helpers -------------------------------------------------------------------------------

const label = choiceLabels(config.choices);

function distanceText(metres) {
  const rounded = Math.round(metres);
  return rounded < 1000 ? fmt(strings.metres, rounded) : fmt(strings.kilometres, (metres / 1000).toFixed(1));
}

function setStatus(message) {
  statusEl.textContent = message || '';
  statusEl.hidden = !message;
}

// ---- WGS 84 → GCJ-02, as grid/crs.py computes it ------------------------------------------------------
// Amap's URI API takes GCJ-02 coordinates; the APIs answer in WGS 84.

const GCJ_A = 6378245.0; // Krasovsky 1940 semi-major axis, as the GCJ-02 offset defines it
const GCJ_EE = 0.00669342162296594323; // its first eccentricity squared

function outsideChina(lon, lat) {
  return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
}

function wgs84ToGcj02(lon, lat) {
  if (outsideChina(lon, lat)) {
    return [lon, lat];
  }
  const PI = Math.PI;
  const x = lon - 105.0;
  const y = lat - 35.0;
  let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
    + (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0
    + (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0
    + (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
  let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
    + (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0
    + (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0
    + (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
  const radLat = lat / 180.0 * PI;
  const magic = 1 - GCJ_EE * Math.sin(radLat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  dLat = (dLat * 180.0) / ((GCJ_A * (1 - GCJ_EE)) / (magic * sqrtMagic) * PI);
  dLon = (dLon * 180.0) / (GCJ_A / sqrtMagic * Math.cos(radLat) * PI);
  return [lon + dLon, lat + dLat];
}

// ---- navigation links --------------------------------------------------------------------------------

// Amap's route planner, riding, to a point it is given in GCJ-02 (its documented default coordinate system).
function amapHref(lon, lat, name) {
  const [gLon, gLat] = wgs84ToGcj02(lon, lat);
  const to = gLon.toFixed(6) + ',' + gLat.toFixed(6) + ',' + String(name).replace(/,/g, ' ');
  const params = new URLSearchParams({
    to: to, mode: 'ride', coordinate: 'gaode', callnative: '1', src: 'gridline',
  });
  return 'https://uri.amap.com/navigation?' + params.toString();
}

// RFC 5870 geo: URI (WGS 84, latitude first); the q= label is what Android's map apps show.
function geoHref(lon, lat, name) {
  const ll = lat.toFixed(6) + ',' + lon.toFixed(6);
  return 'geo:' + ll + '?q=' + ll + '(' + encodeURIComponent(name) + ')';
}

function telHref(phone) {
  return 'tel:' + String(phone).replace(/[^0-9+]/g, '');
}

// ---- "open now", by the server's clock in the display time zone --------------------------------------------

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const clockSkewMs = Date.parse(config.serverTime) - Date.now();
const weekClock = new Intl.DateTimeFormat('en-GB', {
  timeZone: config.timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

function dayAndClock() {
  const parts = {};
  weekClock.formatToParts(new Date(Date.now() + clockSkewMs)).forEach((p) => {
    parts[p.type] = p.value;
  });
  return [parts.weekday.slice(0, 3).toLowerCase(), parts.hour + ':' + parts.minute];
}

// true, false, or null where no opening hours are recorded at all. The rule is grid/opening_hours.py's:
// a day that is missing is closed; a span ["08:00", "20:00"] includes 08:00 and excludes 20:00.
function isOpenNow(hours) {
  if (!hours || !DAYS.some((d) => Array.isArray(hours[d]))) {
    return null;
  }
  const [day, clock] = dayAndClock();
  return (hours[day] || []).some(([open, close]) => open <= clock && clock < close);
}

// ---- the map -------------------------------------------------------------------------------------------

const map = L.map('finder-map', {zoomControl: true}).setView([35, 104], 4);
if (config.tileUrl) {
  L.tileLayer(config.tileUrl, {attribution: config.tileAttribution, maxZoom: 19}).addTo(map);
} else {
  map.getContainer().classList.add('no-basemap');
}
L.control.scale({imperial: false}).addTo(map);

const meLayer = L.layerGroup().addTo(map);
const organizationLayer = L.featureGroup().addTo(map);
const stationLayer = L.featureGroup().addTo(map);
const markers = {station: new Map(), organization: new Map()};

let position = null; // {lon, lat, accuracy, source: 'device' | 'map'}

function drawPosition() {
  meLayer.clearLayers();
  const latlng = [position.lat, position.lon];
  if (position.accuracy) {
    L.circle(latlng, {radius: position.accuracy, className: 'gl-me-accuracy', interactive: false}).addTo(meLayer);
  }
  L.circleMarker(latlng, {radius: 8, className: 'gl-me'}).bindTooltip(el('span', null, strings.you)).addTo(meLayer);
}

function pin(kind, latlng, text, title) {
  const number = el('span', null, text); // an element, not HTML text: nothing from the API is parsed as markup
  return L.marker(latlng, {
    title: title,
    alt: title,
    keyboard: true,
    icon: L.divIcon({className: 'gl-pin gl-pin-' + kind, html: number, iconSize: [28, 28], iconAnchor: [14, 14]}),
  });
}

// ---- lists ---------------------------------------------------------------------------------------------

function select(kind, id) {
  document.querySelectorAll('.result.selected').forEach((node) => node.classList.remove('selected'));
  const item = document.querySelector('.result[data-kind="' + kind + '"][data-id="' + id + '"]');
  if (item) {
    item.classList.add('selected');
    item.scrollIntoView({block: 'nearest', behavior: 'smooth'});
  }
}

function focusOnMap(kind, id) {
  const layer = markers[kind].get(id);
  if (!layer) {
    return;
  }
  const bounds = layer.getBounds ? layer.getBounds() : L.latLngBounds([layer.getLatLng()]);
  map.fitBounds(bounds, {maxZoom: 17, padding: [30, 30]});
  select(kind, id);
}

function navigationLinks(lon, lat, name) {
  const actions = el('div', 'actions');
  const amap = el('a', 'nav nav-amap', strings.navigateAmap);
  amap.href = amapHref(lon, lat, name);
  amap.target = '_blank';
  amap.rel = 'noopener';
  const geo = el('a', 'nav nav-geo', strings.navigateOther);
  geo.href = geoHref(lon, lat, name);
  actions.append(amap, geo);
  return actions;
}

function phoneLink(phone) {
  const link = el('a', 'tel', phone);
  link.href = telHref(phone);
  link.setAttribute('aria-label', fmt(strings.call, phone));
  return link;
}

function resultItem(kind, feature, rank) {
  const p = feature.properties;
  const item = el('li', 'result result-' + kind);
  item.dataset.kind = kind;
  item.dataset.id = String(p.id);
  item.dataset.distanceM = String(p.distance_m);
  const head = el('div', 'result-head');
  const name = el('button', 'name', p.name);
  name.type = 'button';
  name.addEventListener('click', () => focusOnMap(kind, p.id));
  head.append(el('span', 'rank', rank), name, el('span', 'distance', distanceText(p.distance_m)));
  item.append(head);
  return item;
}

function stationItem(feature, rank) {
  const p = feature.properties;
  const [lon, lat] = feature.geometry.coordinates;
  const item = resultItem('station', feature, rank);
  const meta = el('p', 'meta');
  meta.append(el('span', 'kind', label('stationKind', p.kind)));
  const open = isOpenNow(p.opening_hours);
  const state = open === null ? 'unknown' : open ? 'open' : 'closed';
  const stateText = {open: strings.openNow, closed: strings.closedNow, unknown: strings.noHours}[state];
  meta.append(el('span', 'open-state ' + state, stateText));
  item.append(meta);
  if ((p.amenities || []).length) {
    const tags = el('ul', 'amenity-tags');
    p.amenities.forEach((code) => {
      const tag = el('li', null, label('amenity', code));
      tag.dataset.amenity = code;
      tags.append(tag);
    });
    item.append(tags);
  }
  if (p.address) {
    item.append(el('p', 'address', p.address));
  }
  const actions = navigationLinks(lon, lat, p.name);
  if (p.phone) {
    actions.prepend(phoneLink(p.phone));
  }
  item.append(actions);
  return item;
}

function organizationItem(feature, rank) {
  const p = feature.properties;
  const item = resultItem('organization', feature, rank);
  const meta = el('p', 'meta');
  meta.append(el('span', 'kind', label('organizationKind', p.kind)));
  item.append(meta);
  if (p.address) {
    item.append(el('p', 'address', p.address));
  }
  const point = feature.geometry && feature.geometry.type === 'Point' ? feature.geometry.coordinates : null;
  const actions = point ? navigationLinks(point[0], point[1], p.name) : el('div', 'actions');
  if (p.phone) {
    actions.prepend(phoneLink(p.phone));
  }
  if (actions.childElementCount) {
    item.append(actions);
  }
  return item;
}

function render(kind, list, group, features, makeItem, emptyText) {
  list.replaceChildren();
  group.clearLayers();
  markers[kind].clear();
  features.forEach((feature, i) => {
    const p = feature.properties;
    list.append(makeItem(feature, i + 1));
    let layer;
    if (feature.geometry.type === 'Point') {
      const [lon, lat] = feature.geometry.coordinates;
      layer = pin(kind, [lat, lon], String(i + 1), p.name);
    } else {
      layer = L.geoJSON(feature.geometry, {style: {className: 'gl-area-' + kind}});
    }
    layer.bindTooltip(el('span', null, p.name + ' · ' + distanceText(p.distance_m))); // text, never HTML
    layer.on('click', () => select(kind, p.id));
    layer.addTo(group);
    markers[kind].set(p.id, layer);
  });
  if (!features.length) {
    list.append(el('li', 'empty', emptyText));
  }
}

// ---- searching -----------------------------------------------------------------------------------------

let controller = null;

function stationQuery() {
  const params = new URLSearchParams({
    lon: position.lon.toFixed(6), lat: position.lat.toFixed(6), limit: String(config.stationLimit),
  });
  const amenities = [...filters.querySelectorAll('input[name=amenity]:checked')].map((box) => box.value);
  if (amenities.length) {
    params.set('amenity', amenities.join(','));
  }
  if (filters.querySelector('#open-now').checked) {
    params.set('open_now', 'true');
  }
  return params;
}

function organizationQuery() {
  return new URLSearchParams({
    lon: position.lon.toFixed(6),
    lat: position.lat.toFixed(6),
    limit: String(config.organizationLimit),
    kind: config.organizationKinds.join(','),
  });
}

async function search() {
  if (!position) {
    return;
  }
  if (controller) {
    controller.abort();
  }
  controller = new AbortController();
  const signal = controller.signal;
  const stationParams = stationQuery();
  const organizationParams = organizationQuery();
  const notices = [];
  stationList.setAttribute('aria-busy', 'true');
  organizationList.setAttribute('aria-busy', 'true');
  setStatus(strings.loading);
  const [stations, organizations] = await Promise.allSettled([
    getJson(config.api.stationsNearest + '?' + stationParams, signal),
    getJson(config.api.organizationsNearest + '?' + organizationParams, signal),
  ]);
  if (signal.aborted) {
    return; // a newer search is under way
  }
  if (stations.status === 'fulfilled') {
    render('station', stationList, stationLayer, stations.value.features, stationItem, strings.noStations);
    stationList.dataset.query = stationParams.toString();
  } else {
    notices.push(fmt(strings.loadFailed, strings.stations));
  }
  if (organizations.status === 'fulfilled') {
    render('organization', organizationList, organizationLayer, organizations.value.features,
      organizationItem, strings.noOrganizations);
    organizationList.dataset.query = organizationParams.toString();
  } else {
    notices.push(fmt(strings.loadFailed, strings.organizations));
  }
  stationList.removeAttribute('aria-busy');
  organizationList.removeAttribute('aria-busy');
  if (position.source === 'map') {
    notices.push(strings.chosenOnMap);
  }
  setStatus(notices.join(' '));
  fitResults();
}

function fitResults() {
  const bounds = L.latLngBounds([[position.lat, position.lon]]);
  stationLayer.eachLayer((layer) => bounds.extend(layer.getLatLng ? layer.getLatLng() : layer.getBounds()));
  organizationLayer.eachLayer((layer) => bounds.extend(layer.getLatLng ? layer.getLatLng() : layer.getBounds()));
  map.fitBounds(bounds, {maxZoom: 16, padding: [30, 30]});
}

function setPosition(lon, lat, accuracy, source) {
  position = {lon: lon, lat: lat, accuracy: accuracy, source: source};
  document.body.dataset.lon = lon.toFixed(6);
  document.body.dataset.lat = lat.toFixed(6);
  drawPosition();
  search();
}

function locate() {
  if (!('geolocation' in navigator)) {
    setStatus(strings.noLocation);
    return;
  }
  setStatus(strings.locating);
  navigator.geolocation.getCurrentPosition(
    (found) => setPosition(found.coords.longitude, found.coords.latitude, found.coords.accuracy, 'device'),
    () => {
      if (!position) {
        setStatus(strings.noLocation);
      }
    },
    {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000},
  );
}

map.on('click', (event) => {
  const latlng = event.latlng.wrap();
  setPosition(latlng.lng, latlng.lat, null, 'map');
});
filters.addEventListener('change', () => search());
filters.addEventListener('submit', (event) => event.preventDefault());
document.getElementById('locate-me').addEventListener('click', locate);

locate();
