/** @module download events for clicks on file links. */
import { extensions } from './config';
import { emit } from './events';
import { on } from './safe';

let ext: RegExp;

const click = (e: MouseEvent) => {
  // Left or middle button: auxclick also fires for the right one, which only opens a menu.
  const a = e.button < 2 && (e.target as Element).closest?.('a');
  if (a && (a.hasAttribute('download') || ext.test(a.pathname)))
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
  // Only word characters of the owner's list reach the pattern: ".dwg, step" adds dwg and step,
  // and no stray symbol can break the expression.
  ext = RegExp(
    `\\.(${('pdf doc docx xls xlsx ppt pptx zip csv txt epub key odt ods odp ' + extensions).match(/\w+/g)!.join('|')})$`,
    'i',
  );
  on(document, 'click', click);
  on(document, 'auxclick', click);
};
