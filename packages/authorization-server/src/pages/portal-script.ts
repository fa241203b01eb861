/**
 * The developer portal's only script, served as /assets/portal.js (the CSP allows `script-src 'self'` on
 * portal pages only; no inline script anywhere). A `<button data-copy="ID">` copies the text of the
 * element with that id to the clipboard and says so (its `data-copied` text, for translation) for two
 * seconds. Without script, or without clipboard access, the value stays selectable on the page.
 */
export const PORTAL_SCRIPT = `'use strict';
document.addEventListener('click', function (event) {
  var button = event.target instanceof Element ? event.target.closest('button[data-copy]') : null;
  if (!button || !navigator.clipboard) return;
  var source = document.getElementById(button.getAttribute('data-copy'));
  if (!source) return;
  navigator.clipboard.writeText(source.textContent).then(function () {
    var label = button.textContent;
    button.textContent = button.getAttribute('data-copied') || label;
    setTimeout(function () { button.textContent = label; }, 2000);
  });
});
`;
