// The banner at the top (plane found, model state, connection) and the stale marks on the panels.

import { el } from './dom.js';
import { S, now, slowModel, staleMs } from './store.js';
import { bannerSubText, bannerView, computeStale } from './state.js';

export function renderBanner() {
  const b = el.banner;
  const v = bannerView(S);
  if (S.pred) {
    b.dataset.status = v.status;
    b.dataset.plane = v.plane;
  } else {
    delete b.dataset.status;
    delete b.dataset.plane;
  }
  b.dataset.mode = v.mode;
  if (v.modelState) b.dataset.modelState = v.modelState; else delete b.dataset.modelState;
  if (el.bannerText.textContent !== v.text) {
    el.bannerText.textContent = v.text;
    fitBanner();
  }
  renderBannerSub(v.sub, v.fixed);
}

// The second banner line: the model problem, or how old a stale result is.
let bannerSubBase = '';
let bannerSubFixed = false;   // a model or pairing problem: keep that text even when stale
export function renderBannerSub(sub, fixed) {
  if (sub !== undefined) { bannerSubBase = sub; bannerSubFixed = !!fixed; }
  const text = bannerSubText(S, bannerSubBase, bannerSubFixed, now(), slowModel());
  if (el.bannerSub.textContent !== text) el.bannerSub.textContent = text;
}

// Largest font size (up to the CSS one) at which the banner text fits on one line.
let bannerMaxPx = 0;
let resized = false;
export function fitBanner() {
  const t = el.bannerText;
  t.style.fontSize = '';
  if (!bannerMaxPx || resized) {
    bannerMaxPx = parseFloat(getComputedStyle(t).fontSize) || 54;
    resized = false;
  }
  let size = bannerMaxPx;
  t.style.fontSize = `${size}px`;
  const range = document.createRange();
  range.selectNodeContents(t);
  const room = t.clientWidth;
  // Too wide on one line, or (phones, where it may wrap) too tall for the banner: smaller type.
  const body = t.parentElement;
  const tooTall = () => body && body.scrollHeight > body.clientHeight + 1;
  while (size > 18 && (range.getBoundingClientRect().width > room - 1 || tooTall())) {
    size -= 2;
    t.style.fontSize = `${size}px`;
  }
}

/** The window was resized: the CSS size of the banner text may be another one. */
export function bannerResized() {
  resized = true;
  fitBanner();
}

export function updateStale(force) {
  const stale = computeStale(S, now(), staleMs());
  if (stale === S.stale && !force) return;
  const changed = stale !== S.stale;
  S.stale = stale;
  const v = stale ? 'true' : 'false';
  el.app.dataset.stale = v;
  el.banner.dataset.stale = v;
  el.groups.dataset.stale = v;
  el.overlay.dataset.stale = v;
  el.guidance.dataset.stale = v;
  if (changed || force) renderBannerSub();
}
