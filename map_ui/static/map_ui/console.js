/* Gridline dispatcher console: one map with the layer registry, the incidents in view, their list and the incident
 * panel, all drawn from the /api/v1/ endpoints and the vector tiles.
 *
 * How it stays responsive with 100,000 incidents: it never asks for all of them. Markers are the newest
 * MARKER_CAP incidents in the view that match the filters (one request, in_bbox + page_size); where the view holds
 * more, that bounded sample is what the clusters and the heatmap draw, and the panel says "newest N of M" with the
 * exact count in view from the same answer. The list beside the map is paged by the server (in_bbox, LIST_PAGE
 * rows a page). Registry layers with more than GEOJSON_MAX rows in view come as vector tiles, smaller ones as
 * GeoJSON. New and changed incidents arrive by polling ?modified_since= every POLL_MS and are merged by id.
 *
 * <body data-ready="true"> is set once the layer panel, the default layers (GeoJSON drawn, vector tiles loaded),
 * the first incident markers and the first list page are drawn: the benchmark's "full render".
 *
 * Its parts are the ES modules in console/, one for each part of the page; view.js starts it.
 */
import {start} from './console/view.js';

start();
