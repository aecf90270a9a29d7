// Loads the WebAssembly explorer. A module file (not an inline script), so the page runs under
// Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval'.
// A link that names another explorer (e.g. index.html#attention?…) goes to that explorer's page
// first, with the same hash, so every explorer's links work from the site's root address.
import init from './token-dynamics.js';

const PAGES = { 'next-token': 'index.html', attention: 'attention.html', energy: 'energy.html' };
const here = document.body.dataset.explorer || 'next-token';
const named = /^#([a-z-]+)(?:[?&]|$)/.exec(location.hash);
if (named && named[1] !== here && Object.hasOwn(PAGES, named[1])) {
  location.replace(PAGES[named[1]] + location.hash);
} else {
  init({ module_or_path: new URL('./token-dynamics_bg.wasm', import.meta.url) }).catch((error) => {
    const box = document.getElementById('messages');
    const list = document.getElementById('message-list');
    if (box && list) {
      const item = document.createElement('li');
      item.textContent = 'The explorer could not start: ' + String(error);
      list.replaceChildren(item);
      box.hidden = false;
    }
    console.error(error);
  });
}
