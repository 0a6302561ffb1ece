/**
 * @module The dashboard's entry point: wires the views to the hash route and the stored API key.
 *
 * The views share the page, one visible at a time: sign-in, segments (`#`), a lead (`#lead/<id>`),
 * nurturing (`#nurturing`) and a band's members (`#band/<name>`). Without a key every route shows
 * the sign-in form, and the route is kept so that a shared lead link opens once signed in. A 401
 * from any call means the key stopped working: back to sign-in with the server's message.
 */
import { Api, type ApiError } from './api';
import { byId, focusQuietly, showOnly } from './dom';
import { createLeadView } from './lead';
import { createMembersView } from './members';
import { createNurturingView } from './nurturing';
import { bandHref, parseRoute } from './router';
import { createSegmentsView } from './segments';
import { clearKey, loadKey, saveKey } from './session';
import { createSignin } from './signin';

type ViewName = 'signin' | 'segments' | 'lead' | 'nurturing' | 'band';

function main(): void {
  const signinView = byId('signin-view');
  const segmentsView = byId('segments-view');
  const leadView = byId('lead');
  const nurturingView = byId('nurturing-view');
  const bandView = byId('band-view');
  const views = [signinView, segmentsView, leadView, nurturingView, bandView];
  const signedInOnly = [byId('nav'), byId<HTMLButtonElement>('signout')];
  const segmentsLink = byId('nav-segments');
  const segmentsHeading = byId('segments-title');
  const nurturingLink = byId('nav-nurturing');
  const nurturingHeading = byId('nurturing-title');

  const stored = loadKey();
  let api: Api | null = stored ? new Api(stored) : null;
  let current: ViewName | null = null;
  /** Where the user was in the segments, to put them back there after looking at a lead. */
  let segmentsScroll = 0;
  let lastLeadId: string | null = null;
  /** The band whose members page was open, to focus its "See all" link back on the segments. */
  let lastBand: string | null = null;

  const expire = (err: ApiError) => signOut(`Signed out: ${err.message}`);

  const segments = createSegmentsView({
    container: byId('bands'),
    status: byId('updated'),
    summary: byId('segments-summary'),
    onUnauthorized: expire,
  });
  const lead = createLeadView({ root: leadView, onUnauthorized: expire });
  const nurturing = createNurturingView({ container: byId('nurturing'), status: byId('nurturing-updated'), onUnauthorized: expire });
  const members = createMembersView({ root: bandView, onUnauthorized: expire });
  const signin = createSignin({
    form: byId<HTMLFormElement>('signin'),
    input: byId<HTMLInputElement>('api-key'),
    alert: byId('signin-error'),
    onSignedIn(key) {
      saveKey(key);
      api = new Api(key);
      route(true);
    },
  });

  function setSignedIn(signedIn: boolean): void {
    for (const el of signedInOnly) el.hidden = !signedIn;
  }

  function signOut(message: string | null): void {
    clearKey();
    api = null;
    // Take every lead off the page: the next person at this screen may not have a key.
    segments.clear();
    lead.clear();
    nurturing.clear();
    members.clear();
    lastLeadId = null;
    lastBand = null;
    segmentsScroll = 0;
    route(true, message);
  }

  function route(moveFocus: boolean, message: string | null = null): void {
    const previous = current;
    if (!api) {
      segments.stop();
      lead.stop();
      nurturing.stop();
      members.stop();
      setSignedIn(false);
      showOnly(signinView, views);
      current = 'signin';
      document.title = 'Sign in · leadscore';
      signin.show(message, moveFocus || message !== null);
      return;
    }
    setSignedIn(true);
    const r = parseRoute(location.hash);
    if (r.view !== 'nurturing') nurturing.stop();
    if (r.view !== 'band') members.stop();
    if (r.view === 'nurturing') nurturingLink.setAttribute('aria-current', 'page');
    else nurturingLink.removeAttribute('aria-current');
    if (r.view === 'nurturing' || r.view === 'band') {
      if (previous === 'segments') segmentsScroll = window.scrollY;
      segments.stop();
      lead.stop();
      segmentsLink.removeAttribute('aria-current');
      if (r.view === 'nurturing') {
        showOnly(nurturingView, views);
        current = 'nurturing';
        document.title = 'Nurturing · leadscore';
        if (previous !== 'nurturing') window.scrollTo(0, 0);
        nurturing.start(api);
        if (moveFocus) focusQuietly(nurturingHeading);
      } else {
        showOnly(bandView, views);
        current = 'band';
        lastBand = r.name;
        if (previous !== 'band') window.scrollTo(0, 0);
        members.show(api, r.name, moveFocus);
      }
    } else if (r.view === 'lead') {
      if (previous === 'segments') segmentsScroll = window.scrollY;
      segments.stop();
      segmentsLink.removeAttribute('aria-current');
      showOnly(leadView, views);
      current = 'lead';
      lastLeadId = r.id;
      document.title = 'Lead · leadscore';
      window.scrollTo(0, 0);
      lead.show(api, r.id, moveFocus);
    } else {
      lead.stop();
      segmentsLink.setAttribute('aria-current', 'page');
      showOnly(segmentsView, views);
      current = 'segments';
      document.title = 'Segments · leadscore';
      segments.start(api);
      if (previous === 'band') {
        // Back from a band's members: same scroll position, focus on its "See all" link.
        window.scrollTo(0, segmentsScroll);
        const href = lastBand === null ? null : bandHref(lastBand);
        const link = Array.from(segmentsView.querySelectorAll('a')).find((a) => a.getAttribute('href') === href);
        focusQuietly(link ?? segmentsHeading);
      } else if (previous === 'lead') {
        // Back from a lead: same scroll position, focus on the member that was opened.
        window.scrollTo(0, segmentsScroll);
        if (!(lastLeadId && segments.focusLead(lastLeadId))) focusQuietly(segmentsHeading);
      } else if (moveFocus) {
        focusQuietly(segmentsHeading);
      }
    }
  }

  byId<HTMLButtonElement>('signout').addEventListener('click', () => {
    // Drop a lead route too: signing back in starts from the segments.
    history.replaceState(null, '', location.pathname + location.search);
    signOut(null);
  });
  window.addEventListener('hashchange', () => route(true));
  route(false);
}

main();
