/** @module Who an event is about: the e-mail it identifies, and the profile it reveals. */
import { normaliseEmail, profileFrom, type StoredProfile } from './profile-fields';
import type { WireEvent } from './wire';

/** The e-mail an event ties its visitor to: an explicit server-side `email`, identify, or a form. */
export function identityOf(e: WireEvent): { email: string; profile: StoredProfile } | null {
  if (e.email) {
    const email = normaliseEmail(e.email);
    return email ? { email, profile: profileFrom(e.traits) } : null;
  }
  const source = e.type === 'identify' ? e.traits : e.type === 'form_submit' ? e.fields : undefined;
  const profile = profileFrom(source);
  const email = typeof profile.email === 'string' ? profile.email : null;
  return email ? { email, profile } : null;
}
