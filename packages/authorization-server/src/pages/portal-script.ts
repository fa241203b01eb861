/**
 * The developer portal's only script, served as /assets/portal.js (the CSP allows `script-src 'self'` on
 * portal pages only; no inline script anywhere). A `<button data-copy="ID">` copies the text of the
 * element with that id to the clipboard and says so (its `data-copied` text, for translation) for two
 * seconds: on the button, and in a polite status region a screen reader announces (WCAG 4.1.3). While the
 * button says so, its aria-label is set aside, so that its name is what it shows (WCAG 2.5.3). Without
 * script, or without clipboard access, the value stays selectable on the page.
 */
export const PORTAL_SCRIPT = `'use strict';
document.addEventListener('click', function (event) {
  var button = event.target instanceof Element ? event.target.closest('button[data-copy]') : null;
  if (!button || !navigator.clipboard) return;
  var source = document.getElementById(button.getAttribute('data-copy'));
  if (!source) return;
  navigator.clipboard.writeText(source.textContent).then(function () {
    var status = document.getElementById('copy-status');
    if (!status) {
      status = document.createElement('p');
      status.id = 'copy-status';
      status.setAttribute('role', 'status');
      status.className = 'visually-hidden';
      document.body.appendChild(status);
    }
    var label = button.textContent;
    var name = button.getAttribute('aria-label');
    var copied = button.getAttribute('data-copied') || label;
    button.textContent = copied;
    if (name !== null) button.removeAttribute('aria-label');
    status.textContent = copied;
    setTimeout(function () {
      button.textContent = label;
      if (name !== null) button.setAttribute('aria-label', name);
      status.textContent = '';
    }, 2000);
  });
});
`;
