/**
 * @module The sign-in form: trades an API key for a session (`POST /dashboard/session`).
 *
 * The form is static markup in index.html (so it is there before the script runs and for the tests'
 * hooks); this module only wires it. A failed attempt is reported in the form's `role="alert"`
 * element and the input is marked invalid. The key never leaves the input except in that one
 * request, and is not kept anywhere afterwards: the session cookie stands for it.
 */
import { Api, isAbort } from './api';
import { focusQuietly, setText } from './dom';

export interface SigninOptions {
  form: HTMLFormElement;
  input: HTMLInputElement;
  /** The `role="alert"` element for errors. */
  alert: HTMLElement;
  /** Called once the server has accepted the key and set the session cookie. */
  onSignedIn(api: Api): void;
}

export interface SigninView {
  /** Resets the form, shows a message (e.g. why the session ended) and focuses the input. */
  show(message: string | null, focus: boolean): void;
}

/** Catches the obvious mistakes before a round trip, with a message that says what to do. */
function problemWith(key: string): string | null {
  if (key === '') return 'Enter your API key.';
  if (key.startsWith('pk_')) return 'This is a site key (pk_…), which can only send events. Sign in with a secret API key (sk_…).';
  // Keys are printable ASCII: anything else is a paste gone wrong, better said before a round trip.
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
    Api.signIn(key, mine.signal)
      .then(
        (api) => {
          if (pending !== mine) return;
          // Do not leave the secret sitting in the DOM once it has done its job.
          opts.input.value = '';
          opts.onSignedIn(api);
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
