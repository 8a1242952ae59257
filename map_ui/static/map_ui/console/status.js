/* The status line above the map, the expired-session banner, and the moment the first full render is done. */
import {fmt, withParams} from '../common.js';
import {config, getJson, strings} from './context.js';
import {afterReady, reloadView} from './view.js';

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

// The "live" part of the line, which polling keeps fresh; shown at the next render.
export function setLiveText(text) {
  liveText = text;
}

export function setNotice(key, message) {
  if (message) {
    notices.set(key, message);
  } else {
    notices.delete(key);
  }
  renderStatus();
}

export async function tracked(promise) {
  pending += 1;
  renderStatus();
  try {
    return await promise;
  } finally {
    pending -= 1;
    renderStatus();
  }
}

export const banner = document.getElementById('session-banner');
const loginLink = document.getElementById('session-login');
loginLink.href = config.loginUrl;
let sessionRetry = null;

// A 401/403 means either that the session is gone or that the role may not do this: ask once to tell them apart.
export async function sessionAlive() {
  try {
    await getJson(withParams(config.api.incidents, {in_bbox: '0,0,0.000001,0.000001', page_size: 1}));
    return true;
  } catch (error) {
    return !(error.status === 401 || error.status === 403);
  }
}

export function showSessionExpired(retry) {
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

export async function handleReadError(error, what, title) {
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

export const waiting = new Set(['panel', 'incidents', 'list', 'layer:grids']);
export function done(part) {
  waiting.delete(part);
  if (waiting.size === 0 && document.body.dataset.ready !== 'true') {
    document.body.dataset.ready = 'true';
    if (window.performance && performance.mark) {
      performance.mark('gridline-console-ready');
    }
    window.setTimeout(afterReady);
  }
}
