/* The layer panel: the boundaries (grids, streets, communities) and the layers of the registry, drawn as GeoJSON or,
 * past GEOJSON_MAX rows in view, as vector tiles. */
/* global L */
import {el, fmt, withParams} from '../common.js';
import {popup, updateGroup} from '../basemap.js';
import {BOUNDARY_MAX, config, fill, GEOJSON_MAX, getJson, label, safeClass, strings} from './context.js';
import {incidentOptions, incidents, showIncidents} from './incidents.js';
import {bbox, map} from './map.js';
import {done, handleReadError, setNotice, tracked, waiting} from './status.js';

// ---- layers: boundaries and the registry ---------------------------------------------------------------------------

const layerList = document.getElementById('layer-list');
export const defs = new Map(); // name -> layer definition

function boundaryDef(name, on, url, options) {
  return {
    name: name, kind: 'boundary', title: strings[name], on: on, url: url, options: options,
    group: L.layerGroup(), byId: new Map(), count: null, controller: null,
  };
}

const areaPopup = (p) => popup(p.name, [[strings.code, p.code], [strings.level, label('areaLevel', String(p.level))],
  [strings.parent, p.parent]]);
defs.set('grids', boundaryDef('grids', true, () => config.api.grids, {
  pane: 'grids', style: {className: 'gl-grid'},
  onEachFeature: (f, layer) => layer.bindPopup(() => popup(f.properties.name, [[strings.code, f.properties.code],
    [strings.community, f.properties.community && f.properties.community.name],
    [strings.households, f.properties.households]])),
}));
defs.set('streets', boundaryDef('streets', false, () => withParams(config.api.areas, {level: 'street'}), {
  pane: 'streets', style: {className: 'gl-area gl-street'},
  onEachFeature: (f, layer) => layer.bindPopup(() => areaPopup(f.properties)),
}));
defs.set('communities', boundaryDef('communities', false, () => withParams(config.api.areas, {level: 'community'}), {
  pane: 'communities', style: {className: 'gl-area gl-community'},
  onEachFeature: (f, layer) => layer.bindPopup(() => areaPopup(f.properties)),
}));

function registryDef(layer) {
  const color = (layer.style && layer.style.color) || '#555';
  const radius = (layer.style && layer.style.radius) || 4;
  const featurePopup = (p) => popup(p.name || p.code || ('#' + p.id), layer.attributes
    .filter((a) => p[a.name] !== undefined && a.name !== 'id')
    .map((a) => [a.title, Array.isArray(p[a.name]) ? p[a.name].join('、') : p[a.name]]));
  return {
    name: layer.name, kind: 'registry', title: layer.title, group_name: layer.group, color: color,
    on: false, count: layer.count, mode: null, controller: null,
    group: L.layerGroup(), byId: new Map(), tiles: null, featurePopup: featurePopup,
    options: {
      pane: 'features',
      style: {className: 'gl-feature gl-feature-' + safeClass(layer.name), color: color, fillColor: color,
        weight: 1.5, fillOpacity: 0.55},
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, {
        pane: 'features', radius: radius, color: '#fff', weight: 1, fillColor: color, fillOpacity: 0.9,
        className: 'gl-feature gl-feature-' + safeClass(layer.name),
      }),
      onEachFeature: (feature, leaf) => leaf.bindPopup(() => featurePopup(feature.properties)),
    },
  };
}

function tilesOf(def) {
  if (!def.tiles) {
    const style = {radius: 3, weight: 1, color: '#fff', fill: true, fillColor: def.color, fillOpacity: 0.85,
      opacity: 0.8};
    def.tiles = L.vectorGrid.protobuf(fill(config.api.tiles, {layer: def.name}), {
      pane: 'features', interactive: true, rendererFactory: L.canvas.tile, maxNativeZoom: 22,
      vectorTileLayerStyles: {[def.name]: style},
      getFeatureId: (feature) => feature.properties.id,
    });
    def.tiles.on('click', (event) => {
      L.popup().setLatLng(event.latlng).setContent(def.featurePopup(event.layer.properties || {})).openOn(map);
    });
    def.tiles.on('load', () => {
      def.row.dataset.drawn = 'tiles';
      done('layer:' + def.name);
    });
  }
  return def.tiles;
}

export function setCount(def, count) {
  def.count = count;
  if (def.row) {
    def.row.dataset.count = count === null ? '' : String(count);
    def.countEl.textContent = count === null ? '' : Number(count).toLocaleString();
  }
}

function setMode(def, mode) {
  if (def.mode === mode) {
    return;
  }
  def.mode = mode;
  def.row.dataset.mode = mode || '';
  def.modeEl.hidden = mode !== 'tiles';
  if (mode !== 'tiles' && def.tiles && map.hasLayer(def.tiles)) {
    map.removeLayer(def.tiles);
  }
  if (mode !== 'geojson' && map.hasLayer(def.group)) {
    map.removeLayer(def.group);
    updateGroup(def, []);
  }
}

