// Text helpers shared by the page's modules. Pure: no DOM, importable by node (Tests/page/).

/** "skull_complete" -> "Skull complete"; null -> "". */
export function humanise(s) {
  const t = String(s == null ? '' : s).replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
  return t ? t[0].toUpperCase() + t.slice(1) : '';
}

export const upper = (s) => humanise(s).toUpperCase();

export const lower = (t) => t.charAt(0).toLowerCase() + t.slice(1);

/** Milliseconds as "850 ms" below a second, "1.3 s" above. */
export function formatAge(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** First letter upper case, the rest as given ("" stays ""). */
export function capitalise(s) {
  const t = String(s);
  return t ? t[0].toUpperCase() + t.slice(1) : '';
}
