/** @module form_submit events with the form's fields, minus anything secret. */
import { emit } from './events';
import { on, safe } from './safe';

// A fieldset, output or object in form.elements has no value worth a field: the empty ones are left
// off the wire. An image button never is in form.elements.
const SKIP = /^(password|file|submit|button|reset)$/;
const SECRET = /pass|pwd|card|cc-|cvc|cvv|iban|ssn|secret|token/i;

/**
 * 13–19 digits, spaces or dashes allowed: what a card number looks like. No Luhn check: a number
 * that merely looks like a card has no business in a lead's profile either.
 */
const isCard = (v: string): boolean => /^\d{13,19}$/.test(v.replace(/[ -]/g, ''));

const submit = (f: EventTarget | null) => {
  if (!(f instanceof HTMLFormElement)) return;
  // getAttribute, because an input named "name" or "id" shadows form.name and form.id.
  const attr = (k: string) => f.getAttribute(k) || '';
  const fields: Record<string, string> = {};
  let n = 0;
  for (const el of f.elements as unknown as Iterable<HTMLInputElement>) {
    const t = el.type;
    const name = el.name;
    // The server finds the e-mail, names, company… among the fields by their names; an e-mail input
    // is named for it here, whatever the form calls it.
    const key = el.dataset.leadscoreField || (t == 'email' ? t : name || el.id);
    const v = (el.value || '').trim().slice(0, 500);
    if (
      key &&
      n < 50 &&
      !SKIP.test(t) &&
      (t != 'hidden' || name == 'content_type') &&
      (el.checked || !/^(checkbox|radio)$/.test(t)) &&
      // closest() also looks above the form: a form inside an ignored block gives no fields.
      !el.closest('[data-leadscore-ignore]') &&
      !SECRET.test(name + ' ' + el.id + ' ' + el.autocomplete) &&
      !isCard(v)
    ) {
      fields[key] = v;
      n++;
    }
  }
  // The server ties the visitor to the form's e-mail, and takes a hidden content_type field when the
  // form has no data-leadscore-content-type.
  emit(
    'form_submit',
    { title: document.title, fields, contentType: attr('data-leadscore-content-type'), props: { form: attr('name') || attr('id') } },
    true,
  );
};

export const captureForms = (): void => {
  on(document, 'submit', (e) => submit(e.target));
  // form.submit() fires no submit event: the call itself is watched. requestSubmit() does fire one.
  const p = HTMLFormElement.prototype;
  const o = p.submit;
  p.submit = function (this: HTMLFormElement) {
    safe(submit)(this);
    o.call(this);
  };
};
