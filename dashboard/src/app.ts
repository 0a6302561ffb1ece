/**
 * @module The dashboard's entry point: wires the views to the hash route and the session.
 *
 * Seven views share the page, one visible at a time: sign-in, segments (`#`), a lead
 * (`#lead/<id>`), the scoring model editor (`#model`), the model's quality (`#quality`), nurturing
 * (`#nurturing`) and a band's members (`#band/<name>`). Without a session every route shows the sign-in form, and the route is
 * kept so that a shared lead link opens once signed in. A 401 from any call means the session ended
 * (expired, signed out in another tab, key revoked): back to sign-in with the server's message.
 */
import { Api, type ApiError, isUnauthorized } from './api';
import { byId, focusQuietly, showOnly } from './dom';
import { createLeadView } from './lead';
import { createMembersView } from './members';
import { createModelEditor } from './model-editor';
import { createNurturingView } from './nurturing';
import { createQualityView } from './quality';
import { bandHref, MODEL_HREF, parseRoute } from './router';
import { createSegmentsView } from './segments';
import { createSignin } from './signin';

type ViewName = 'signin' | 'segments' | 'lead' | 'model' | 'quality' | 'nurturing' | 'band';

function main(): void {
  const signinView = byId('signin-view');
  const segmentsView = byId('segments-view');
  const leadView = byId('lead');
  const modelView = byId('model-view');
  const nurturingView = byId('nurturing-view');
  const bandView = byId('band-view');
  const qualityView = byId('quality-view');
  const views = [signinView, segmentsView, leadView, modelView, qualityView, nurturingView, bandView];
  const signoutButton = byId<HTMLButtonElement>('signout');
  const signedInOnly = [byId('nav'), signoutButton];
  const segmentsLink = byId('nav-segments');
  const modelLink = byId('nav-model');
  const qualityLink = byId('nav-quality');
  const segmentsHeading = byId('segments-title');
  const nurturingLink = byId('nav-nurturing');
  const nurturingHeading = byId('nurturing-title');

  let api: Api | null = null;
  /**
   * Until `GET /dashboard/session` answers, nothing is shown: the session cookie is out of script's
   * reach, so only the server can say whether a sign-in form is needed.
   */
  let resuming = true;
  let current: ViewName | null = null;
  /** Where the user was in the segments, to put them back there after looking at a lead. */
  let segmentsScroll = 0;
  let lastLeadId: string | null = null;
  /** The band whose members page was open, to focus its "See all" link back on the segments. */
  let lastBand: string | null = null;

  const expire = (err: ApiError) => endSession(`Signed out: ${err.message}`);

  const segments = createSegmentsView({
    container: byId('bands'),
    status: byId('updated'),
    summary: byId('segments-summary'),
    charts: byId('charts'),
    onUnauthorized: expire,
  });
  const lead = createLeadView({ root: leadView, onUnauthorized: expire });
  const modelEditor = createModelEditor({ root: modelView, onUnauthorized: expire });
  const quality = createQualityView({
    root: qualityView,
    onUnauthorized: expire,
    onPreview(model) {
      modelEditor.propose(model);
      location.hash = MODEL_HREF;
    },
  });
  const nurturing = createNurturingView({ container: byId('nurturing'), status: byId('nurturing-updated'), onUnauthorized: expire });
  const members = createMembersView({ root: bandView, onUnauthorized: expire });
  const signin = createSignin({
    form: byId<HTMLFormElement>('signin'),
    input: byId<HTMLInputElement>('api-key'),
    alert: byId('signin-error'),
    onSignedIn(signedIn) {
      api = signedIn;
      route(true);
    },
  });

  function setSignedIn(signedIn: boolean): void {
    for (const el of signedInOnly) el.hidden = !signedIn;
  }

  /** Forgets the session on this page; the server side is `Api.signOut`'s. */
  function endSession(message: string | null): void {
    api = null;
    // Take every lead off the page: the next person at this screen may not have a key.
    segments.clear();
    lead.clear();
    modelEditor.clear();
    quality.clear();
    nurturing.clear();
    members.clear();
    lastLeadId = null;
    lastBand = null;
    segmentsScroll = 0;
    route(true, message);
  }

  function route(moveFocus: boolean, message: string | null = null): void {
    if (resuming) return;
    const previous = current;
    if (!api) {
      segments.stop();
      lead.stop();
      modelEditor.stop();
      quality.stop();
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
    if (r.view !== 'model') {
      modelEditor.stop();
      modelLink.removeAttribute('aria-current');
    }
    if (r.view !== 'quality') {
      quality.stop();
      qualityLink.removeAttribute('aria-current');
    }
    if (r.view !== 'nurturing') nurturing.stop();
    if (r.view !== 'band') members.stop();
    if (r.view === 'nurturing') nurturingLink.setAttribute('aria-current', 'page');
    else nurturingLink.removeAttribute('aria-current');
    if (r.view === 'model' || r.view === 'quality') {
      // The two model pages: reached from the nav, each a page of its own at the top.
      if (previous === 'segments') segmentsScroll = window.scrollY;
      segments.stop();
      lead.stop();
      segmentsLink.removeAttribute('aria-current');
      (r.view === 'model' ? modelLink : qualityLink).setAttribute('aria-current', 'page');
      showOnly(r.view === 'model' ? modelView : qualityView, views);
      current = r.view;
      document.title = r.view === 'model' ? 'Scoring model · leadscore' : 'Model quality · leadscore';
      window.scrollTo(0, 0);
      if (r.view === 'model') modelEditor.show(api, moveFocus);
      else quality.show(api, moveFocus);
    } else if (r.view === 'nurturing' || r.view === 'band') {
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

  signoutButton.addEventListener('click', () => {
    const signingOut = api;
    if (!signingOut) return;
    segments.stop();
    lead.stop();
    signoutButton.disabled = true;
    // The sign-in form waits for the server's answer: a sign-in made before it would have its new
    // cookie cleared by this sign-out's answer.
    signingOut
      .signOut()
      .then(
        () => null,
        (err: unknown) =>
          isUnauthorized(err)
            ? null
            : `The server could not end the session (${err instanceof Error ? err.message : String(err)}); close the browser to end it.`,
      )
      .then((message) => {
        signoutButton.disabled = false;
        // Drop a lead route too: signing back in starts from the segments.
        history.replaceState(null, '', location.pathname + location.search);
        endSession(message);
      });
  });
  window.addEventListener('hashchange', () => route(true));
  Api.resume().then(
    (found) => {
      resuming = false;
      api = found;
      route(false);
    },
    (err: unknown) => {
      resuming = false;
      route(false, `Could not check whether you are signed in: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
}

main();
