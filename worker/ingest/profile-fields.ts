/** @module Form fields and identify traits into profile properties, whatever the form calls them. */

export type ProfileValue = string | number | boolean;
export type StoredProfile = Record<string, ProfileValue>;

/** Normalised field names (lower-case, accents and punctuation removed) → profile property. */
const ALIASES: Record<string, string> = {};
const alias = (prop: string, names: string[]) => names.forEach((n) => (ALIASES[n] = prop));
alias('email', ['email', 'emailaddress', 'mail', 'courriel', 'adressemail', 'adresseemail']);
alias('firstName', ['firstname', 'givenname', 'prenom', 'fname']);
alias('lastName', ['lastname', 'surname', 'familyname', 'nom', 'lname']);
alias('jobTitle', ['jobtitle', 'title', 'job', 'position', 'poste', 'fonction', 'role']);
alias('company', ['company', 'companyname', 'organization', 'organisation', 'societe', 'entreprise', 'org']);
alias('companySize', ['companysize', 'size', 'employees', 'numberofemployees', 'headcount', 'effectif', 'taille', 'tailleentreprise']);
alias('industry', ['industry', 'sector', 'secteur', 'secteurdactivite']);
alias('country', ['country', 'pays']);
alias('phone', ['phone', 'phonenumber', 'tel', 'telephone', 'mobile']);

const normalise = (name: string) =>
  name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');

/** Fields that steer scoring but describe the asset, not the person. */
const NOT_PROFILE = new Set(['contenttype']);

export const EMAIL_RE = /^[^\s@<>()[\]\\,;:"]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

export const normaliseEmail = (v: unknown): string | null => {
  if (typeof v !== 'string') return null;
  const e = v.trim().toLowerCase();
  return e.length <= 254 && EMAIL_RE.test(e) ? e : null;
};

/**
 * Profile properties found in a form's fields or identify's traits. Known names map to the
 * standard properties; other short values are kept as custom properties under their own name.
 */
export function profileFrom(input: Record<string, unknown> | undefined): StoredProfile {
  const out: StoredProfile = {};
  if (!input) return out;
  for (const [name, value] of Object.entries(input)) {
    if (value === null || value === undefined || value === '') continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    const n = normalise(name);
    if (NOT_PROFILE.has(n)) continue;
    const prop = ALIASES[n] ?? (name.length <= 64 ? name : undefined);
    if (!prop || (typeof value === 'string' && value.length > 200)) continue;
    if (prop === 'email') {
      const e = normaliseEmail(value);
      if (e) out.email = e;
      continue;
    }
    if (prop === 'emailDomain') continue;
    out[prop] = typeof value === 'string' ? value.trim() : value;
  }
  return out;
}

/** A stored profile with new values merged in; `emailDomain` always follows `email`. */
export function mergeProfile(current: StoredProfile, update: StoredProfile, email: string): StoredProfile {
  const merged: StoredProfile = { ...current, ...update, email };
  merged.emailDomain = email.slice(email.lastIndexOf('@') + 1);
  return merged;
}
