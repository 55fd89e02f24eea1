// dom.js: the one way this UI builds DOM. Text is always inserted as text
// nodes (createTextNode / textContent), never parsed as HTML, so names and
// other data from the server cannot inject markup or script. Attribute names
// come from our own code only; values go through setAttribute (no event
// handler attributes: use on<event> props, which become addEventListener).

const PROPS = new Set(['value', 'checked', 'selected', 'disabled', 'hidden', 'multiple',
  'indeterminate', 'open']);

// h('button', {class: 'x', onclick: fn}, 'text', childNode, [more])
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) el[k] = v;
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replace all children of el.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let uid = 0;
export function uniqueId(prefix = 'id') {
  uid += 1;
  return `${prefix}-${uid}`;
}
