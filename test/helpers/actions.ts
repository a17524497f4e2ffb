import type { ActionRecordStore, QueueGlobalLimits, StoredApplication } from '../../src/domain/actions/index.js';

/** Action records in memory; the lock runs work one at a time, as the Redis lock does across processes. */
export function memoryRecords(): ActionRecordStore & { all: Map<string, StoredApplication> } {
  const all = new Map<string, StoredApplication>();
  let chain: Promise<unknown> = Promise.resolve();
  return {
    all,
    save: (r) => {
      all.set(r.id, structuredClone(r));
      return Promise.resolve();
    },
    get: (id) => Promise.resolve(structuredClone(all.get(id) ?? null)),
    recent: (limit) => Promise.resolve([...all.values()].reverse().slice(0, limit)),
    exclusive<T>(work: () => Promise<T>) {
      const run = chain.then(work);
      chain = run.catch(() => undefined);
      return run;
    },
  };
}

/** A queue whose global limits no test here reaches: each method throws if called. */
export function unusedQueueLimits(): QueueGlobalLimits {
  const unused = () => {
    throw new Error('not used here');
  };
  return {
    getGlobalConcurrency: unused,
    setGlobalConcurrency: unused,
    removeGlobalConcurrency: unused,
    getGlobalRateLimit: unused,
    setGlobalRateLimit: unused,
    removeGlobalRateLimit: unused,
  };
}
