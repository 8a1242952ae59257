/* The incidents in view: markers (clustered or not), the heatmap, their options in the layer panel, and their
 * loading (the newest MARKER_CAP that match the filters). */
/* global L */
import {el, escapeHtml, fmt, withParams} from '../common.js';
import {WARNINGS} from '../basemap.js';
import {config, MARKER_CAP, POLL_OVERLAP_MS, request, safeClass, strings} from './context.js';
import {filterParams} from './filters.js';
import {setCount} from './layers.js';
import {list, renderListFromMarkers} from './list.js';
import {bbox, map} from './map.js';
import {openIncident} from './panel.js';
import {done, handleReadError, setNotice, tracked} from './status.js';

// ---- incidents: markers, clusters, heatmap -------------------------------------------------------------------------

export const incidents = {
  name: 'incidents', kind: 'incidents', title: strings.incidents, on: true, cluster: true, heat: false,
  clusterGroup: L.markerClusterGroup({
    maxClusterRadius: 45, disableClusteringAtZoom: 16, chunkedLoading: true, showCoverageOnHover: false,
    iconCreateFunction: (cluster) => {
      const children = cluster.getAllChildMarkers();
      const worst = children.some((m) => m.options.warning === 'red') ? 'red'
        : children.some((m) => m.options.warning === 'yellow') ? 'yellow' : 'green';
      const n = cluster.getChildCount();
      return L.divIcon({html: '<span>' + escapeHtml(n) + '</span>', className: 'gl-cluster gl-warning-' + worst,
        iconSize: L.point(34, 34)});
    },
  }),
  plainGroup: L.featureGroup(),
  heatLayer: null,
  byId: new Map(), // id -> {feature, json, marker}
  count: null, truncated: false, controller: null, loadedOnce: false,
};
export const warningOf = (p) => (WARNINGS.includes(p.warning) ? p.warning : 'green');
// GeoJSON features of the incident endpoints carry the id beside the properties, not among them.
export function norm(feature) {
  if (feature.properties.id === undefined) {
    feature.properties.id = feature.id;
  }
  return feature;
}
export const container = () => (incidents.cluster ? incidents.clusterGroup : incidents.plainGroup);

export let selectedId = null;

// The incident open in the panel, marked on the map and in the list.
export function select(id) {
  selectedId = id;
  document.querySelectorAll('.gl-inc.selected, .incident-list li.selected').forEach((n) => {
    n.classList.remove('selected');
  });
  if (id !== null) {
    document.querySelectorAll('.gl-inc[data-id="' + id + '"], .incident-list li[data-id="' + id + '"]')
      .forEach((n) => n.classList.add('selected'));
  }
}

function incidentIcon(p) {
  return L.divIcon({
    className: 'gl-inc gl-warning-' + warningOf(p) + ' gl-status-' + safeClass(p.status)
      + (p.id === selectedId ? ' selected' : ''),
    iconSize: [16, 16],
  });
}

function makeMarker(feature) {
  const p = feature.properties;
  const [lon, lat] = feature.geometry.coordinates;
  const marker = L.marker([lat, lon], {
    icon: incidentIcon(p), title: '#' + p.id + ' ' + (p.category_name || p.category), warning: warningOf(p),
    keyboard: true, riseOnHover: true,
  });
  marker.on('add', () => {
    const node = marker.getElement();
    if (node) {
      node.dataset.id = String(p.id);
    }
  });
  marker.on('click', () => openIncident(p.id));
  return marker;
}

export function incidentKey(feature) {
  const p = feature.properties;
  return [feature.geometry.coordinates.join(','), p.status, warningOf(p), p.version, p.modified,
    p.category, p.assignee].join('|');
}

// Add or update one incident's marker; returns true if it was new.
export function upsertIncident(feature) {
  const id = feature.properties.id;
  const key = incidentKey(feature);
  const known = incidents.byId.get(id);
  if (known && known.key === key) {
    known.feature = feature;
    return false;
  }
  if (known) {
    container().removeLayer(known.marker);
  }
  const marker = makeMarker(feature);
  incidents.byId.set(id, {feature: feature, key: key, marker: marker});
  container().addLayer(marker);
  return !known;
}

export function removeIncident(id) {
  const known = incidents.byId.get(id);
  if (known) {
    container().removeLayer(known.marker);
    incidents.byId.delete(id);
  }
}

