/* Gridline one map: grids, administrative areas, stations and incidents, drawn from the /api/v1/ endpoints.
 *
 * Each layer is (re)loaded when it is switched on and after the map moves. Reloads update layers by
 * feature id, so that unchanged features (and an open popup) stay put while the map pans.
 */
/* global L */
import {
  choiceLabels, escapeHtml, fmt, getJson, pageConfig, pageStrings, timeFormatter, withParams,
} from './common.js';
import {WARNINGS, baseMap, bboxOf, openView, popup, rememberView, updateGroup} from './basemap.js';

const config = pageConfig('map-config');
const strings = pageStrings('#map-i18n');
const statusEl = document.getElementById('map-status');

const PAGE_SIZE = 1000;
const MAX_FEATURES = 5000; // per layer and view: past it the page asks to zoom in
const STATIONS_NEAREST = 50;
const RELOAD_DELAY_MS = 150;

// ---- small helpers -------------------------------------------------------------------------------

// A FeatureCollection, following the `next` links of paginated ones up to MAX_FEATURES.
async function fetchFeatures(url, signal) {
  const features = [];
  let next = url;
  while (next) {
    const page = await getJson(next, signal);
    features.push(...(page.features || []));
    if (!page.next || features.length >= MAX_FEATURES) {
      return {features: features, truncated: Boolean(page.next)};
    }
    // Same origin, whatever scheme and host the server put in the link (e.g. behind a proxy).
    const link = new URL(page.next, window.location.href);
    next = link.pathname + link.search;
  }
  return {features: features, truncated: false};
}

// ---- status line -----------------------------------------------------------------------------------

let pending = 0;
const notices = new Map(); // layer name -> message

function renderStatus() {
  statusEl.replaceChildren();
  const parts = [];
  if (pending > 0) {
    parts.push(document.createTextNode(strings.loading));
  }
  for (const message of notices.values()) {
    parts.push(typeof message === 'string' ? document.createTextNode(message) : message);
  }
  parts.forEach((part, i) => {
    if (i > 0) {
      statusEl.append(' · ');
    }
    statusEl.append(part);
  });
  statusEl.classList.toggle('busy', pending > 0);
}

function setNotice(name, message) {
  if (message) {
    notices.set(name, message);
  } else {
    notices.delete(name);
  }
  renderStatus();
}

// ---- popups ------------------------------------------------------------------------------------------

const label = choiceLabels(config.choices);
const areaName = (area) => (area ? area.name + ' (' + area.code + ')' : null);
const formatTime = timeFormatter(config.timeZone);

function gridPopup(p) {
  return popup(p.name, [
    [strings.code, p.code],
    [strings.community, areaName(p.community)],
    [strings.households, p.households],
  ]);
}

function areaPopup(p) {
  return popup(p.name, [
    [strings.code, p.code],
    [strings.level, label('areaLevel', String(p.level))],
    [strings.parent, p.parent],
  ]);
}

function stationPopup(p) {
  return popup(p.name, [
    [strings.kind, label('stationKind', p.kind)],
    [strings.address, p.address],
    [strings.phone, p.phone],
    [strings.amenities, (p.amenities || []).map((a) => label('amenity', a)).join('、')],
    [strings.organization, p.organization_name],
    [strings.distance, p.distance_m === undefined ? null : fmt(strings.metres, Math.round(p.distance_m))],
  ]);
}

const warningOf = (p) => (WARNINGS.includes(p.warning) ? p.warning : null);

function incidentPopup(p) {
  const warning = warningOf(p);
  return popup('#' + p.id + ' ' + (p.category_name || p.category), [
    [strings.status, label('incidentStatus', p.status)],
    [strings.warning, warning ? strings['warning_' + warning] : null],
    [strings.deadline, formatTime(p.deadline)],
    [strings.reported, formatTime(p.created)],
    [strings.grid, p.grid ? p.grid.name + ' (' + p.grid.code + ')' : null],
    [strings.community, areaName(p.community)],
    [strings.reporter, p.reporter],
    [strings.note, p.note],
  ]);
}

// ---- the map -------------------------------------------------------------------------------------------

// Drawing order, bottom to top: grids, streets, communities (unfilled), incidents, stations (marker pane).
const map = baseMap('map', config, [['grids', 400], ['streets', 410], ['communities', 420], ['incidents', 450]]);

function areaLayerOptions(kind, pane) {
  return {
    pane: pane,
    style: {className: 'gl-area gl-' + kind},
    onEachFeature: (feature, layer) => layer.bindPopup(() => areaPopup(feature.properties)),
  };
}

const stationIcon = L.divIcon({className: 'gl-station', iconSize: [14, 14]});
const safeClass = (code) => String(code).replace(/[^a-z0-9_-]/gi, '');

const bbox = () => bboxOf(map);

