/** @module form_submit events with the form's fields, minus anything secret. */
import { emit } from './events';
import { on } from './safe';

// Also the non-field members of form.elements: fieldset, output, object ('').
const SKIP = /^(password|file|submit|button|reset|image|fieldset|output|)$/;
const SECRET = /pass|pwd|card|cc-|cvc|cvv|iban|ssn|secret|token/i;

/** 13–19 digits (spaces or dashes allowed) passing the Luhn check. */
const isCard = (v: string): boolean => {
  const d = v.replace(/[ -]/g, '');
  let s = 0;
  let i = d.length;
  // Every second digit from the right is doubled; '0246813579'[x] is 2x with its digits summed.
  for (const c of d) s += +(i-- % 2 ? c : '0246813579'[+c]!);
  return /^\d{13,19}$/.test(d) && s % 10 == 0;
};

const submit = (e: SubmitEvent) => {
  const f = e.target;
  if (!(f instanceof HTMLFormElement)) return;
  // getAttribute, because an input named "name" or "id" shadows form.name and form.id.
  const attr = (k: string) => f.getAttribute(k) || '';
  const fields: Record<string, string> = {};
  let n = 0;
  let email = '';
  let ct = attr('data-leadscore-content-type');
  for (const el of f.elements as unknown as Iterable<HTMLInputElement>) {
    const t = el.type;
    const name = el.name;
    const key = el.dataset.leadscoreField || name || el.id;
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
      if (name == 'content_type') ct = v;
      if ((t == 'email' || /^((e-?)?mail|courriel)$/i.test(name)) && /^\S+@\S+\.\S+$/.test(v)) email = v;
    }
  }
  // The server maps the other fields into the profile; identify only ties the visitor to the e-mail.
  if (email) emit('identify', { traits: { email } });
  emit(
    'form_submit',
    { title: document.title, fields, contentType: ct, props: { form: attr('name') || attr('id') } },
    true,
  );
};

export const captureForms = (): void => on(document, 'submit', submit);