function replaceIncidents(features) {
  features.forEach(norm);
  const seen = new Set(features.map((f) => f.properties.id));
  const stale = [];
  for (const [id, known] of incidents.byId) {
    if (!seen.has(id)) {
      stale.push(known.marker);
      incidents.byId.delete(id);
    }
  }
  if (incidents.cluster) {
    incidents.clusterGroup.removeLayers(stale);
  } else {
    stale.forEach((m) => incidents.plainGroup.removeLayer(m));
  }
  const fresh = [];
  for (const feature of features) {
    const id = feature.properties.id;
    const key = incidentKey(feature);
    const known = incidents.byId.get(id);
    if (known && known.key === key) {
      known.feature = feature;
      continue;
    }
    if (known) {
      container().removeLayer(known.marker);
    }
    const marker = makeMarker(feature);
    incidents.byId.set(id, {feature: feature, key: key, marker: marker});
    fresh.push(marker);
  }
  if (incidents.cluster) {
    incidents.clusterGroup.addLayers(fresh); // in one go: re-clustering once, not per marker
  } else {
    fresh.forEach((m) => incidents.plainGroup.addLayer(m));
  }
  refreshHeat();
}

export function refreshHeat() {
  if (!incidents.heat || !incidents.heatLayer) {
    return;
  }
  const weight = {green: 0.4, yellow: 0.7, red: 1};
  incidents.heatLayer.setLatLngs([...incidents.byId.values()].map(({feature}) => {
    const [lon, lat] = feature.geometry.coordinates;
    return [lat, lon, weight[warningOf(feature.properties)]];
  }));
}

export function showIncidents(on) {
  for (const layer of [container(), incidents.heatLayer]) {
    if (layer && on && !(layer === incidents.heatLayer && !incidents.heat)) {
      layer.addTo(map);
    } else if (layer && map.hasLayer(layer)) {
      map.removeLayer(layer);
    }
  }
  if (on) {
    loadIncidents();
  }
}

export function incidentOptions() {
  const cluster = el('input', {type: 'checkbox', name: 'cluster'});
  cluster.checked = incidents.cluster;
  cluster.addEventListener('change', () => {
    const before = container();
    const markers = [...incidents.byId.values()].map((k) => k.marker);
    if (map.hasLayer(before)) {
      map.removeLayer(before);
    }
    before.clearLayers();
    incidents.cluster = cluster.checked;
    const after = container();
    if (incidents.cluster) {
      after.addLayers(markers);
    } else {
      markers.forEach((m) => after.addLayer(m));
    }
    if (incidents.on) {
      after.addTo(map);
    }
  });
  const heat = el('input', {type: 'checkbox', name: 'heatmap'});
  heat.addEventListener('change', () => {
    incidents.heat = heat.checked;
    if (!incidents.heatLayer) {
      incidents.heatLayer = L.heatLayer([], {pane: 'heat', radius: 20, blur: 16, maxZoom: 16});
    }
    if (incidents.heat && incidents.on) {
      incidents.heatLayer.addTo(map);
      refreshHeat();
    } else if (map.hasLayer(incidents.heatLayer)) {
      map.removeLayer(incidents.heatLayer);
    }
  });
  const legend = el('div', {class: 'gl-legend-rows', role: 'group', 'aria-label': strings.warningLegend},
    WARNINGS.map((level) => el('span', {class: 'gl-legend-row'},
      el('span', {class: 'swatch swatch-warning gl-warning-' + level, 'aria-hidden': 'true'}),
      strings['warning_' + level])));
  return el('div', {class: 'layer-options'},
    el('label', {}, cluster, strings.cluster), el('label', {}, heat, strings.heatmap), legend);
}

// ---- loading the incidents in view -------------------------------------------------------------------------------

export let lastSeen = null; // the server's clock (ms) when it last answered about incidents

export function noteServerTime(response) {
  const date = Date.parse(response.headers.get('Date') || '');
  const now = Number.isNaN(date) ? Date.now() : date;
  lastSeen = lastSeen === null ? now : Math.max(lastSeen, now);
}

export async function loadIncidents() {
  if (!incidents.on) {
    done('incidents');
    return;
  }
  if (incidents.controller) {
    incidents.controller.abort();
  }
  const controller = new AbortController();
  incidents.controller = controller;
  const url = withParams(config.api.incidents, {in_bbox: bbox(), page_size: MARKER_CAP, ...filterParams()});
  try {
    const {data, response} = await tracked(request(url, {signal: controller.signal}));
    if (controller.signal.aborted) {
      return;
    }
    noteServerTime(response);
    incidents.loadedServer = lastSeen - POLL_OVERLAP_MS;
    replaceIncidents(data.features || []);
    incidents.truncated = Boolean(data.next);
    setCount(incidents, data.count);
    incidents.row && (incidents.row.dataset.drawn = String(incidents.byId.size));
    setNotice('incidents', incidents.truncated
      ? fmt(strings.sample, {shown: incidents.byId.size.toLocaleString(), count: data.count.toLocaleString()})
      : null);
    incidents.loadedOnce = true;
    incidents.loadedAt = Date.now();
    if (list.page === 1) {
      renderListFromMarkers();
    }
  } catch (error) {
    await handleReadError(error, 'incidents');
  } finally {
    if (incidents.controller === controller) {
      incidents.controller = null;
    }
    done('incidents');
  }
}