const layers = {
  grids: {
    on: true,
    options: {
      pane: 'grids',
      style: {className: 'gl-grid'},
      onEachFeature: (feature, layer) => layer.bindPopup(() => gridPopup(feature.properties)),
    },
    url: () => withParams(config.api.grids, {in_bbox: bbox(), page_size: PAGE_SIZE}),
  },
  streets: {
    on: false,
    options: areaLayerOptions('street', 'streets'),
    url: () => withParams(config.api.areas, {level: 'street', in_bbox: bbox(), page_size: PAGE_SIZE}),
  },
  communities: {
    on: false,
    options: areaLayerOptions('community', 'communities'),
    url: () => withParams(config.api.areas, {level: 'community', in_bbox: bbox(), page_size: PAGE_SIZE}),
  },
  stations: {
    on: true,
    options: {
      pointToLayer: (feature, latlng) => L.marker(latlng, {
        icon: stationIcon, title: feature.properties.name, alt: feature.properties.name,
      }),
      onEachFeature: (feature, layer) => layer.bindPopup(() => stationPopup(feature.properties)),
    },
    url: () => {
      const centre = map.getCenter().wrap();
      return withParams(config.api.stationsNearest, {
        lon: centre.lng.toFixed(6), lat: centre.lat.toFixed(6), limit: STATIONS_NEAREST,
      });
    },
  },
  incidents: {
    on: config.authenticated,
    options: {
      // Coloured by deadline level: green on time, yellow nearing the deadline, red overdue.
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, {
        pane: 'incidents', radius: 7,
        className: 'gl-incident gl-status-' + safeClass(feature.properties.status)
          + ' gl-warning-' + (warningOf(feature.properties) || 'none'),
      }),
      onEachFeature: (feature, layer) => layer.bindPopup(() => incidentPopup(feature.properties)),
    },
    url: () => withParams(config.api.incidents, {in_bbox: bbox(), page_size: PAGE_SIZE}),
  },
};

const control = L.control.layers(null, null, {collapsed: window.matchMedia('(max-width: 640px)').matches});
for (const [name, def] of Object.entries(layers)) {
  def.name = name;
  def.group = L.layerGroup();
  def.byId = new Map(); // feature id -> {json, layer}
  def.controller = null;
  def.group.gridlineName = name;
  if (name === 'incidents' && !config.authenticated) {
    continue; // anonymous users have no incidents layer; the header offers the login link
  }
  control.addOverlay(def.group,
    '<span class="swatch swatch-' + escapeHtml(name) + '" aria-hidden="true"></span>' + escapeHtml(strings[name]));
  if (def.on) {
    def.group.addTo(map);
  }
}
control.addTo(map);

// The legend of incident colours, shown while the incidents layer is.
const legend = L.control({position: 'bottomright'});
legend.onAdd = () => {
  const root = L.DomUtil.create('div', 'gl-legend leaflet-bar');
  root.setAttribute('role', 'group');
  root.setAttribute('aria-label', strings.warningLegend);
  const title = document.createElement('strong');
  title.textContent = strings.warningLegend;
  root.append(title);
  for (const level of WARNINGS) {
    const row = document.createElement('div');
    row.className = 'gl-legend-row';
    const swatch = document.createElement('span');
    swatch.className = 'swatch swatch-warning gl-warning-' + level;
    swatch.setAttribute('aria-hidden', 'true');
    row.append(swatch, strings['warning_' + level]);
    root.append(row);
  }
  return root;
};
let legendShown = false;
function showLegend(on) {
  if (on !== legendShown) {
    if (on) {
      legend.addTo(map);
    } else {
      legend.remove();
    }
    legendShown = on;
  }
}
if (layers.incidents.on && config.authenticated) {
  showLegend(true);
}

function withoutIncidents() {
  const def = layers.incidents;
  map.removeLayer(def.group);
  control.removeLayer(def.group);
  showLegend(false);
  const link = document.createElement('a');
  link.href = config.loginUrl;
  link.textContent = strings.loginForIncidents;
  setNotice('incidents', link);
}

let ready = false; // the map has its first view: bounds and centre exist

async function load(def) {
  if (!ready || !map.hasLayer(def.group)) {
    return;
  }
  if (def.controller) {
    def.controller.abort();
  }
  const controller = new AbortController();
  def.controller = controller;
  pending += 1;
  renderStatus();
  try {
    const {features, truncated} = await fetchFeatures(def.url(), controller.signal);
    if (controller.signal.aborted) {
      return;
    }
    updateGroup(def, features);
    setNotice(def.name, truncated ? fmt(strings.truncated, strings[def.name]) : null);
  } catch (error) {
    if (error.name === 'AbortError') {
      return;
    }
    if (def.name === 'incidents' && (error.status === 401 || error.status === 403)) {
      withoutIncidents(); // logged out meanwhile, or no right to see incidents: quietly no layer
      return;
    }
    setNotice(def.name, fmt(strings.loadFailed, strings[def.name]));
  } finally {
    if (def.controller === controller) {
      def.controller = null;
    }
    pending -= 1;
    renderStatus();
  }
}

function layerOf(group) {
  return layers[group.gridlineName];
}

let reloadTimer = null;
function reloadAll() {
  window.clearTimeout(reloadTimer);
  reloadTimer = window.setTimeout(() => Object.values(layers).forEach(load), RELOAD_DELAY_MS);
}

map.on('overlayadd', (event) => {
  const def = layerOf(event.layer);
  if (def) {
    load(def);
  }
  if (def === layers.incidents) {
    showLegend(true);
  }
});
map.on('overlayremove', (event) => {
  const def = layerOf(event.layer);
  if (def && def.controller) {
    def.controller.abort();
  }
  if (def === layers.incidents) {
    showLegend(false);
  }
  if (def) {
    setNotice(def.name, null);
  }
});

async function start() {
  await openView(map, config.api.areas, async (url) => (await fetchFeatures(url)).features);
  map.on('moveend', () => {
    rememberView(map);
    reloadAll();
  });
  ready = true;
  rememberView(map);
  Object.values(layers).forEach(load);
}

start();
