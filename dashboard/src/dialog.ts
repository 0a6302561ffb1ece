/**
 * @module A confirmation in a modal `<dialog>`: the question, Cancel (focused first, the safe
 * choice) and the action, which runs inside the dialog so that its failure is shown there with a
 * way to try again.
 *
 * `showModal` makes the rest of the page inert, traps Tab inside and closes on Escape; focus goes
 * back to the button that opened it. While the action runs its button only ignores clicks (it is not
 * disabled, which would throw focus out of the dialog), so a double click runs it once.
 */
import { type ApiError, isUnauthorized } from './api';
import { type Child, focusQuietly, h, setChildren, setText } from './dom';

export interface ConfirmOptions {
  /** Where the dialog element lives while open (the view's root, so that clearing the view removes it). */
  host: HTMLElement;
  title: string;
  /** The question, naming exactly what will happen. */
  message: Child;
  /** More detail under the question. */
  detail?: Child;
  confirmLabel: string;
  busyLabel: string;
  /** A destructive action gets the danger colour. */
  danger?: boolean;
  /** Runs on confirm; a throw keeps the dialog open with the error and a "Try again". */
  action(): Promise<void>;
  /** After a 401: the dialog is closed first. */
  onUnauthorized(err: ApiError): void;
  /** Once closed: `done` when the action succeeded, false when cancelled (or the view was left). */
  onClose?(done: boolean): void;
  /** Where focus goes when the opener is gone by the time the dialog closes. */
  fallbackFocus?: () => HTMLElement | null | undefined;
}

export interface ConfirmHandle {
  /** Closes without running (the view is being left). */
  close(): void;
}

let serial = 0;

export function confirmDialog(opts: ConfirmOptions): ConfirmHandle {
  const n = ++serial;
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const confirm = h('button', { type: 'button', class: opts.danger ? 'danger' : null, 'data-confirm': '' }, opts.confirmLabel);
  const error = h('p', { class: 'alert', role: 'alert' });
  const dialog = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': `confirm-${n}-title`, 'aria-describedby': `confirm-${n}-message` },
    h('h2', { id: `confirm-${n}-title` }, opts.title),
    h('p', { id: `confirm-${n}-message`, class: 'confirm-message' }, opts.message),
    opts.detail ? h('div', { class: 'confirm-detail' }, opts.detail) : null,
    error,
    h('div', { class: 'confirm-actions' }, cancel, confirm),
  );
  let busy = false;
  let closed = false;

  const close = (done = false) => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    const target = opener?.isConnected ? opener : opts.fallbackFocus?.();
    focusQuietly(target);
    opts.onClose?.(done);
  };

  cancel.addEventListener('click', () => {
    if (!busy) close();
  });
  // Escape closes, unless the action is under way; a browser may close it anyway (a second Escape):
  // the action's outcome is reported by the view either way.
  dialog.addEventListener('cancel', (event) => {
    if (busy) event.preventDefault();
  });
  dialog.addEventListener('close', () => close());
  confirm.addEventListener('click', () => {
    if (busy) return;
    busy = true;
    dialog.setAttribute('aria-busy', 'true');
    setText(confirm, opts.busyLabel);
    setText(error, '');
    opts.action().then(
      () => {
        busy = false;
        close(true);
      },
      (err: unknown) => {
        busy = false;
        if (closed) return;
        dialog.removeAttribute('aria-busy');
        if (isUnauthorized(err)) {
          close();
          opts.onUnauthorized(err);
          return;
        }
        setText(confirm, 'Try again');
        setChildren(error, err instanceof Error ? err.message : String(err));
        focusQuietly(confirm);
      },
    );
  });

  opts.host.appendChild(dialog);
  dialog.showModal();
  focusQuietly(cancel);
  return { close: () => close(false) };
}
