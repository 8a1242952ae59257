/* The phone page's settings, strings and constants, and its small helpers. */
import {csrfToken, pageConfig, pageStrings, timeFormatter} from '../common.js';

export const config = pageConfig('phone-config');
export const strings = pageStrings('#phone-i18n');
export const $ = (id) => document.getElementById(id);
export const owner = config.username;

export const DB_NAME = 'gridline-phone';
export const DB_VERSION = 1;
export const LOCK_NAME = 'gridline-phone-send';
export const BATCH_ITEMS = 10; // 10 reports of up to 9 photos stay under Django's 100 files per request
export const BATCH_BYTES = 16 * 1024 * 1024;
export const RETRY_FIRST_MS = 5000;
export const RETRY_MAX_MS = 5 * 60 * 1000;
export const SEND_TIMEOUT_MS = 120 * 1000;
export const SENT_KEEP = 50; // acknowledged reports kept (without photos) for the "sent" list
export const SHRINK_TO_PX = 3000;
export const DRAFT_DELAY_MS = 300;
export const MINE_KEY = 'gridline-phone-mine:' + owner;
export const CATEGORIES_KEY = 'gridline-phone-categories';
export const LAST_FIX_KEY = 'gridline-phone-last-fix';

// ---- small helpers -------------------------------------------------------------------------------

export const formatTime = timeFormatter(config.timeZone);

export function newUuid() {
  if (window.crypto && typeof crypto.randomUUID === 'function') {
    return crypto.randomUUID();
  }
  // randomUUID needs a secure context; getRandomValues does not (a plain-HTTP intranet server).
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function readJson(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || 'null');
  } catch (error) {
    return null;
  }
}

// The cookie first, else the token this page was rendered with (in its logout form).
export function pageCsrfToken() {
  const input = document.querySelector('input[name=csrfmiddlewaretoken]');
  return csrfToken(config.csrfCookie, input ? input.value : '');
}

export function writeJson(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch (error) {
    // a full or disabled localStorage only costs the offline copy of a list
  }
}
