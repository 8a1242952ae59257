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
 */
/* global L */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('console-config').textContent);
  const strings = {};
  document.querySelectorAll('#console-i18n [data-key]').forEach((node) => {
    strings[node.dataset.key] = node.textContent.trim();
  });

  const WARNINGS = ['green', 'yellow', 'red'];
  const MARKER_CAP = 500; // incidents drawn per view: the newest ones past it (a bounded sample)
  const LIST_PAGE = 50;
  const GEOJSON_MAX = 1500; // a registry layer with more rows in view comes as vector tiles
  const BOUNDARY_MAX = 1000;
  const POLL_MS = 4000; // new and changed incidents show within POLL_MS plus one request
  const POLL_OVERLAP_MS = 15000; // re-ask a little of the past: a row may commit after a later one was seen
  const FULL_RELOAD_MS = 60000; // warning levels move with the clock, without a change to the row
  const RELOAD_DELAY_MS = 200;
  const NOTE_REQUIRED = new Set(['reject', 'reopen', 'decline']);
  const SAFE = /[^a-z0-9_-]/gi;
  const {escapeHtml, textNode} = window.Gridline;

  // ---- helpers ---------------------------------------------------------------------------------------------------

  function fmt(template, values) {
    if (typeof values !== 'object') {
      return template.replace('%s', values);
    }
    return template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) {
        continue;
      }
      if (key === 'class') {
        node.className = value;
      } else if (key === 'dataset') {
        Object.assign(node.dataset, value);
      } else if (key.startsWith('on')) {
        node.addEventListener(key.slice(2), value);
      } else {
        node.setAttribute(key, value === true ? '' : value);
      }
    }
    for (const child of children.flat(Infinity)) {
      if (child !== null && child !== undefined && child !== false) {
        node.append(child instanceof Node ? child : String(child));
      }
    }
    return node;
  }

  function withParams(path, params) {
    const url = new URL(path, window.location.href);
    for (const [key, value] of Object.entries(params)) {
      if (Array.isArray(value)) {
        value.forEach((v) => url.searchParams.append(key, v));
      } else if (value !== null && value !== undefined && value !== '') {
        url.searchParams.set(key, value);
      }
    }
    return url.pathname + url.search;
  }

  const fill = (template, values) => template.replace(/\{(\w+)\}/g,
    (whole, key) => (key in values ? encodeURIComponent(values[key]) : whole));
  const safeClass = (code) => String(code).replace(SAFE, '');
  const label = (group, code) => (config.choices[group] || {})[code] || code;
  const formatTime = (iso) => (iso ? new Date(iso).toLocaleString(document.documentElement.lang || undefined,
    {timeZone: config.timeZone, dateStyle: 'short', timeStyle: 'short'}) : '');
  const localDate = new Intl.DateTimeFormat('en-CA', {
    timeZone: config.timeZone, year: 'numeric', month: '2-digit', day: '2-digit',
  });

  class HttpError extends Error {
    constructor(status, body) {
      super('HTTP ' + status);
      this.status = status;
      this.body = body;
    }
  }

  function csrfToken() {
    const name = config.csrfCookieName + '=';
    // Read at every write: logging in again (in another tab) rotates the token.
    for (const part of document.cookie.split(';')) {
      const cookie = part.trim();
      if (cookie.startsWith(name)) {
        return decodeURIComponent(cookie.slice(name.length));
      }
    }
    return config.csrfToken;
  }

  async function request(url, options) {
    const {method = 'GET', body, signal} = options || {};
    const headers = {Accept: 'application/json'};
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['X-CSRFToken'] = csrfToken();
    }
    const response = await fetch(url, {
      method: method, credentials: 'same-origin', headers: headers, signal: signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    if ((response.headers.get('Content-Type') || '').includes('json')) {
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
    }
    if (!response.ok) {
      throw new HttpError(response.status, data);
    }
    return {data: data, response: response};
  }

  async function getJson(url, signal) {
    return (await request(url, {signal: signal})).data;
  }

  // The messages of a DRF error body: {"detail": …} or {"field": ["…"]}.
  function errorText(body) {
    if (!body) {
      return '';
    }
    if (typeof body === 'string') {
      return body;
    }
    if (body.detail) {
      return String(body.detail);
    }
    return Object.entries(body).map(([field, messages]) => field + ': ' + [].concat(messages).join(' ')).join('; ');
  }

  // ---- status line, session ----------------------------------------------------------------------------------------

  const statusEl = document.getElementById('console-status');
  let pending = 0;
  const notices = new Map();
  let liveText = '';

  function renderStatus() {
    const parts = [];
    if (pending > 0) {
      parts.push(strings.loading);
    }
    parts.push(...notices.values());
    if (liveText) {
      parts.push(liveText);
    }
    statusEl.textContent = parts.join(' · ');
    statusEl.classList.toggle('busy', pending > 0);
  }

  function setNotice(key, message) {
    if (message) {
      notices.set(key, message);
    } else {
      notices.delete(key);
    }
    renderStatus();
  }

  async function tracked(promise) {
    pending += 1;
    renderStatus();
    try {
      return await promise;
    } finally {
      pending -= 1;
      renderStatus();
    }
  }

  const banner = document.getElementById('session-banner');
  const loginLink = document.getElementById('session-login');
  loginLink.href = config.loginUrl;
  let sessionRetry = null;

  // A 401/403 means either that the session is gone or that the role may not do this: ask once to tell them apart.
  async function sessionAlive() {
    try {
      await getJson(withParams(config.api.incidents, {in_bbox: '0,0,0.000001,0.000001', page_size: 1}));
      return true;
    } catch (error) {
      return !(error.status === 401 || error.status === 403);
    }
  }

  function showSessionExpired(retry) {
    if (retry) {
      sessionRetry = retry;
    }
    banner.hidden = false;
  }

  document.getElementById('session-retry').addEventListener('click', () => {
    banner.hidden = true;
    const retry = sessionRetry;
    sessionRetry = null;
    reloadView();
    if (retry) {
      retry();
    }
  });

  async function handleReadError(error, what, title) {
    if (error.name === 'AbortError') {
      return;
    }
    if ((error.status === 401 || error.status === 403) && !(await sessionAlive())) {
      showSessionExpired(null);
      return;
    }
    setNotice(what, fmt(strings.loadFailed, title || strings[what] || what));
  }

  // ---- readiness (for the benchmark and the tests) ----------------------------------------------------------------

  const waiting = new Set(['panel', 'incidents', 'list', 'layer:grids']);
  function done(part) {
    waiting.delete(part);
    if (waiting.size === 0 && document.body.dataset.ready !== 'true') {
      document.body.dataset.ready = 'true';
      if (window.performance && performance.mark) {
        performance.mark('gridline-console-ready');
      }
      window.setTimeout(afterReady);
    }
  }

  // ---- the map ---------------------------------------------------------------------------------------------------

  // Leaflet.VectorGrid 1.3.0 calls L.DomEvent.fakeStop on canvas clicks, which Leaflet 1.9 no longer has.
  if (!L.DomEvent.fakeStop) {
    L.DomEvent.fakeStop = function () {
      return true;
    };
  }

  const mapEl = document.getElementById('map');
  const map = L.map(mapEl, {zoomControl: true, maxZoom: 19}); // markercluster needs a maxZoom, basemap or not
  if (config.tileUrl) {
    // Tiles that fail to load stay hidden (Leaflet shows only loaded tiles): the vectors remain visible.
    L.tileLayer(config.tileUrl, {attribution: config.tileAttribution, maxZoom: 19}).addTo(map);
  } else {
    mapEl.classList.add('no-basemap');
  }
  L.control.scale({imperial: false}).addTo(map);
  [['grids', 400], ['streets', 410], ['communities', 420], ['features', 430], ['heat', 440],
    ['candidates', 650]].forEach(([pane, z]) => {
    map.createPane(pane).style.zIndex = String(z);
  });
  window.gridlineConsole = {map: map};

  function bbox() {
    const b = map.getBounds();
    const clamp = (v, limit) => Math.max(-limit, Math.min(limit, v)).toFixed(6);
    return [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)]
      .join(',');
  }

  function popup(title, rows) {
    return el('div', {class: 'gl-popup'}, el('h3', {}, title), el('dl', {}, rows
      .filter(([, value]) => value !== null && value !== undefined && value !== '')
      .map(([term, value]) => [el('dt', {}, term), el('dd', {}, String(value))])));
  }

  // ---- layers: boundaries and the registry ---------------------------------------------------------------------------

  const layerList = document.getElementById('layer-list');
  const defs = new Map(); // name -> layer definition

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

  // Replace a GeoJSON group's features, keeping the Leaflet layers of unchanged ones (an open popup stays).
  function updateGroup(def, features) {
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

  function setCount(def, count) {
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

  async function loadDef(def) {
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
  async function loadRegistry(inView) {
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

  // ---- incidents: markers, clusters, heatmap -------------------------------------------------------------------------

  const incidents = {
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
  const warningOf = (p) => (WARNINGS.includes(p.warning) ? p.warning : 'green');
  // GeoJSON features of the incident endpoints carry the id beside the properties, not among them.
  function norm(feature) {
    if (feature.properties.id === undefined) {
      feature.properties.id = feature.id;
    }
    return feature;
  }
  const container = () => (incidents.cluster ? incidents.clusterGroup : incidents.plainGroup);

  let selectedId = null;

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

  function incidentKey(feature) {
    const p = feature.properties;
    return [feature.geometry.coordinates.join(','), p.status, warningOf(p), p.version, p.modified,
      p.category, p.assignee].join('|');
  }

  // Add or update one incident's marker; returns true if it was new.
  function upsertIncident(feature) {
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

  function removeIncident(id) {
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

  function refreshHeat() {
    if (!incidents.heat || !incidents.heatLayer) {
      return;
    }
    const weight = {green: 0.4, yellow: 0.7, red: 1};
    incidents.heatLayer.setLatLngs([...incidents.byId.values()].map(({feature}) => {
      const [lon, lat] = feature.geometry.coordinates;
      return [lat, lon, weight[warningOf(feature.properties)]];
    }));
  }

  function showIncidents(on) {
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

  function incidentOptions() {
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

  // ---- filters ----------------------------------------------------------------------------------------------------

  const filterForm = document.getElementById('incident-filters');

  function nextDay(date) {
    const [y, m, d] = date.split('-').map(Number);
    return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
  }

  function filterValues() {
    const form = new FormData(filterForm);
    return {
      category: form.get('category') || '', status: form.get('status') || '', warning: form.get('warning') || '',
      area: form.get('area') || '', from: form.get('created_from') || '', to: form.get('created_to') || '',
    };
  }

  // The API's query for the filters. Dates are days in the server's zone: sent without an offset, which the API
  // reads in that zone (settings.TIME_ZONE).
  function filterParams() {
    const f = filterValues();
    return {
      category: f.category,
      status: f.status === 'open' ? config.choices.openStatuses : f.status,
      warning: f.warning,
      area: f.area,
      created_from: f.from ? f.from + 'T00:00:00' : '',
      created_to: f.to ? nextDay(f.to) + 'T00:00:00' : '',
    };
  }

  // The same filters applied to one incident, for the rows that polling brings (it asks without filters, so that an
  // incident that stops matching is seen and removed).
  function matchesFilters(p) {
    const f = filterValues();
    const open = config.choices.openStatuses.includes(p.status);
    if (f.category && p.category !== f.category) {
      return false;
    }
    if (f.status && (f.status === 'open' ? !open : p.status !== f.status)) {
      return false;
    }
    if (f.warning && (!open || warningOf(p) !== f.warning)) {
      return false;
    }
    if (f.area && ![p.community, p.street, p.county].some((a) => a && a.code === f.area)) {
      return false;
    }
    const day = localDate.format(new Date(p.created));
    if ((f.from && day < f.from) || (f.to && day > f.to)) {
      return false;
    }
    return true;
  }

  function fillFilterChoices() {
    const status = filterForm.elements.status;
    for (const [code, name] of Object.entries(config.choices.incidentStatus)) {
      status.append(el('option', {value: code}, name));
    }
    const warning = filterForm.elements.warning;
    WARNINGS.forEach((level) => warning.append(el('option', {value: level}, strings['warning_' + level])));
  }

  async function loadCategories() {
    try {
      const categories = await getJson(config.api.categories);
      const select = filterForm.elements.category;
      categories.forEach((c) => select.append(el('option', {value: c.code}, c.name)));
    } catch (error) {
      // the filter offers "all" only; the map works without it
    }
  }

  async function loadAreaChoices() {
    const select = filterForm.elements.area;
    for (const level of ['street', 'community']) {
      try {
        const page = await getJson(withParams(config.api.areas, {level: level, page_size: 500}));
        const group = el('optgroup', {label: strings[level === 'street' ? 'streets' : 'communities']});
        page.features.forEach((f) => group.append(el('option', {value: f.properties.code},
          f.properties.name + ' (' + f.properties.code + ')')));
        select.append(group);
      } catch (error) {
        // as above
      }
    }
  }

  filterForm.addEventListener('change', () => {
    list.page = 1;
    loadIncidents();
    loadList();
  });
  filterForm.addEventListener('reset', () => window.setTimeout(() => filterForm.dispatchEvent(new Event('change'))));
  filterForm.addEventListener('submit', (event) => event.preventDefault());

  // ---- loading the incidents in view -------------------------------------------------------------------------------

  let lastSeen = null; // the server's clock (ms) when it last answered about incidents

  function noteServerTime(response) {
    const date = Date.parse(response.headers.get('Date') || '');
    const now = Number.isNaN(date) ? Date.now() : date;
    lastSeen = lastSeen === null ? now : Math.max(lastSeen, now);
  }

  async function loadIncidents() {
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

  // ---- the list beside the map -----------------------------------------------------------------------------------

  const listEl = document.getElementById('incident-list');
  const summaryEl = document.getElementById('list-summary');
  const prevBtn = document.getElementById('list-prev');
  const nextBtn = document.getElementById('list-next');
  const list = {page: 1, count: 0, rows: new Map(), controller: null};

  function listRow(feature) {
    const p = feature.properties;
    const where = [p.community && p.community.name, p.grid && p.grid.name].filter(Boolean).join(' · ');
    return el('li', {dataset: {id: String(p.id)}, class: p.id === selectedId ? 'selected' : null},
      el('button', {type: 'button', class: 'incident-row', onclick: () => openIncident(p.id)},
        el('span', {class: 'dot gl-warning-' + warningOf(p), title: strings['warning_' + warningOf(p)]}),
        el('span', {class: 'what'}, el('strong', {}, '#' + p.id + ' ' + (p.category_name || p.category)),
          el('span', {class: 'state'}, label('incidentStatus', p.status))),
        el('span', {class: 'muted'}, formatTime(p.created) + (where ? ' · ' + where : ''))));
  }

  function renderList(data) {
    (data.features || []).forEach(norm);
    list.count = data.count;
    list.rows.clear();
    const rows = (data.features || []).map((feature) => {
      const row = listRow(feature);
      list.rows.set(feature.properties.id, row);
      return row;
    });
    listEl.replaceChildren(...rows);
    const first = (list.page - 1) * LIST_PAGE + 1;
    summaryEl.textContent = data.count
      ? fmt(strings.listRange, {first: first, last: first + rows.length - 1, count: data.count.toLocaleString()})
      : strings.listEmpty;
    prevBtn.disabled = list.page <= 1;
    nextBtn.disabled = !data.next;
    listEl.dataset.page = String(list.page);
  }

  // Page 1 of the list is the newest LIST_PAGE of the markers (same view, filters and order as the API's): no request.
  function renderListFromMarkers() {
    const time = (f) => Date.parse(f.properties.created);
    const features = [...incidents.byId.values()].map((known) => known.feature)
      .sort((a, b) => (time(b) - time(a)) || (b.properties.id - a.properties.id));
    const count = Math.max(incidents.count || 0, features.length);
    renderList({count: count, features: features.slice(0, LIST_PAGE), next: count > LIST_PAGE});
    done('list');
  }

  async function loadList() {
    if (list.controller) {
      list.controller.abort();
    }
    if (list.page === 1 && incidents.on) {
      if (incidents.loadedOnce && !incidents.controller) {
        renderListFromMarkers();
      }
      return; // else loadIncidents() renders it when its answer comes
    }
    const controller = new AbortController();
    list.controller = controller;
    const url = withParams(config.api.incidents,
      {in_bbox: bbox(), page_size: LIST_PAGE, page: list.page, ...filterParams()});
    try {
      const data = await tracked(getJson(url, controller.signal));
      if (!controller.signal.aborted) {
        renderList(data);
      }
    } catch (error) {
      if (error.status === 404 && list.page > 1) { // fewer pages than before: back to the first
        list.page = 1;
        list.controller = null;
        loadList();
        return;
      }
      await handleReadError(error, 'incidents');
    } finally {
      if (list.controller === controller) {
        list.controller = null;
      }
      done('list');
    }
  }

  prevBtn.addEventListener('click', () => {
    list.page = Math.max(1, list.page - 1);
    loadList();
  });
  nextBtn.addEventListener('click', () => {
    list.page += 1;
    loadList();
  });

  // ---- polling: new and changed incidents -------------------------------------------------------------------------

  let polling = false;

  async function poll() {
    if (polling || lastSeen === null || !banner.hidden || incidents.controller) {
      return;
    }
    if (Date.now() - (incidents.loadedAt || 0) > FULL_RELOAD_MS) {
      loadIncidents();
      loadList();
      return;
    }
    polling = true;
    const since = new Date(lastSeen - POLL_OVERLAP_MS).toISOString();
    try {
      const url = withParams(config.api.incidents, {in_bbox: bbox(), modified_since: since, page_size: 500});
      const {data, response} = await request(url);
      noteServerTime(response);
      mergeChanges(data.features || []);
      liveText = fmt(strings.live, {time: new Date().toLocaleTimeString(document.documentElement.lang || undefined)});
      setNotice('poll', null);
    } catch (error) {
      if ((error.status === 401 || error.status === 403) && !(await sessionAlive())) {
        showSessionExpired(null);
      }
    } finally {
      polling = false;
    }
  }

  function mergeChanges(features) {
    features.forEach(norm);
    let changed = false;
    for (const feature of features) {
      const p = feature.properties;
      if (incidents.on && matchesFilters(p)) {
        const before = incidents.byId.get(p.id);
        if (!before || before.key !== incidentKey(feature)) {
          changed = true;
        }
        // new to the view (not only to the sample): counted in
        if (upsertIncident(feature) && (!incidents.truncated || Date.parse(p.created) >= incidents.loadedServer)) {
          setCount(incidents, (incidents.count || 0) + 1);
        }
      } else if (incidents.byId.has(p.id)) {
        removeIncident(p.id);
        changed = true;
        setCount(incidents, Math.max(0, (incidents.count || 1) - 1));
      }
      const row = list.rows.get(p.id);
      if (row && !(incidents.on && list.page === 1)) { // later pages are updated in place
        const fresh = listRow(feature);
        row.replaceWith(fresh);
        list.rows.set(p.id, fresh);
      }
      if (p.id === panel.id && panel.detail && p.version !== panel.detail.properties.version && !panel.busy) {
        refreshIncident();
      }
    }
    if (changed) {
      incidents.row && (incidents.row.dataset.drawn = String(incidents.byId.size));
      refreshHeat();
      if (list.page === 1) {
        renderListFromMarkers();
      }
    }
  }

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
  const panel = {id: null, detail: null, busy: false, drafts: new Map(), controller: null};
  const candidateLayer = L.layerGroup().addTo(map);

  function select(id) {
    selectedId = id;
    document.querySelectorAll('.gl-inc.selected, .incident-list li.selected').forEach((n) => {
      n.classList.remove('selected');
    });
    if (id !== null) {
      document.querySelectorAll('.gl-inc[data-id="' + id + '"], .incident-list li[data-id="' + id + '"]')
        .forEach((n) => n.classList.add('selected'));
    }
  }

  function say(message, kind) {
    messageEl.textContent = message || '';
    messageEl.dataset.kind = kind || '';
  }

  async function openIncident(id) {
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

  async function refreshIncident() {
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

  // ---- the view ---------------------------------------------------------------------------------------------------

  let reloadTimer = null;
  function reloadView(first) {
    mapEl.dataset.bbox = bbox();
    mapEl.dataset.zoom = String(map.getZoom());
    loadRegistry(first !== true);
    for (const def of defs.values()) {
      if (def.kind === 'boundary') {
        loadDef(def);
      }
    }
    list.page = 1;
    loadIncidents();
    loadList();
  }

  function afterReady() {
    loadRegistry(true); // counts in view
    loadAreaChoices();
  }

  function rememberView() {
    const c = map.getCenter();
    window.history.replaceState(null, '', '#' + map.getZoom() + '/' + c.lat.toFixed(5) + '/' + c.lng.toFixed(5));
  }

  async function fitTerritory() {
    for (const level of ['county', 'street', 'community']) {
      try {
        const page = await getJson(withParams(config.api.areas, {level: level, page_size: 50}));
        if (page.features.length) {
          map.fitBounds(L.geoJSON(page.features).getBounds());
          return;
        }
      } catch (error) {
        // try the next level; the fallback below shows at least something
      }
    }
    map.setView([35, 104], 4);
  }

  async function start() {
    fillFilterChoices();
    const categories = loadCategories();
    const hash = /^#(\d{1,2})\/(-?\d+(?:\.\d+)?)\/(-?\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (hash) {
      map.setView([Number(hash[2]), Number(hash[3])], Number(hash[1]));
    } else {
      await fitTerritory();
    }
    container().addTo(map);
    rememberView();
    reloadView(true);
    map.on('moveend', () => {
      rememberView();
      window.clearTimeout(reloadTimer);
      reloadTimer = window.setTimeout(reloadView, RELOAD_DELAY_MS);
    });
    window.setInterval(poll, POLL_MS);
    await categories;
  }

  start();
}());
