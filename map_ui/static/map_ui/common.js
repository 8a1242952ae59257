/* What every Gridline page script shares: the one way text from the server reaches HTML.
 *
 * Leaflet parses a string given to bindPopup, bindTooltip, setContent, divIcon({html}) and the layers
 * control as HTML. Names, notes and layer attributes come from users and imports, so a page script either
 * gives those calls DOM nodes (textContent) or builds the string with Gridline.escapeHtml around every
 * value. tests/map_ui/test_escaping.py checks the page scripts for string arguments built without it.
 */
(function () {
  'use strict';

  const ENTITIES = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;'};

  // Safe in element content and in quoted attribute values alike, so one helper serves both.
  function escapeHtml(value) {
    if (value === null || value === undefined) {
      return '';
    }
    return String(value).replace(/[&<>"'`]/g, (c) => ENTITIES[c]);
  }

  // A text-only element for Leaflet's HTML-taking calls: the text is never parsed as markup.
  function textNode(tag, text, className) {
    const node = document.createElement(tag || 'span');
    if (className) {
      node.className = className;
    }
    node.textContent = text === null || text === undefined ? '' : String(text);
    return node;
  }

  window.Gridline = Object.freeze({escapeHtml: escapeHtml, textNode: textNode});
}());
