/** @module Who an event is about: the e-mail it identifies, and the profile it reveals. */
import { normaliseEmail, profileFrom, type StoredProfile } from './profile-fields';
import type { WireEvent } from './wire';

/** What of an event says who its person is: a server-side event's traits, identify's, a form's fields. */
export const profileSource = (e: WireEvent): Record<string, unknown> | undefined =>
  e.email || e.type === 'identify' ? e.traits : e.type === 'form_submit' ? e.fields : undefined;

/** The profile an event reveals, e-mail or not. */
export const revealedProfile = (e: WireEvent): StoredProfile => profileFrom(profileSource(e));

/** The e-mail an event ties its visitor to: an explicit server-side `email`, identify, or a form. */
export function identityOf(e: WireEvent): { email: string; profile: StoredProfile } | null {
  if (e.email) {
    const email = normaliseEmail(e.email);
    return email ? { email, profile: revealedProfile(e) } : null;
  }
  const profile = revealedProfile(e);
  const email = typeof profile.email === 'string' ? profile.email : null;
  return email ? { email, profile } : null;
}
