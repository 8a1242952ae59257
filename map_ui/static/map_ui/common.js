/* What every Gridline page script shares (an ES module): the one way text from the server reaches HTML, and the
 * small helpers for the page's settings, its strings, its requests and its DOM.
 *
 * Leaflet parses a string given to bindPopup, bindTooltip, setContent, divIcon({html}) and the layers
 * control as HTML. Names, notes and layer attributes come from users and imports, so a page script either
 * gives those calls DOM nodes (textContent, el) or builds the string with escapeHtml around every
 * value. tests/map_ui/test_escaping.py checks the page scripts for string arguments built without it.
 */

const ENTITIES = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;'};

// Safe in element content and in quoted attribute values alike, so one helper serves both.
export function escapeHtml(value) {
  if (value === null || value === undefined) {
    return '';
  }
  return String(value).replace(/[&<>"'`]/g, (c) => ENTITIES[c]);
}

// A text-only element for Leaflet's HTML-taking calls: the text is never parsed as markup.
export function textNode(tag, text, className) {
  const node = document.createElement(tag || 'span');
  if (className) {
    node.className = className;
  }
  node.textContent = text === null || text === undefined ? '' : String(text);
  return node;
}

// An element: `attrs` is a class name or an object of attributes (`class`, `dataset`, `on<event>` handlers, the
// rest set as they are; null, undefined and false left out); children are nodes or text, never markup.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  const attributes = typeof attrs === 'string' ? {class: attrs} : attrs || {};
  for (const [key, value] of Object.entries(attributes)) {
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

// A translated string filled in: `{name}` from one plain object of values, else %1, %2… in order and %s by the first.
export function fmt(template, ...values) {
  const [first] = values;
  const named = first !== null && typeof first === 'object' && Object.getPrototypeOf(first) === Object.prototype;
  if (values.length === 1 && named) {
    return template.replace(/\{(\w+)\}/g, (whole, key) => (key in first ? String(first[key]) : whole));
  }
  let text = template;
  values.forEach((value, i) => {
    text = text.replace('%' + (i + 1), value);
  });
  return values.length ? text.replace('%s', first) : text;
}

// The page's settings, which its view renders with json_script.
export function pageConfig(id) {
  return JSON.parse(document.getElementById(id).textContent);
}

// The page's strings, translated by its template: <span data-key="…">text</span> inside `selector`.
export function pageStrings(selector) {
  const strings = {};
  document.querySelectorAll(selector + ' [data-key]').forEach((node) => {
    strings[node.dataset.key] = node.textContent.trim();
  });
  return strings;
}

// The display name of a code the APIs return, from the page's `choices` (the code itself when unknown).
export function choiceLabels(choices) {
  return (group, code) => (choices[group] || {})[code] || code;
}

// Date and time, short, in the display time zone and the page's language; '' for no time.
export function timeFormatter(timeZone) {
  return (iso) => (iso ? new Date(iso).toLocaleString(document.documentElement.lang || undefined,
    {timeZone: timeZone, dateStyle: 'short', timeStyle: 'short'}) : '');
}

// A same-origin path with query parameters; arrays repeat the key, empty values are left out.
export function withParams(path, params) {
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

// The CSRF token, read at every write: logging in again (in another tab) rotates the one the page came with.
export function csrfToken(cookieName, fallback) {
  const name = cookieName + '=';
  for (const part of document.cookie.split(';')) {
    const cookie = part.trim();
    if (cookie.startsWith(name)) {
      return decodeURIComponent(cookie.slice(name.length));
    }
  }
  return fallback;
}

export class HttpError extends Error {
  constructor(status, body) {
    super('HTTP ' + status);
    this.status = status;
    this.body = body;
  }
}

export async function getJson(url, signal) {
  const response = await fetch(url, {
    credentials: 'same-origin', signal: signal, headers: {Accept: 'application/json'},
  });
  if (!response.ok) {
    throw new HttpError(response.status);
  }
  return response.json();
}

window.Gridline = Object.freeze({escapeHtml: escapeHtml, textNode: textNode});
