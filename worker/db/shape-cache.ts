/**
 * @module The event shapes this isolate has read, by id, for every site it serves. A shape row
 * never changes and its id is never reused (AUTOINCREMENT): an entry can only outlive its row when
 * an erasure deleted the shape, and then no stored event refers to it any more. So live events
 * read a lead's history (see `db/lead-history`) and, once warm, no shape at all.
 */
import type { EventShape } from '../scoring/event-shapes';

/** Beyond this the cache starts over: some 200 bytes a shape, so a few MB of a Worker's 128 MB. */
const MAX_SHAPES = 20_000;

class ShapeCache extends Map<number, EventShape> {
  override set(id: number, shape: EventShape): this {
    if (this.size >= MAX_SHAPES && !this.has(id)) this.clear();
    return super.set(id, shape);
  }
}

export const shapeCache: Map<number, EventShape> = new ShapeCache();
