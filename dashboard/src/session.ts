/**
 * @module Where the API key lives while the tab is open.
 *
 * sessionStorage (not localStorage): the key is a full-access secret, so it should go away with the
 * tab. When storage is unavailable (some private modes throw), the key is kept in memory only and
 * the dashboard still works until the page is reloaded.
 */

const STORAGE_KEY = 'leadscore.apiKey';

let memory: string | null = null;

export function loadKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? memory;
  } catch {
    return memory;
  }
}

export function saveKey(key: string): void {
  memory = key;
  try {
    sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // Memory only: see the module comment.
  }
}

export function clearKey(): void {
  memory = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing stored, nothing to clear.
  }
}
