/** @module Guards: nothing the snippet does may throw into, or log in, the host page. */

/** Wraps `f` so any error it raises is swallowed. */
export const safe =
  <A extends unknown[]>(f: (...a: A) => unknown) =>
  (...a: A): void => {
    try {
      f(...a);
    } catch {}
  };

/** Capture phase, so a page handler that stops propagation cannot hide the event from us. */
export const on = <E extends Event>(t: EventTarget, type: string, f: (e: E) => unknown): void =>
  t.addEventListener(type, safe(f) as EventListener, true);
