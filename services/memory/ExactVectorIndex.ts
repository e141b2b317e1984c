import { normalize, TopK, type VectorHit, type VectorIndex } from "./VectorIndex.js";

/**
 * Exact vector search: every stored vector is scored against the query.
 * Vectors live in one growable Float32Array (slot per memory), so a scan is a
 * tight loop over contiguous memory. It is the reference the approximate
 * index is tested against.
 */
export class ExactVectorIndex implements VectorIndex {
  protected data: Float32Array;
  protected ids: Int32Array;
  protected users: Int32Array;
  protected count = 0;
  protected readonly slotOf = new Map<number, number>();

  constructor(readonly dims: number, initialCapacity = 1024) {
    this.data = new Float32Array(initialCapacity * dims);
    this.ids = new Int32Array(initialCapacity);
    this.users = new Int32Array(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  upsert(id: number, userKey: number, vector: Float32Array): void {
    if (vector.length !== this.dims) throw new Error(`vector has ${vector.length} dimensions, the index ${this.dims}`);
    const v = normalize(vector);
    let slot = this.slotOf.get(id);
    if (slot === undefined) {
      this.grow(this.count + 1);
      slot = this.count++;
      this.slotOf.set(id, slot);
    }
    this.data.set(v, slot * this.dims);
    this.ids[slot] = id;
    this.users[slot] = userKey;
    this.onWrite(slot, v);
  }

  remove(id: number): void {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return;
    const last = this.count - 1;
    if (slot !== last) {
      // Move the last slot into the hole so the arrays stay dense.
      this.data.copyWithin(slot * this.dims, last * this.dims, (last + 1) * this.dims);
      const movedId = this.ids[last] as number;
      this.ids[slot] = movedId;
      this.users[slot] = this.users[last] as number;
      this.slotOf.set(movedId, slot);
      this.onMove(last, slot);
    }
    this.slotOf.delete(id);
    this.count--;
  }

  vectorOf(id: number): Float32Array | undefined {
    const slot = this.slotOf.get(id);
    return slot === undefined ? undefined : this.data.slice(slot * this.dims, (slot + 1) * this.dims);
  }

  search(query: Float32Array, k: number, filter: { userKey: number; allow?: (id: number) => boolean }): VectorHit[] {
    const q = normalize(query);
    const top = new TopK(k);
    const { users, ids } = this;
    for (let slot = 0; slot < this.count; slot++) {
      if (users[slot] !== filter.userKey) continue;
      const score = this.dotAt(slot, q);
      if (score <= top.floor) continue;
      const id = ids[slot] as number;
      if (filter.allow && !filter.allow(id)) continue;
      top.push(id, score);
    }
    return top.hits();
  }

  protected dotAt(slot: number, q: Float32Array): number {
    const d = this.data;
    const n = this.dims;
    const o = slot * n;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (; j + 3 < n; j += 4) {
      s0 += (d[o + j] as number) * (q[j] as number);
      s1 += (d[o + j + 1] as number) * (q[j + 1] as number);
      s2 += (d[o + j + 2] as number) * (q[j + 2] as number);
      s3 += (d[o + j + 3] as number) * (q[j + 3] as number);
    }
    for (; j < n; j++) s0 += (d[o + j] as number) * (q[j] as number);
    return s0 + s1 + s2 + s3;
  }

  protected grow(needed: number): void {
    if (needed <= this.ids.length) return;
    const cap = Math.max(needed, this.ids.length * 2);
    const data = new Float32Array(cap * this.dims);
    data.set(this.data.subarray(0, this.count * this.dims));
    this.data = data;
    const ids = new Int32Array(cap);
    ids.set(this.ids.subarray(0, this.count));
    this.ids = ids;
    const users = new Int32Array(cap);
    users.set(this.users.subarray(0, this.count));
    this.users = users;
    this.onGrow(cap);
  }

  /** Hooks for subclasses that keep per-slot side data. */
  protected onWrite(_slot: number, _v: Float32Array): void {}
  protected onMove(_from: number, _to: number): void {}
  protected onGrow(_capacity: number): void {}
}
