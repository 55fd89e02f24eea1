// pages/login.js: the sign-in form.
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { errorMessage, noticeArea, takeFlash } from '../ui.js';

// onLoggedIn(loginAnswer) is called after a successful login.
export function loginPage(main, env, onLoggedIn) {
  env.setTitle(t('login.title'));
  const notices = noticeArea();
  const user = h('input', { id: 'login-username', name: 'username', type: 'text', autocomplete: 'username',
    autocapitalize: 'none', spellcheck: 'false', required: true });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'button wide' }, t('login.submit'));
  const form = h('form', { class: 'login-card', novalidate: true },
    h('div', { class: 'brand brand-large' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), t('app.name')),
    h('h1', null, t('login.title')),
    takeFlash(),
    notices.el,
    h('div', { class: 'field' }, h('label', { for: user.id }, t('login.username')), user),
    h('div', { class: 'field' }, h('label', { for: pass.id }, t('login.password')), pass),
    submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    notices.clear();
    submit.disabled = true;
    submit.textContent = t('login.signing_in');
    try {
      const ans = await api.login(user.value.trim(), pass.value);
      pass.value = '';
      await onLoggedIn(ans);
    } catch (e) {
      notices.show('error', errorMessage(e));
      pass.select();
    } finally {
      submit.disabled = false;
      submit.textContent = t('login.submit');
    }
  });
  replace(main, h('div', { class: 'login-wrap' }, form));
  user.focus();
}
