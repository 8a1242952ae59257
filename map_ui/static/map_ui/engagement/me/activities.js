// The "activities" section of /m/me/: render(element, config) lists my upcoming and past activities (of my branch,
// those I am expected at and those I checked in to), each with whether I checked in. config: activities_url,
// activities_page and activities_strings (from map_ui.views.activities.activities_section_config), timeZone.
import {el, getJson, timeFormatter, withParams} from '../../common.js';

const FALLBACK = {
  upcoming: 'Upcoming', past: 'Past', checkedIn: 'Checked in', missed: 'Not checked in',
  none: 'No activities yet.', failed: 'Your activities could not be loaded.',
  noMember: 'No member record is linked to this account.', all: 'All activities near me',
};
const SHOWN = 10;

function row(feature, strings, formatTime, now) {
  const p = feature.properties;
  const past = new Date(p.ends_at) < now;
  const state = p.checked_in ? strings.checkedIn : (past ? strings.missed : '');
  return el('li', {dataset: {id: String(feature.id), checkedIn: String(Boolean(p.checked_in))}},
    el('strong', {}, p.title), ' ',
    el('span', 'meta', [p.kind_display, formatTime(p.starts_at)].filter(Boolean).join(' · ')),
    state ? el('span', {class: p.checked_in ? 'state checked' : 'state missed'}, ' · ' + state) : null);
}

export async function render(element, config) {
  const strings = {...FALLBACK, ...(config.activities_strings || {})};
  if (config.person === null) {
    element.replaceChildren(el('p', {}, strings.noMember));
    return;
  }
  const url = config.activities_url || '/api/v1/engagement/activities/';
  const formatTime = timeFormatter(config.timeZone);
  let page;
  try {
    page = await getJson(withParams(url, {mine: 1, page_size: 100}));
  } catch (error) {
    element.replaceChildren(el('p', 'section-failed', strings.failed));
    throw error;
  }
  const now = new Date();
  const features = page.features || [];
  const upcoming = features.filter((f) => new Date(f.properties.ends_at) >= now)
    .sort((a, b) => a.properties.starts_at.localeCompare(b.properties.starts_at));
  const past = features.filter((f) => new Date(f.properties.ends_at) < now);
  const list = (items, name) => el('ul', {class: 'activity-list', dataset: {list: name}},
    items.slice(0, SHOWN).map((f) => row(f, strings, formatTime, now)));
  element.replaceChildren(
    el('h3', {}, strings.upcoming),
    upcoming.length ? list(upcoming, 'upcoming') : el('p', {}, strings.none),
    el('h3', {}, strings.past),
    past.length ? list(past, 'past') : el('p', {}, strings.none),
    el('p', {}, el('a', {href: config.activities_page || '/m/activities/'}, strings.all)));
}
