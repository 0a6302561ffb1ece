/** @module download events for clicks on file links. */
import { emit } from './events';
import { on } from './safe';

const EXT = /\.(pdf|docx?|xlsx?|pptx?|zip|csv|txt|epub|key|od[tsp]|rar|7z|gz|dmg|exe)$/i;

const click = (e: MouseEvent) => {
  // Left or middle button: auxclick also fires for the right one, which only opens a menu.
  const a = e.button < 2 && (e.target as Element).closest?.('a');
  if (a && (a.hasAttribute('download') || EXT.test(a.pathname)))
    emit(
      'download',
      {
        url: a.href,
        title: a.textContent!.trim().slice(0, 200),
        contentType: a.dataset.leadscoreContentType,
      },
      true,
    );
};

export const captureDownloads = (): void => {
  on(document, 'click', click);
  on(document, 'auxclick', click);
};
