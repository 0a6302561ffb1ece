/** @module The bounded memory an isolate's caches keep: recalled visitors and leads, histogram counts. */

/**
 * A Map that forgets its least recently used entries past `max` entries or `maxWeight` in all; a
 * hit moves an entry to the young end.
 */
export class Recent<V> {
  private readonly map = new Map<string, V>();
  private weight = 0;
  constructor(
    private readonly max: number,
    private readonly maxWeight = Infinity,
    private readonly weightOf: (value: V) => number = () => 0,
  ) {}
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.delete(key);
    if (this.weightOf(value) > this.maxWeight) return;
    this.map.set(key, value);
    this.weight += this.weightOf(value);
    while (this.map.size > this.max || this.weight > this.maxWeight) this.delete(this.map.keys().next().value!);
  }
  delete(key: string): void {
    const value = this.map.get(key);
    if (value === undefined) return;
    this.weight -= this.weightOf(value);
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
    this.weight = 0;
  }
}
