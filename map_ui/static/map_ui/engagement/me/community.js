/* The "my community" section of /m/me/: my check-ins with communities (进社区报到) and a form to register by my
 * position or a community picked from the list near me; the volunteer tasks and small wishes (微心愿) near me, with
 * a claim button, and those I claimed, to mark done; my service hours.
 * config.community_urls holds the endpoints (registrations, mine, nearest, tasks, hours, and the per-object
 * actions with `{pk}`), config.community_strings the strings in the page's language (map_ui/views/me.py). */
import {csrfToken, el, fmt, getJson, HttpError, withParams} from '../../common.js';

const ENGLISH = {
  registrations: 'My community check-ins', noRegistrations: 'You have not registered with a community yet.',
  withdraw: 'Withdraw', withdrawConfirm: 'Withdraw this registration?', answer: 'Answer: %s',
  registerHeading: 'Check in with a community', community: 'Community', live: 'where I live', work: 'where I work',
  basis: 'It is', note: 'Note (optional)', register: 'Register', locate: 'Find communities near me',
  locating: 'Finding your position…', noPosition: 'Your position is not available: enter the community code.',
  code: 'Community code', registered: "Registered: the community's dispatcher will answer.",
  tasks: 'Volunteer tasks and small wishes near me', noTasks: 'No open tasks near you.', claim: 'Claim',
  claimed: 'Claimed: it is yours to do.', myTasks: 'Tasks I claimed', markDone: 'Mark done',
  done: 'Done: your hours are recorded.', hours: 'My service hours', totalHours: '%s hours in all',
  noHours: 'No service hours yet.', task: 'Task: %s', request: 'Service request #%s', distance: '%s m away',
  due: 'due %s', taskHours: '%s h', wishedBy: 'wished by %s', failed: 'That did not work. Try again.',
  noPerson: 'Link your account to the register to check in with a community.',
};

const POSITION_TIMEOUT_MS = 8000;

function position() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) {
      resolve(null);
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({lon: p.coords.longitude, lat: p.coords.latitude}),
      () => resolve(null),
      {enableHighAccuracy: true, timeout: POSITION_TIMEOUT_MS, maximumAge: 60000});
  });
}

async function send(config, url, body) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'Accept': 'application/json',
      'Content-Type': 'application/json',
      'X-CSRFToken': csrfToken(config.csrfCookie || 'csrftoken'),
    },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new HttpError(response.status, data);
  }
  return data;
}

// The words of a refusal: the API's own (a 409's detail, a 400's first field message), else the generic ones.
function reason(error, strings) {
  const body = error && error.body;
  if (body && typeof body.detail === 'string') {
    return body.detail;
  }
  if (body && typeof body === 'object') {
    const first = Object.values(body).flat()[0];
    if (typeof first === 'string') {
      return first;
    }
  }
  return strings.failed;
}

function action(template, pk) {
  return template.replace('{pk}', String(pk));
}

class CommunitySection {
  constructor(element, config) {
    this.config = config;
    this.urls = config.community_urls || {};
    this.strings = {...ENGLISH, ...(config.community_strings || {})};
    this.when = (iso) => (iso ? new Date(iso).toLocaleString(document.documentElement.lang || undefined,
      {timeZone: config.timeZone || undefined, dateStyle: 'short', timeStyle: 'short'}) : '');
    this.here = null;
    this.status = el('p', {class: 'status', role: 'status', 'aria-live': 'polite'});
    this.registrations = el('ul', {class: 'names registrations'});
    this.tasks = el('ul', {class: 'activities volunteer-tasks'});
    this.mine = el('ul', {class: 'activities my-tasks'});
    this.hours = el('div', 'service-hours');
    element.replaceChildren(
      this.status,
      el('h3', null, this.strings.registrations), this.registrations,
      this.form(),
      el('h3', null, this.strings.tasks), this.tasks,
      el('h3', null, this.strings.myTasks), this.mine,
      el('h3', null, this.strings.hours), this.hours);
  }

  say(text) {
    this.status.textContent = text;
  }