export async function loadDef(def) {
  if (def.controller) {
    def.controller.abort();
  }
  if (!def.on) {
    if (def.kind === 'registry') {
      setMode(def, null);
    } else if (map.hasLayer(def.group)) {
      map.removeLayer(def.group);
    }
    if (def.kind === 'boundary') {
      loadBoundaryCount(def);
    }
    return;
  }
  if (def.kind === 'registry' && def.count > GEOJSON_MAX) {
    setMode(def, 'tiles');
    const tiles = tilesOf(def);
    if (!map.hasLayer(tiles)) {
      tiles.addTo(map); // 'load' (all tiles of the view) marks it drawn
    } else {
      done('layer:' + def.name);
    }
    setNotice(def.name, null);
    return;
  }
  if (def.kind === 'registry') {
    setMode(def, 'geojson');
  }
  const controller = new AbortController();
  def.controller = controller;
  const url = def.kind === 'registry'
    ? withParams(fill(config.api.layerFeatures, {name: def.name}), {in_bbox: bbox(), page_size: GEOJSON_MAX})
    : withParams(def.url(), {in_bbox: bbox(), page_size: BOUNDARY_MAX});
  try {
    const page = await tracked(getJson(url, controller.signal));
    if (controller.signal.aborted || !def.on) {
      return;
    }
    if (!map.hasLayer(def.group)) {
      def.group.addTo(map);
    }
    updateGroup(def, page.features || []);
    if (def.row) { // (the first loads may finish before the panel is drawn: layerRow copies these)
      def.row.dataset.drawn = String(def.byId.size);
    }
    if (def.kind === 'boundary' || page.count !== undefined) {
      setCount(def, page.count !== undefined ? page.count : def.byId.size);
    }
    setNotice(def.name, page.next ? fmt(strings.truncated, def.title) : null);
  } catch (error) {
    await handleReadError(error, def.name, def.title);
  } finally {
    if (def.controller === controller) {
      def.controller = null;
    }
    done('layer:' + def.name);
  }
}

async function loadBoundaryCount(def) {
  try {
    const page = await getJson(withParams(def.url(), {in_bbox: bbox(), page_size: 1}));
    if (!def.on) {
      setCount(def, page.count);
    }
  } catch (error) {
    setCount(def, null);
  }
}

function layerRow(def, extra) {
  const checkbox = el('input', {type: 'checkbox', name: 'layer', value: def.name});
  checkbox.checked = def.on;
  def.countEl = el('span', {class: 'count', title: strings.countInView});
  def.modeEl = el('span', {class: 'mode', hidden: true}, strings.asTiles);
  const swatch = def.kind !== 'registry'
    ? el('span', {class: 'swatch swatch-' + def.name, 'aria-hidden': 'true'})
    : el('span', {class: 'swatch swatch-layer', style: 'background:' + (def.color || '#555'), 'aria-hidden': 'true'});
  def.row = el('div', {class: 'layer-row', dataset: {layer: def.name, kind: def.kind}},
    el('label', {}, checkbox, swatch, el('span', {class: 'title'}, def.title)), def.modeEl, def.countEl, extra);
  if (def.byId && def.byId.size) {
    def.row.dataset.drawn = String(def.byId.size);
  }
  setCount(def, def.count);
  checkbox.addEventListener('change', () => {
    def.on = checkbox.checked;
    if (def === incidents) {
      showIncidents(def.on);
    } else {
      loadDef(def);
    }
  });
  return def.row;
}

function groupSection(title, rows) {
  return el('section', {class: 'layer-group'}, el('h3', {}, title), rows);
}

let registryController = null;
let panelDrawn = false;

// The registry: the first time without a bbox (its total counts come at once and draw the panel), then with the
// view's bbox for the counts in view (slower: counted per layer within the view), which also pick each layer's mode.
export async function loadRegistry(inView) {
  if (registryController) {
    registryController.abort();
  }
  const controller = new AbortController();
  registryController = controller;
  let layers;
  try {
    const url = inView ? withParams(config.api.layers, {in_bbox: bbox()}) : config.api.layers;
    layers = await tracked(getJson(url, controller.signal));
  } catch (error) {
    await handleReadError(error, 'layers');
    if (!panelDrawn && error.name !== 'AbortError') {
      drawPanel([]);
    }
    return;
  }
  if (controller.signal.aborted) {
    return;
  }
  if (!panelDrawn) {
    drawPanel(layers);
  }
  for (const layer of layers) {
    const def = defs.get(layer.name);
    if (def === incidents) {
      if (incidents.count === null) {
        setCount(incidents, layer.count);
      }
    } else if (def) {
      setCount(def, layer.count);
      def.row.dataset.countScope = inView ? 'view' : 'total';
      if (inView || def.on) {
        loadDef(def);
      }
    }
  }
}

function drawPanel(layers) {
  panelDrawn = true;
  const rows = [];
  rows.push(groupSection(strings.boundaries, ['grids', 'streets', 'communities'].map((n) => layerRow(defs.get(n)))));
  const groups = new Map();
  for (const layer of layers) {
    if (!groups.has(layer.group)) {
      groups.set(layer.group, {title: layer.group_title, rows: []});
    }
    if (layer.name === 'incidents') {
      incidents.title = layer.title;
      defs.set('incidents', incidents);
      groups.get(layer.group).rows.push(layerRow(incidents, incidentOptions()));
      continue;
    }
    const def = registryDef(layer);
    defs.set(def.name, def);
    if (def.on) {
      waiting.add('layer:' + def.name);
    }
    groups.get(layer.group).rows.push(layerRow(def));
  }
  if (!defs.has('incidents')) { // no registry entry for this account: the incidents layer all the same
    defs.set('incidents', incidents);
    groups.set('events', {title: strings.incidents, rows: [layerRow(incidents, incidentOptions())]});
  }
  for (const group of groups.values()) {
    rows.push(groupSection(group.title, group.rows));
  }
  layerList.replaceChildren(...rows);
  layerList.dataset.drawn = 'true';
  setCount(incidents, incidents.count);
  done('panel');
}
