// i18n.js - every string the console shows, in zh-CN and en. The language is
// zh-CN unless the user switched; the choice is remembered in localStorage.
export const dict = {
  'app.title': { zh: '互动 · 营销中心', en: 'hudong · Marketing console' },
  'login.title': { zh: '登录', en: 'Sign in' },
  'login.email': { zh: '邮箱', en: 'E-mail' },
  'login.password': { zh: '密码', en: 'Password' },
  'login.submit': { zh: '登录', en: 'Sign in' },
  'nav.logout': { zh: '退出', en: 'Sign out' },
  'nav.lang': { zh: 'English', en: '中文' },
  'home.welcome': { zh: '欢迎', en: 'Welcome' },
};

let lang = localStorage.getItem('hudong.lang') || 'zh';

export function t(key) {
  const e = dict[key];
  if (!e) return key;
  return e[lang] || e.zh;
}

export function getLang() { return lang; }

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'zh';
  localStorage.setItem('hudong.lang', lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}
