/** @module The facts of an event that rules test, read once per event from its URL and props. */
import type { ScoringEvent } from './types';

export interface EventFacts {
  type: string;
  ts: number;
  path: string | null;
  extension: string | null;
  contentType: string | null;
  formName: string | null;
  utmCampaign: string | null;
  props: Readonly<Record<string, unknown>>;
}

export function eventFacts(e: ScoringEvent): EventFacts {
  let path: string | null = null;
  let utmCampaign: string | null = null;
  if (e.url) {
    try {
      const u = new URL(e.url, 'http://relative.invalid');
      path = decodePath(u.pathname);
      utmCampaign = u.searchParams.get('utm_campaign');
    } catch {
      path = null;
    }
  }
  const props = e.props ?? {};
  const ext = path?.match(/\.([a-z0-9]{1,8})$/i)?.[1]?.toLowerCase() ?? null;
  return {
    type: e.type,
    ts: e.ts,
    path,
    extension: ext,
    contentType: e.contentType ? e.contentType.toLowerCase() : null,
    formName: typeof props.form === 'string' ? props.form : null,
    utmCampaign: utmCampaign ?? (typeof props.utm_campaign === 'string' ? props.utm_campaign : null),
    props,
  };
}

function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return p;
  }
}
