/** @module Settings read from the snippet's own script tag. */

// No initial values: readConfig sets them all before anything reads them, and every byte counts.
/** Public site key, `pk_…`. */
export let site: string;
/** Collect endpoint: `data-api` (path or URL) resolved against the script's own URL. */
export let endpoint: string;
/** Honour Do Not Track / Global Privacy Control (off only with `data-respect-dnt="false"`). */
export let respectDnt: boolean;
/** `data-consent="required"`: nothing is sent or stored before `leadscore('consent', true)`. */
export let consentRequired: boolean;
/** `data-hash="true"`: the URL's #fragment names the page (hash-routed single-page apps). */
export let hash: boolean;
/** `data-download-extensions`: more file extensions whose links count as downloads ("dwg, step"). */
export let extensions: string;

/**
 * False when no tag carries `data-site`. Must run synchronously at load: `document.currentScript`
 * is only set while the script itself runs.
 */
export const readConfig = (): boolean => {
  const s = (document.currentScript || document.querySelector('script[data-site]')) as HTMLScriptElement;
  const d = s?.dataset;
  if (!d?.site) return false;
  site = d.site;
  // The script's origin, so a worker served first-party under the site's domain stays first-party.
  endpoint = new URL(d.api || '/v1/collect', s.src || location.href).href;
  respectDnt = d.respectDnt != 'false';
  consentRequired = d.consent == 'required';
  hash = d.hash == 'true';
  extensions = d.downloadExtensions || '';
  return true;
};
