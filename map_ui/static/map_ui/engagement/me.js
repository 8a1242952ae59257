/* /m/me/: four sections, each drawn by its own module (me/code.js, me/points.js, me/activities.js,
 * me/community.js) exporting `async function render(element, config)`. Each is loaded and run on its own, so a
 * section that fails to load or to draw shows a line saying so and leaves the others be.
 */
import {el, pageConfig, pageStrings} from '../common.js';

const SECTIONS = ['code', 'points', 'activities', 'community'];

const config = pageConfig('me-config');
config.strings = pageStrings('#me-i18n');

async function renderSection(name) {
  const section = document.querySelector(`section[data-section="${name}"]`);
  const body = section.querySelector('.section-body');
  try {
    const module = await import(`./me/${name}.js`);
    await module.render(body, config);
    section.dataset.state = 'ready';
  } catch (error) {
    console.warn(`section ${name} failed`, error); // eslint-disable-line no-console
    section.dataset.state = 'failed';
    body.replaceChildren(el('p', 'section-failed', config.strings.sectionFailed));
  } finally {
    body.removeAttribute('aria-busy');
  }
}

Promise.all(SECTIONS.map(renderSection)).then(() => {
  document.body.dataset.ready = 'true';
});
