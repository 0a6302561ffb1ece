#!/usr/bin/env node
/** `npm start`: the whole product locally, keys printed, until Ctrl-C. */
import { startStack } from './lib/stack.js';

const stack = await startStack({
  workerPort: Number(process.env.PORT ?? 8787),
  demoPort: Number(process.env.DEMO_PORT ?? 8788),
}).catch((err) => {
  console.error(`npm start stopped: ${err.message}`);
  process.exit(1);
});
console.log(`
leadscore is running (wrangler's log: .leadscore/wrangler.log)

demo site: ${stack.demoUrl}
dashboard: ${stack.dashboardUrl}
worker:    ${stack.workerUrl}
site key: ${stack.siteKey}
api key: ${stack.apiKey}

Browse the demo site, fill in its demo-request form, then sign in to the dashboard with the API key.
Press Ctrl-C to stop.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