  form() {
    const s = this.strings;
    this.communitySelect = el('select', {name: 'community', id: 'community-pick'});
    this.codeInput = el('input', {name: 'code', id: 'community-code', inputmode: 'numeric', maxlength: '12',
      pattern: '[0-9]{12}', placeholder: s.code, hidden: true});
    const basis = el('select', {name: 'basis', id: 'community-basis'},
      el('option', {value: 'live'}, s.live), el('option', {value: 'work'}, s.work));
    const note = el('input', {name: 'note', id: 'community-note', maxlength: '300'});
    const locate = el('button', {type: 'button', class: 'secondary', onclick: () => this.locate()}, s.locate);
    const form = el('form', {class: 'notice-form register-form'},
      el('h3', null, s.registerHeading),
      el('label', {for: 'community-pick'}, s.community), this.communitySelect, this.codeInput, locate,
      el('label', {for: 'community-basis'}, s.basis), basis,
      el('label', {for: 'community-note'}, s.note), note,
      el('button', {type: 'submit'}, s.register));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const code = this.codeInput.hidden ? this.communitySelect.value : this.codeInput.value.trim();
      // one client_uuid per registration being sent: a resend after a lost answer is the same registration
      this.pendingUuid = this.pendingUuid || crypto.randomUUID();
      const body = {basis: basis.value, note: note.value, client_uuid: this.pendingUuid};
      if (code) {
        body.community = code;
      } else if (this.here) {
        Object.assign(body, {lon: this.here.lon, lat: this.here.lat});
      }
      try {
        await send(this.config, this.urls.registrations, body);
        this.pendingUuid = null;
        note.value = '';
        this.say(s.registered);
        await this.loadRegistrations();
      } catch (error) {
        if (error instanceof HttpError) {
          this.pendingUuid = null; // refused: the next try is a new registration
        }
        this.say(reason(error, s));
      }
    });
    return form;
  }

  async locate() {
    this.say(this.strings.locating);
    this.here = await position();
    if (!this.here) {
      this.codeInput.hidden = false;
      this.communitySelect.hidden = true;
      this.say(this.strings.noPosition);
      return;
    }
    this.say('');
    await Promise.all([this.loadCommunities(), this.loadTasks()]);
  }

  async loadCommunities() {
    const rows = await getJson(withParams(this.urls.nearest, {lon: this.here.lon, lat: this.here.lat}));
    this.communitySelect.replaceChildren(...rows.map((c) => el('option', {value: c.code},
      c.distance_m > 0 ? `${c.name} (${fmt(this.strings.distance, Math.round(c.distance_m))})` : c.name)));
    this.codeInput.hidden = rows.length > 0;
    this.communitySelect.hidden = rows.length === 0;
  }

  async loadRegistrations() {
    const s = this.strings;
    const rows = await getJson(this.urls.mine);
    this.registrations.replaceChildren(...(rows.length ? rows.map((r) => el('li',
      {class: 'registration', dataset: {registration: r.id, status: r.status}},
      el('strong', null, r.community_name), ` · ${r.basis_name} · `,
      el('span', 'registration-status', r.status_name),
      r.answer ? el('span', 'when', fmt(s.answer, r.answer)) : null,
      ['pending', 'accepted'].includes(r.status) ? el('button', {type: 'button', class: 'link withdraw',
        style: 'margin-left: 0.6rem',
        onclick: () => this.withdraw(r)}, s.withdraw) : null)) : [el('li', 'muted', s.noRegistrations)]));
  }

  async withdraw(registration) {
    if (!window.confirm(this.strings.withdrawConfirm)) {
      return;
    }
    try {
      await send(this.config, action(this.urls.withdraw, registration.id));
      await Promise.all([this.loadRegistrations(), this.loadTasks()]);
    } catch (error) {
      this.say(reason(error, this.strings));
    }
  }

  taskItem(task, button) {
    const s = this.strings;
    const p = task.properties;
    const details = [p.kind_name, p.branch_name, fmt(s.taskHours, p.hours)];
    if (p.distance_m !== null) {
      details.push(fmt(s.distance, Math.round(p.distance_m)));
    }
    if (p.due) {
      details.push(fmt(s.due, this.when(p.due)));
    }
    const data = {task: task.id, kind: p.kind, ...(p.distance_m !== null ? {distance: p.distance_m} : {})};
    return el('li', {class: 'volunteer-task', dataset: data},
      el('span', 'kind', p.kind_name), el('strong', null, p.title),
      p.wished_by ? el('span', 'muted small-text', ' · ' + fmt(s.wishedBy, p.wished_by)) : null,
      el('span', 'when', details.join(' · ')),
      p.description ? el('p', null, p.description) : null,
      button);
  }

  async loadTasks() {
    const s = this.strings;
    const near = this.here ? `${this.here.lon},${this.here.lat}` : null;
    const [open, claimed] = await Promise.all([
      getJson(withParams(this.urls.tasks, {near: near, status: 'open'})),
      getJson(withParams(this.urls.tasks, {status: 'claimed'})),
    ]);
    const claimButton = (task) => el('button', {type: 'button', class: 'claim',
      onclick: (event) => this.step(event.target, action(this.urls.claim, task.id), s.claimed)}, s.claim);
    this.tasks.replaceChildren(...(open.features.length
      ? open.features.map((t) => this.taskItem(t, claimButton(t))) : [el('li', 'muted', s.noTasks)]));
    const mine = claimed.features.filter((t) => t.properties.claimed_by_me);
    const doneButton = (task) => el('button', {type: 'button', class: 'done secondary',
      onclick: (event) => this.step(event.target, action(this.urls.done, task.id), s.done)}, s.markDone);
    this.mine.replaceChildren(...mine.map((t) => this.taskItem(t, doneButton(t))));
  }

  async step(button, url, message) {
    button.disabled = true;
    try {
      await send(this.config, url);
      this.say(message);
    } catch (error) {
      this.say(reason(error, this.strings));
    }
    await Promise.all([this.loadTasks(), this.loadHours()]);
  }

  async loadHours() {
    const s = this.strings;
    const hours = await getJson(this.urls.hours);
    const entries = hours.entries.map((h) => el('li', {dataset: {hours: h.id}},
      `${h.served_on} · ${fmt(s.taskHours, h.hours)} · `,
      h.task ? fmt(s.task, h.task_title) : fmt(s.request, h.incident)));
    this.hours.replaceChildren(
      el('p', {class: 'hours-total', dataset: {total: hours.total_hours}}, fmt(s.totalHours, hours.total_hours)),
      entries.length ? el('ul', 'names', entries) : el('p', 'muted', s.noHours));
  }
}

export async function render(element, config) {
  const section = new CommunitySection(element, config);
  if (!config.person) {
    section.say(section.strings.noPerson);
  }
  await Promise.all([section.loadRegistrations(), section.loadTasks(), section.loadHours()]);
  // the position is asked for once the section stands: a phone that refuses it still has the rest
  section.locate();
}
