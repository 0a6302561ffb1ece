/** @module The built-in `@freeEmailDomains` set: consumer mailboxes, which say nothing of a company. */
export const FREE_EMAIL_DOMAINS: ReadonlySet<string> = new Set([
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.fr', 'yahoo.co.uk', 'ymail.com', 'hotmail.com',
  'hotmail.fr', 'hotmail.co.uk', 'outlook.com', 'outlook.fr', 'live.com', 'live.fr', 'msn.com',
  'aol.com', 'icloud.com', 'me.com', 'mac.com', 'proton.me', 'protonmail.com', 'pm.me', 'gmx.com',
  'gmx.de', 'gmx.fr', 'gmx.net', 'web.de', 'mail.com', 'zoho.com', 'yandex.com', 'yandex.ru',
  'mail.ru', 'free.fr', 'orange.fr', 'wanadoo.fr', 'laposte.net', 'sfr.fr', 'neuf.fr', 'bbox.fr',
  'libero.it', 'virgilio.it', 'tiscali.it', 't-online.de', 'freenet.de', 'qq.com', '163.com',
  '126.com', 'naver.com', 'hanmail.net', 'rediffmail.com', 'tutanota.com', 'fastmail.com', 'hey.com',
  'comcast.net', 'verizon.net', 'att.net', 'sbcglobal.net', 'btinternet.com', 'sky.com',
]);
