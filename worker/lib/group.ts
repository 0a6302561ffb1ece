/** @module Rows grouped by a key. */

/** `items` grouped by `key`, each group in the items' order, the groups in the order first met. */
export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    // Pushed, not copied: a group of n items is built in n steps, not n²/2.
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
