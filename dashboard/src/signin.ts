/**
 * @module The sign-in form: checks an API key against `GET /v1/bands` before keeping it.
 *
 * The form is static markup in index.html (so it is there before the script runs and for the tests'
 * hooks); this module only wires it. A failed attempt is reported in the form's `role="alert"`
 * element and the input is marked invalid; the key never leaves the input except in the request.
 */
import { Api, isAbort } from './api';
import { focusQuietly, setText } from './dom';

export interface SigninOptions {
  form: HTMLFormElement;
  input: HTMLInputElement;
  /** The `role="alert"` element for errors. */
  alert: HTMLElement;
  /** Called once the server has accepted the key. */
  onSignedIn(key: string): void;
}

export interface SigninView {
  /** Resets the form, shows a message (e.g. why the session ended) and focuses the input. */
  show(message: string | null, focus: boolean): void;
}

/** Catches the obvious mistakes before a round trip, with a message that says what to do. */
function problemWith(key: string): string | null {
  if (key === '') return 'Enter your API key.';
  if (key.startsWith('pk_')) return 'This is a site key (pk_…), which can only send events. Sign in with a secret API key (sk_…).';
  // Only printable ASCII can travel in an HTTP header; fetch would otherwise throw an opaque error.
  if (!/^[\x21-\x7e]+$/.test(key)) return 'An API key contains no spaces or special characters; check what was pasted.';
  return null;
}

export function createSignin(opts: SigninOptions): SigninView {
  const button = opts.form.querySelector<HTMLButtonElement>('button[type="submit"]');
  let pending: AbortController | null = null;

  const showError = (message: string | null) => {
    setText(opts.alert, message ?? '');
    if (message) opts.input.setAttribute('aria-invalid', 'true');
    else opts.input.removeAttribute('aria-invalid');
  };

  const setBusy = (busy: boolean) => {
    opts.form.setAttribute('aria-busy', String(busy));
    if (button) {
      button.disabled = busy;
      setText(button, busy ? 'Signing in…' : 'Sign in');
    }
  };

  opts.form.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = opts.input.value.trim();
    const problem = problemWith(key);
    if (problem) {
      showError(problem);
      focusQuietly(opts.input);
      return;
    }
    pending?.abort();
    const mine = new AbortController();
    pending = mine;
    showError(null);
    setBusy(true);
    new Api(key)
      .bands(mine.signal)
      .then(
        () => {
          if (pending !== mine) return;
          // Do not leave the secret sitting in the DOM once it has been stored.
          opts.input.value = '';
          opts.onSignedIn(key);
        },
        (err: unknown) => {
          if (pending !== mine || isAbort(err)) return;
          const message = err instanceof Error ? err.message : String(err);
          showError(`Sign-in failed: ${message}`);
          focusQuietly(opts.input);
        },
      )
      .finally(() => {
        if (pending === mine) {
          pending = null;
          setBusy(false);
        }
      });
  });

  return {
    show(message, focus) {
      pending?.abort();
      pending = null;
      setBusy(false);
      opts.input.value = '';
      showError(message);
      if (focus) focusQuietly(opts.input);
    },
  };
}
