/* The console's Leaflet map and the view's bbox. */
/* global L */
import {baseMap, bboxOf} from '../basemap.js';
import {config} from './context.js';

// ---- the map ---------------------------------------------------------------------------------------------------

// Leaflet.VectorGrid 1.3.0 calls L.DomEvent.fakeStop on canvas clicks, which Leaflet 1.9 no longer has.
if (!L.DomEvent.fakeStop) {
  L.DomEvent.fakeStop = function () {
    return true;
  };
}

export const mapEl = document.getElementById('map');
export const map = baseMap(mapEl, config, [['grids', 400], ['streets', 410], ['communities', 420], ['features', 430],
  ['heat', 440], ['candidates', 650]], {maxZoom: 19}); // markercluster needs a maxZoom, basemap or not
// For the tests: the map whose layers they look into.
window.gridlineConsole = {map: map};

export const bbox = () => bboxOf(map);
