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
alias('companySize', ['companysize', 'size', 'employees', 'numberofemployees', 'numemployees', 'headcount', 'effectif', 'taille', 'tailleentreprise']);
alias('industry', ['industry', 'sector', 'secteur', 'secteurdactivite']);
alias('country', ['country', 'pays']);
alias('phone', ['phone', 'phonenumber', 'tel', 'telephone', 'mobile', 'mobilephone']);

/**
 * Names no alias knows are then read for what they contain, in this order ("company_size" is a
 * size before it is a company): how form builders and CRMs spell the same fields ("your-email",
 * "Work e-mail", "contact[first_name]", "FirstName__c", "job_title_fr", "Num_Employees").
 */
const CONTAINS: [RegExp, string][] = [
  [/e?mail|courriel/, 'email'],
  [/firstn|given|prenom/, 'firstName'],
  [/lastn|family|surname|nomdefamille/, 'lastName'],
  [/employee|headcount|effectif|companysize|taille/, 'companySize'],
  [/jobtitle|position|fonction|poste|jobrole/, 'jobTitle'],
  [/compan|organi[sz]ation|societe|entreprise|raisonsociale/, 'company'],
  [/industr|sector|secteur/, 'industry'],
  [/country|pays/, 'country'],
  [/phone|mobile|portable/, 'phone'],
];

const normalise = (name: string) =>
  name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');

/** Fields that steer scoring but describe the asset, not the person. */
const NOT_PROFILE = new Set(['contenttype']);

const clean = (v: ProfileValue) => (typeof v === 'string' ? v.trim() : v);

export const EMAIL_RE = /^[^\s@<>()[\]\\,;:"]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

export const normaliseEmail = (v: unknown): string | null => {
  if (typeof v !== 'string') return null;
  const e = v.trim().toLowerCase();
  return e.length <= 254 && EMAIL_RE.test(e) ? e : null;
};

/**
 * Profile properties found in a form's fields or identify's traits. Known names map to the
 * standard properties, exact aliases first, then names read for what they contain; other short
 * values are kept as custom properties under their own name. The first value found for a
 * property wins: a "colleague_email" after "email" does not replace it.
 */
export function profileFrom(input: Record<string, unknown> | undefined): StoredProfile {
  const out: StoredProfile = {};
  if (!input) return out;
  const guessed: [string, string, ProfileValue][] = [];
  for (const [name, value] of Object.entries(input)) {
    if (value === null || value === undefined || value === '') continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
    if (typeof value === 'string' && value.length > 200) continue;
    const n = normalise(name);
    if (NOT_PROFILE.has(n) || name === 'emailDomain') continue;
    const exact = ALIASES[n];
    if (exact) set(out, exact, value);
    else {
      const contained = CONTAINS.find(([re]) => re.test(n))?.[1];
      if (contained) guessed.push([contained, name, value]);
      else if (name.length <= 64) out[name] = clean(value);
    }
  }
  // A guess that is refused ("email_opt_in": "yes") or comes second ("colleague_email" after "email")
  // stays a property under its own name.
  for (const [prop, name, value] of guessed) if (!set(out, prop, value) && name.length <= 64) out[name] ??= clean(value);
  return out;
}

/** Sets the property if not set yet (an e-mail only when valid); false when it left the value out. */
function set(out: StoredProfile, prop: string, value: ProfileValue): boolean {
  if (out[prop] !== undefined) return false;
  if (prop !== 'email') out[prop] = clean(value);
  else {
    const email = normaliseEmail(value);
    if (!email) return false;
    out.email = email;
  }
  return true;
}

/** A stored profile with new values merged in; `emailDomain` always follows `email`. */
export function mergeProfile(current: StoredProfile, update: StoredProfile, email: string): StoredProfile {
  const merged: StoredProfile = { ...current, ...update, email };
  merged.emailDomain = email.slice(email.lastIndexOf('@') + 1);
  return merged;
}
