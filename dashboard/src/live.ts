/**
 * @module Polling that respects the user: one run at a time, paused while the tab is hidden.
 *
 * The next run is scheduled only when the previous one has finished (no pile-up on a slow network),
 * and a hidden tab stops scheduling altogether; becoming visible again refreshes at once.
 */

export interface Poller {
  /** Runs now (aborting a run in flight) and keeps polling. */
  start(): void;
  /** Stops polling and aborts a run in flight; its result is dropped. */
  stop(): void;
}

/** A function, not an inline test: TypeScript would otherwise narrow the state across an `await`. */
const tabHidden = (): boolean => document.visibilityState === 'hidden';

export function createPoller(run: (signal: AbortSignal) => Promise<void>, intervalMs: number, onPause?: () => void): Poller {
  let running = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let controller: AbortController | undefined;

  const clear = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  const tick = async () => {
    clear();
    if (!running) return;
    if (tabHidden()) {
      onPause?.();
      return;
    }
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    try {
      await run(mine.signal);
    } catch {
      // `run` reports its own failures; polling goes on whatever happened.
    } finally {
      // Only the latest run schedules the next one; an aborted run has been superseded.
      if (controller === mine) {
        controller = undefined;
        if (running && !mine.signal.aborted && !tabHidden()) {
          timer = setTimeout(() => void tick(), intervalMs);
        }
      }
    }
  };

  const onVisibility = () => {
    if (!running) return;
    if (tabHidden()) {
      clear();
      onPause?.();
    } else if (controller === undefined) {
      void tick();
    }
  };

  return {
    start() {
      if (!running) document.addEventListener('visibilitychange', onVisibility);
      running = true;
      void tick();
    },
    stop() {
      running = false;
      clear();
      controller?.abort();
      controller = undefined;
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
