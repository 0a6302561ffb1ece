/** A stack of its own for one test file: ports nobody uses, a new state folder, so files never share. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startStack } from '../../scripts/lib/stack.js';

export type Stack = Awaited<ReturnType<typeof startStack>>;

export async function freshStack(name: string, options: { cronEveryMs?: number } = {}): Promise<Stack> {
  return startStack({ workerPort: await freePort(), demoPort: await freePort(), stateDir: mkdtempSync(join(tmpdir(), `leadscore-${name}-`)), ...options });
}
