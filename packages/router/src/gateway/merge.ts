/**
 * Interleaves several async iterators into one stream of `[index, value]`, in arrival order.
 * Used to stream the n choices of one request over a single SSE response.
 * When the consumer stops early or one iterator throws, every other iterator is closed (return()).
 */
export async function* mergeTagged<T>(
  iters: readonly AsyncIterator<T>[],
  firsts: readonly Promise<IteratorResult<T>>[] = [],
): AsyncGenerator<[number, T], void, undefined> {
  type Settled = { i: number; r: IteratorResult<T> };
  const pending = new Map<number, Promise<Settled>>();
  const arm = (i: number, p: Promise<IteratorResult<T>>) =>
    pending.set(
      i,
      p.then((r) => ({ i, r })),
    );
  iters.forEach((it, i) => {
    arm(i, firsts[i] ?? it.next());
  });
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) {
        pending.delete(i);
        continue;
      }
      arm(i, iters[i]!.next());
      yield [i, r.value];
    }
  } finally {
    // Close the iterators that did not finish (their pending reads are dropped).
    for (const i of pending.keys()) {
      pending.get(i)?.catch(() => {});
      void iters[i]!.return?.().catch(() => {});
    }
  }
}
