import { describe, expect, it } from 'vitest';
import { normaliseEmail, profileFrom } from '../../../worker/ingest/profile-fields';

describe('profileFrom: form fields and traits into profile properties', () => {
  it('maps the names forms and CRMs give the standard fields', () => {
    expect(
      profileFrom({
        'your-email': 'Ada@Example.COM ',
        'contact[first_name]': 'Ada',
        LastName: 'Lovelace',
        job_title: 'Head of Marketing',
        Company_Name__c: 'Analytical Engines',
        NumEmployees: '51-200',
        Industry: 'Software',
        'Country/Region': 'United Kingdom',
        mobile_phone: '+44 20 7946 0000',
      }),
    ).toEqual({
      email: 'ada@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      jobTitle: 'Head of Marketing',
      company: 'Analytical Engines',
      companySize: '51-200',
      industry: 'Software',
      country: 'United Kingdom',
      phone: '+44 20 7946 0000',
    });
  });

  it('reads French forms, accents and all', () => {
    expect(profileFrom({ Prénom: 'Léa', nom: 'Martin', Société: 'Acme', Fonction: 'DSI', 'Secteur d’activité': 'Industrie', Téléphone: '01 02 03 04 05', Pays: 'France', courriel: 'lea@acme.fr' })).toEqual({
      firstName: 'Léa',
      lastName: 'Martin',
      company: 'Acme',
      jobTitle: 'DSI',
      industry: 'Industrie',
      phone: '01 02 03 04 05',
      country: 'France',
      email: 'lea@acme.fr',
    });
  });

  it('tells a company size from a company, whatever the order', () => {
    expect(profileFrom({ company_size: '10', company: 'Acme' })).toEqual({ companySize: '10', company: 'Acme' });
    expect(profileFrom({ company: 'Acme', company_size: '10' })).toEqual({ companySize: '10', company: 'Acme' });
  });

  it('lets an exact name win over a guessed one, and keeps the loser under its own name', () => {
    expect(profileFrom({ colleague_email: 'bob@acme.io', email: 'ada@acme.io' })).toEqual({ email: 'ada@acme.io', colleague_email: 'bob@acme.io' });
    expect(profileFrom({ billing_company: 'Parent Group', company: 'Acme' })).toEqual({ company: 'Acme', billing_company: 'Parent Group' });
  });

  it('keeps what only looks like an e-mail field as a property of its own', () => {
    expect(profileFrom({ email: 'ada@acme.io', email_opt_in: 'yes' })).toEqual({ email: 'ada@acme.io', email_opt_in: 'yes' });
    expect(profileFrom({ email: 'not an address' })).toEqual({});
    // Alone, and not an address: not the e-mail, but not lost either.
    expect(profileFrom({ email_opt_in: 'yes' })).toEqual({ email_opt_in: 'yes' });
  });

  it('keeps other short values as custom properties and drops what is too long or not a value', () => {
    expect(profileFrom({ budget: '10k', seats: 12, trial: true, notes: 'x'.repeat(201), nested: { a: 1 }, empty: '', [`k${'x'.repeat(70)}`]: 'long name' })).toEqual({
      budget: '10k',
      seats: 12,
      trial: true,
    });
  });

  it('keeps a value of 200 characters and a name of 64, at the edge of what it keeps', () => {
    const [name, long] = [`k${'x'.repeat(63)}`, 'x'.repeat(200)];
    expect(profileFrom({ [name]: long, [`${name}y`]: 'dropped', [`${'x'.repeat(64)}_email`]: 'no address' })).toEqual({ [name]: long });
    expect(profileFrom({ [`${'x'.repeat(58)}_email`]: 'no address' })).toEqual({ [`${'x'.repeat(58)}_email`]: 'no address' });
  });

  it('never takes the asset type or a forged e-mail domain into the profile', () => {
    expect(profileFrom({ content_type: 'ebook', emailDomain: 'evil.example', email: 'ada@acme.io' })).toEqual({ email: 'ada@acme.io' });
  });
});

describe('normaliseEmail', () => {
  it('trims and lower-cases an address, and refuses one past 254 characters (the longest a mailbox can be sent to)', () => {
    expect(normaliseEmail('  Ada@Acme.IO ')).toBe('ada@acme.io');
    // 64 + 1 + 189: every label within its own limit of 63.
    const at = (n: number) => `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(n)}.io`;
    expect(at(58)).toHaveLength(254);
    expect(normaliseEmail(at(58))).toBe(at(58));
    expect(normaliseEmail(at(59))).toBeNull();
    expect(normaliseEmail('ada@')).toBeNull();
    expect(normaliseEmail(42)).toBeNull();
  });
});
