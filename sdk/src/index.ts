/** @module Entry point: reads the script tag, installs the global, starts capture. */
import { leadscore } from './api';
import { captureDownloads } from './capture-downloads';
import { captureForms } from './capture-forms';
import { capturePageviews } from './capture-pageviews';
import { readConfig } from './config';
import { initPrivacy } from './privacy';
import { safe } from './safe';
import { initTransport, retry } from './transport';

type Stub = { q?: Iterable<unknown>[]; v?: number };
const w = window as unknown as { leadscore?: Stub | typeof leadscore };
const stub = w.leadscore;

if (!stub?.v)
  safe(() => {
    if (!readConfig()) return;
    initTransport();
    initPrivacy();
    w.leadscore = leadscore;
    // Replayed first, so a consent granted in the stub queue covers the initial page view.
    for (const a of (stub as Stub | undefined)?.q || []) leadscore(...(a as [string]));
    capturePageviews();
    captureDownloads();
    captureForms();
    retry();
  })();
