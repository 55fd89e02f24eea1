// app.js: boot, session, hash routing and the page shell (top bar, left
// navigation, main area). Routes:
//   #/login  #/admin/<kind>[?after=N]  #/admin/<kind>/new  #/admin/<kind>/<id>
//   #/agent  #/supervisor  #/wfm  #/wfm/<page> (pages/wfm_pages.js)
import { h, replace } from './dom.js';
import { t, setLanguage, browserLanguage } from './i18n.js';
import { api, setCsrf, onUnauthorized } from './api.js';
import { RESOURCES, ADMIN_ORDER } from './admin/resources.js';
import { listPage, formPage, canRead } from './admin/admin.js';
import { loginPage } from './pages/login.js';
import { agentPage } from './pages/agent.js';
import { supervisorPage } from './pages/supervisor.js';
import { wfmPage } from './pages/wfm.js';
import { WFM_PAGES } from './pages/wfm_pages.js';
import { setFlash, pageHeader, linkButton, errorMessage, notice } from './ui.js';

const session = { user: null };
let returnTo = null;     // where to go after logging in
let current = null;      // AbortController of the page being shown
const root = document.getElementById('app');

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(qs || '') };
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function homeFor(user) {
  if (!user) return '#/login';
  if (user.role === 'admin') return '#/admin/queues';
  if (user.role === 'supervisor') return '#/supervisor';
  return '#/agent';
}

function setTitle(s) {
  document.title = `${s} · ${t('app.name')}`;
}

// ---- the shell -----------------------------------------------------------------

function navLink(href, text, active) {
  return h('li', null, h('a', { href, 'aria-current': active ? 'page' : null, class: active ? 'active' : null }, text));
}

function shell(activeHref) {
  const u = session.user;
  const admin = ADMIN_ORDER.filter((k) => canRead(k, u));
  const work = [];
  if (u.role === 'agent' || u.role === 'admin' || u.role === 'supervisor') work.push(['#/agent', t('nav.agent')]);
  if (u.role === 'supervisor' || u.role === 'admin') work.push(['#/supervisor', t('nav.supervisor')]);
  if (u.role === 'supervisor' || u.role === 'admin') work.push(['#/wfm', t('nav.wfm')]);

  const logout = h('button', { type: 'button', class: 'button secondary small', id: 'logout' }, t('action.logout'));
  logout.addEventListener('click', doLogout);
  const main = h('main', { id: 'main', tabindex: '-1' });
  const skip = h('a', { class: 'skip-link', href: '#main' }, t('nav.skip'));
  skip.addEventListener('click', (ev) => { ev.preventDefault(); main.focus(); });

  replace(root,
    skip,
    h('header', { class: 'topbar' },
      h('a', { class: 'brand', href: homeFor(u) }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), t('app.name')),
      h('div', { class: 'whoami' },
        h('span', { class: 'user-name' }, u.display_name || u.username),
        h('span', { class: 'role-badge' }, t(`role.${u.role}`)),
        logout)),
    h('nav', { class: 'sidenav', 'aria-label': t('nav.main') },
      work.length ? h('h2', null, t('nav.work')) : null,
      work.length ? h('ul', null, work.map(([href, text]) => navLink(href, text, activeHref === href))) : null,
      admin.length ? h('h2', null, t('nav.admin')) : null,
      admin.length ? h('ul', null, admin.map((k) => navLink(`#/admin/${k}`, t(RESOURCES[k].title),
        activeHref === `#/admin/${k}`))) : null),
    main);
  document.body.classList.remove('logged-out');
  return main;
}

function bareShell() {
  const main = h('main', { id: 'main', class: 'bare', tabindex: '-1' });
  replace(root, main);
  document.body.classList.add('logged-out');
  return main;
}

function notFound(main) {
  setTitle(t('error.page_not_found'));
  replace(main, pageHeader(t('error.page_not_found')),
    h('p', null, t('error.page_not_found_text')),
    h('p', null, linkButton(homeFor(session.user), t('action.home'), 'button secondary')));
}

function forbidden(main) {
  setTitle(t('error.forbidden_title'));
  replace(main, pageHeader(t('error.forbidden_title')), notice('error', t('error.forbidden')));
}

// ---- routing -------------------------------------------------------------------

async function route() {
  if (current) current.abort();
  current = new AbortController();
  const { parts, query } = parseHash();

  if (!session.user) {
    if (parts[0] !== 'login') {
      returnTo = location.hash && location.hash !== '#/' ? location.hash : null;
      history.replaceState(null, '', '#/login');
    }
    loginPage(bareShell(), { setTitle }, loggedIn);
    return;
  }
  if (parts.length === 0 || parts[0] === 'login') {
    history.replaceState(null, '', homeFor(session.user));
    return route();
  }

  const activeHref = parts[0] === 'admin' && parts[1] ? `#/admin/${parts[1]}` : `#/${parts[0]}`;
  const main = shell(activeHref);
  const env = {
    user: session.user,
    signal: current.signal,
    setTitle,
    navigate,
    refresh: route,
    forbidden: () => forbidden(main),
  };

  try {
    if (parts[0] === 'admin' && RESOURCES[parts[1]] && parts.length <= 3) {
      if (!canRead(parts[1], session.user)) return forbidden(main);
      if (parts.length === 2) await listPage(main, parts[1], query, env);
      else await formPage(main, parts[1], parts[2], env);
    } else if (parts[0] === 'agent' && parts.length === 1) {
      agentPage(main, env);
    } else if (parts[0] === 'wfm' && parts.length === 1) {
      if (session.user.role === 'agent') return forbidden(main);
      wfmPage(main, env);
    } else if (parts[0] === 'wfm' && parts.length === 2 && Object.hasOwn(WFM_PAGES, parts[1])) {
      if (session.user.role === 'agent') return forbidden(main);
      WFM_PAGES[parts[1]](main, env);
    } else if (parts[0] === 'supervisor' && parts.length === 1) {
      if (session.user.role === 'agent') return forbidden(main);
      supervisorPage(main, env);
    } else {
      notFound(main);
    }
  } catch (e) {
    if (e && e.name === 'AbortError') return;
    replace(main, pageHeader(t('error.title')), notice('error', errorMessage(e)));
    console.error(e);
  }
}

async function loggedIn(ans) {
  setCsrf(ans.csrf_token);
  session.user = ans.user;
  await setLanguage(ans.user.language || browserLanguage());
  const target = returnTo && !returnTo.startsWith('#/login') ? returnTo : homeFor(session.user);
  returnTo = null;
  navigate(target);
}

async function doLogout() {
  try {
    await api.logout();
  } catch { /* the session is gone either way */ }
  setCsrf(null);
  session.user = null;
  returnTo = null;
  await setLanguage(browserLanguage());
  setFlash('info', t('msg.logged_out'));
  navigate('#/login');
}

// Any call that answers 401: the session ended (expired, or logged out
// elsewhere). Back to the login page, then back here afterwards.
onUnauthorized(() => {
  if (!session.user) return;
  session.user = null;
  setCsrf(null);
  setFlash('info', t('msg.session_ended'));
  route();
});

async function boot() {
  await setLanguage(browserLanguage());
  try {
    const me = await api.me();
    session.user = me.user;
    if (me.csrf_token) setCsrf(me.csrf_token);
    await setLanguage(me.user.language || browserLanguage());
  } catch (e) {
    session.user = null;
    if (e.status !== 401) setFlash('error', errorMessage(e));
  }
  window.addEventListener('hashchange', route);
  route();
}

boot();
