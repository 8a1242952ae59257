/* The network line, and the report's location: the phone's position or a pin placed by hand. */
/* global L */
import {fmt} from '../common.js';
import {$, config, LAST_FIX_KEY, readJson, strings, writeJson} from './context.js';
import {draftSoon} from './draft.js';
import {setFieldErrors} from './fields.js';

// ---- network line --------------------------------------------------------------------------------

export function renderNetwork() {
  const online = navigator.onLine;
  const node = $('network');
  node.textContent = online ? strings.online : strings.offline;
  node.classList.toggle('offline', !online);
}

// ---- the form: location --------------------------------------------------------------------------

export const form = {
  lon: null, lat: null, accuracy: null, manual: false, // manual: the pin was placed by hand
  photos: [], // {name, type, blob, url}
  editing: null, // {client_uuid, created_at, revision} of a failed report being fixed
};
let lastFix = null;

const lastKnown = readJson(LAST_FIX_KEY);
const map = L.map('pin-map', {zoomControl: true, attributionControl: Boolean(config.tileAttribution)})
  .setView(lastKnown ? [lastKnown.lat, lastKnown.lon] : [35.0, 105.0], lastKnown ? 16 : 4);
if (config.tileUrl) {
  L.tileLayer(config.tileUrl, {maxZoom: 19, attribution: config.tileAttribution || ''}).addTo(map);
}
const pinIcon = L.divIcon({className: 'gl-pin', html: '<span></span>', iconSize: [44, 44], iconAnchor: [22, 41]});
let pin = null;
let accuracyCircle = null;

export function renderLocation() {
  const text = $('location-text');
  if (form.lat === null) {
    text.textContent = lastFix === false ? strings.noLocation : strings.locating;
    return;
  }
  let line = form.lat.toFixed(6) + ', ' + form.lon.toFixed(6);
  if (form.manual) {
    line += ' (' + strings.pinMoved + ')';
  } else if (form.accuracy) {
    line += ' ' + fmt(strings.accuracy, Math.round(form.accuracy));
  }
  text.textContent = line;
}

export function setLocation(lon, lat, accuracy, manual, recentre) {
  form.lon = lon;
  form.lat = lat;
  form.accuracy = accuracy;
  form.manual = manual;
  const latlng = [lat, lon];
  if (!pin) {
    pin = L.marker(latlng, {draggable: true, icon: pinIcon, autoPan: true}).addTo(map);
    pin.on('dragend', () => {
      const at = pin.getLatLng();
      setLocation(at.lng, at.lat, null, true, false);
      draftSoon(0);
    });
  } else {
    pin.setLatLng(latlng);
  }
  if (accuracy && !manual) {
    if (!accuracyCircle) {
      accuracyCircle = L.circle(latlng, {radius: accuracy, className: 'gl-accuracy', interactive: false}).addTo(map);
    }
    accuracyCircle.setLatLng(latlng).setRadius(accuracy);
  } else if (accuracyCircle) {
    accuracyCircle.remove();
    accuracyCircle = null;
  }
  if (recentre) {
    map.setView(latlng, Math.max(map.getZoom(), 17));
  } else if (!map.getBounds().contains(latlng)) {
    map.panTo(latlng); // the phone moved out of view
  }
  setFieldErrors('location', []);
  renderLocation();
}

function clearLocation() {
  form.lon = form.lat = form.accuracy = null;
  form.manual = false;
  if (pin) {
    pin.remove();
    pin = null;
  }
  if (accuracyCircle) {
    accuracyCircle.remove();
    accuracyCircle = null;
  }
  renderLocation();
}

export function useFix(recentre) {
  if (lastFix) {
    setLocation(lastFix.lon, lastFix.lat, lastFix.accuracy, false, recentre);
  } else {
    clearLocation();
  }
}

export function startLocating() {
  if (!navigator.geolocation) {
    lastFix = false;
    renderLocation();
    return;
  }
  let first = true;
  // Browsers give WGS 84 coordinates: the reports say crs "wgs84".
  navigator.geolocation.watchPosition((position) => {
    lastFix = {lon: position.coords.longitude, lat: position.coords.latitude, accuracy: position.coords.accuracy};
    writeJson(LAST_FIX_KEY, {lon: lastFix.lon, lat: lastFix.lat});
    if (!form.manual) {
      setLocation(lastFix.lon, lastFix.lat, lastFix.accuracy, false, first);
      first = false;
    }
  }, () => {
    if (!lastFix) {
      lastFix = false;
      renderLocation();
    }
  }, {enableHighAccuracy: true, maximumAge: 10000, timeout: 30000});
}

map.on('click', (event) => {
  setLocation(event.latlng.lng, event.latlng.lat, null, true, false);
  draftSoon(0);
});
$('locate').addEventListener('click', () => {
  form.manual = false;
  useFix(true);
  if (!lastFix) {
    startLocating();
  }
  draftSoon(0);
});
