/* What the one map (map.js) and the dispatcher console (console.js) draw alike: the Leaflet map with its basemap,
 * scale and panes, the view's bbox, GeoJSON groups updated by feature id, popups, the deadline levels, and where
 * the map opens (the view in the URL, else the whole territory).
 */
/* global L */
import {el, withParams} from './common.js';

// The deadline levels, in the order of the legend; colours in map.css (.gl-warning-*).
export const WARNINGS = ['green', 'yellow', 'red'];

// `panes`: [name, z-index] pairs, bottom to top.
export function baseMap(element, config, panes, options) {
  const map = L.map(element, {zoomControl: true, ...options});
  if (config.tileUrl) {
    // Tiles that fail to load stay hidden (Leaflet shows only loaded tiles): the vectors remain visible.
    L.tileLayer(config.tileUrl, {attribution: config.tileAttribution, maxZoom: 19}).addTo(map);
  } else {
    map.getContainer().classList.add('no-basemap');
  }
  L.control.scale({imperial: false}).addTo(map);
  panes.forEach(([pane, z]) => {
    map.createPane(pane).style.zIndex = String(z);
  });
  return map;
}

export function bboxOf(map) {
  const b = map.getBounds();
  const clamp = (v, limit) => Math.max(-limit, Math.min(limit, v)).toFixed(6);
  return [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)]
    .join(',');
}

// A popup's content as nodes: a title and the rows that have a value.
export function popup(title, rows) {
  return el('div', {class: 'gl-popup'}, el('h3', {}, title), el('dl', {}, rows
    .filter(([, value]) => value !== null && value !== undefined && value !== '')
    .map(([term, value]) => [el('dt', {}, term), el('dd', {}, String(value))])));
}

// Replace a GeoJSON group's features, keeping the Leaflet layers of unchanged ones (an open popup stays).
// `def` holds the group, its options and byId (feature id -> {json, layer}).
export function updateGroup(def, features) {
  const seen = new Set();
  for (const feature of features) {
    const id = feature.id !== undefined ? feature.id : (feature.properties || {}).id;
    const json = JSON.stringify(feature);
    seen.add(id);
    const known = def.byId.get(id);
    if (known && known.json === json) {
      continue;
    }
    if (known) {
      def.group.removeLayer(known.layer);
    }
    const layer = L.geoJSON(feature, def.options);
    def.group.addLayer(layer);
    def.byId.set(id, {json: json, layer: layer});
  }
  for (const [id, known] of def.byId) {
    if (!seen.has(id)) {
      def.group.removeLayer(known.layer);
      def.byId.delete(id);
    }
  }
}

export function rememberView(map) {
  const c = map.getCenter();
  window.history.replaceState(null, '', '#' + map.getZoom() + '/' + c.lat.toFixed(5) + '/' + c.lng.toFixed(5));
}

// Where the map opens: the view in the URL (#zoom/lat/lon), else the whole territory: the areas of the highest level
// that has any, as `areaFeatures(url)` fetches them.
export async function openView(map, areasUrl, areaFeatures) {
  const hash = /^#(\d{1,2})\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/.exec(window.location.hash);
  if (hash) {
    map.setView([Number(hash[2]), Number(hash[3])], Number(hash[1]));
    return;
  }
  for (const level of ['county', 'street', 'community']) {
    try {
      const features = await areaFeatures(withParams(areasUrl, {level: level, page_size: 50}));
      if (features.length) {
        map.fitBounds(L.geoJSON(features).getBounds());
        return;
      }
    } catch (error) {
      // try the next level; the fallback below shows at least something
    }
  }
  map.setView([35, 104], 4);
}
