/* The console's settings, strings and constants, and its requests to the API. */
import {choiceLabels, csrfToken, HttpError, pageConfig, pageStrings, timeFormatter} from '../common.js';

export const config = pageConfig('console-config');
export const strings = pageStrings('#console-i18n');

export const MARKER_CAP = 500; // incidents drawn per view: the newest ones past it (a bounded sample)
export const LIST_PAGE = 50;
export const GEOJSON_MAX = 1500; // a registry layer with more rows in view comes as vector tiles
export const BOUNDARY_MAX = 1000;
export const POLL_MS = 4000; // new and changed incidents show within POLL_MS plus one request
export const POLL_OVERLAP_MS = 15000; // re-ask a little of the past: a row may commit after a later one was seen
export const FULL_RELOAD_MS = 60000; // warning levels move with the clock, without a change to the row
export const RELOAD_DELAY_MS = 200;
export const NOTE_REQUIRED = new Set(['reject', 'reopen', 'decline']);
const SAFE = /[^a-z0-9_-]/gi;

// ---- helpers ---------------------------------------------------------------------------------------------------

export const fill = (template, values) => template.replace(/\{(\w+)\}/g,
  (whole, key) => (key in values ? encodeURIComponent(values[key]) : whole));
export const safeClass = (code) => String(code).replace(SAFE, '');
export const label = choiceLabels(config.choices);
export const formatTime = timeFormatter(config.timeZone);
export const localDate = new Intl.DateTimeFormat('en-CA', {
  timeZone: config.timeZone, year: 'numeric', month: '2-digit', day: '2-digit',
});

export async function request(url, options) {
  const {method = 'GET', body, signal} = options || {};
  const headers = {Accept: 'application/json'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['X-CSRFToken'] = csrfToken(config.csrfCookieName, config.csrfToken);
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

export async function getJson(url, signal) {
  return (await request(url, {signal: signal})).data;
}

// The messages of a DRF error body: {"detail": …} or {"field": ["…"]}.
export function errorText(body) {
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
