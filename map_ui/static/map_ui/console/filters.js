/* The incident filters: the API's query for them, and the same test applied to one incident. */
import {el, withParams} from '../common.js';
import {WARNINGS} from '../basemap.js';
import {config, getJson, localDate, strings} from './context.js';
import {loadIncidents, warningOf} from './incidents.js';
import {list, loadList} from './list.js';

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
export function filterParams() {
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
export function matchesFilters(p) {
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

export function fillFilterChoices() {
  const status = filterForm.elements.status;
  for (const [code, name] of Object.entries(config.choices.incidentStatus)) {
    status.append(el('option', {value: code}, name));
  }
  const warning = filterForm.elements.warning;
  WARNINGS.forEach((level) => warning.append(el('option', {value: level}, strings['warning_' + level])));
}

export async function loadCategories() {
  try {
    const categories = await getJson(config.api.categories);
    const select = filterForm.elements.category;
    categories.forEach((c) => select.append(el('option', {value: c.code}, c.name)));
  } catch (error) {
    // the filter offers "all" only; the map works without it
  }
}

export async function loadAreaChoices() {
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
