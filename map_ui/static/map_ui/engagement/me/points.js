/* The "my points" section of /m/me/: the balance, what was earned this month, and the ledger, newest first.
 * config.points_url is GET /api/v1/engagement/points/me/, config.points_strings its strings in the page's language
 * and config.mall_url the station mall (map_ui/views/mall.py points_section_config gives all three). */
import {el, fmt, getJson} from '../../common.js';

const ENGLISH = {
  title: 'My points', balance: 'Balance: %s points', month: 'Earned this month: %s', more: 'Show more',
  empty: 'No points yet.', failed: 'Your points could not be loaded.',
  noMember: 'No member record is linked to this account.', toMall: 'Spend them in the station mall',
};

function entryRow(entry, when) {
  const sign = entry.amount > 0 ? '+' : '';
  return el('li', {class: 'points-entry', dataset: {entry: entry.id}},
    el('span', 'points-reason', entry.reason_name),
    entry.note ? el('span', 'muted small-text', ' · ' + entry.note) : null,
    el('span', {class: entry.amount > 0 ? 'points-plus' : 'points-minus'}, ` ${sign}${entry.amount}`),
    el('span', 'muted small-text', ' · ' + when(entry.created)));
}

export async function render(element, config) {
  const strings = {...ENGLISH, ...(config.points_strings || {})};
  const when = (iso) => new Date(iso).toLocaleDateString(document.documentElement.lang || undefined,
    {timeZone: config.timeZone || undefined});
  const list = el('ul', 'points-entries');
  const more = el('button', {type: 'button', class: 'secondary small', hidden: true}, strings.more);
  element.replaceChildren(); // the page's section has its heading
  let page;
  try {
    page = await getJson(config.points_url);
  } catch (error) {
    if (error.status !== 404) {
      throw error; // the page marks the section failed
    }
    element.append(el('p', 'muted', strings.noMember));
    return;
  }
  element.append(
    el('p', {class: 'points-balance', dataset: {balance: page.balance}}, fmt(strings.balance, page.balance)),
    el('p', 'muted', fmt(strings.month, page.earned_this_month)),
    list, more);
  if (config.mall_url) {
    element.append(el('p', null, el('a', {href: config.mall_url}, strings.toMall)));
  }
  const show = (p) => {
    list.append(...p.results.map((entry) => entryRow(entry, when)));
    more.hidden = !p.next;
    more.onclick = async () => {
      more.disabled = true;
      try {
        show(await getJson(p.next));
      } finally {
        more.disabled = false;
      }
    };
  };
  if (!page.results.length) {
    list.append(el('li', 'muted', strings.empty));
  }
  show(page);
}
