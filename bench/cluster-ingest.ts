/**
 * Ingest on three shards against one, same machine, same run: the execution store's `add` (the
 * Lua call per shard and hour that dedups and stores, as the ingest route calls it) with the
 * records of BENCH_CLUSTER_PARALLEL batches of 1,000 in flight at once, on one redis-server with
 * the single-server layout and on a local three-master Redis Cluster with the cluster layout
 * (sixteen execution shards over the three masters). Rounds alternate, so drift affects both.
 * The records are checked and pseudonymized before the clock starts: this measures Redis' side,
 * which is what more shards add to.
 *
 * On one machine the three masters share its cores with each other and with the client, so the
 * ratio says what the layout allows, not what three machines give: each master is single-threaded,
 * and on separate machines each has a core of its own.
 */
import { checkBatch, hmacPseudonymizer, type ExecutionRecord } from '../src/domain/meta-monitor/executions.js';
import { keyLayout } from '../src/key-layout.js';
import { closeRedis, createRedis, waitReady } from '../src/redis.js';
import { freePort, startRedisServer } from '../src/redis-server.js';
import { createExecutionStore } from '../src/store/executions.store.js';
import { testHmacKey } from '../test/helpers/app.js';
import { startLocalCluster } from '../test/cluster/local-cluster.js';
import { makeBatch } from './ingest.js';

const total = Number(process.env.BENCH_CLUSTER_RECORDS ?? 200_000);
const parallel = Number(process.env.BENCH_CLUSTER_PARALLEL ?? 8);
const batch = 1_000;

export async function clusterIngestBench(): Promise<{ ok: boolean }> {
  const single = await startRedisServer({ port: await freePort() });
  const cluster = await startLocalCluster({});
  const one = createRedis(single.url, 'job', 'bench-one-shard');
  const three = createRedis(`redis+cluster://127.0.0.1:${cluster.nodes[0]?.port ?? 0}`, 'job', 'bench-three-shards');
  try {
    await Promise.all([waitReady(one), waitReady(three)]);
    const stores = {
      one: createExecutionStore(one, keyLayout('bench', 'single').executionTags(), { retentionDays: 1 }),
      three: createExecutionStore(three, keyLayout('bench', 'spread').executionTags(), { retentionDays: 1 }),
    };
    const pseudonymize = hmacPseudonymizer(testHmacKey);
    const now = Date.now();
    const batches = Math.ceil(total / batch);
    const prepared: ExecutionRecord[][] = Array.from({ length: batches + parallel }, (_, b) => checkBatch(makeBatch('cl', b * batch, now), pseudonymize, { oldestMs: 0 }).records);
    const ms = { one: 0, three: 0 };
    const accepted = { one: 0, three: 0 };
    const round = async (side: 'one' | 'three', from: number) => {
      const t0 = performance.now();
      const answers = await Promise.all(prepared.slice(from, from + parallel).map((records) => stores[side].add(records)));
      ms[side] += performance.now() - t0;
      accepted[side] += answers.reduce((a, r) => a + r.accepted, 0);
    };
    // Warm-up: the last `parallel` batches, not counted.
    await round('one', batches);
    await round('three', batches);
    Object.assign(ms, { one: 0, three: 0 });
    Object.assign(accepted, { one: 0, three: 0 });
    for (let b = 0; b < batches; b += parallel) {
      await round('one', b);
      await round('three', b);
    }
    if (accepted.one !== accepted.three || accepted.one !== Math.min(total, batches * batch)) {
      throw new Error(`the two stores accepted ${accepted.one} and ${accepted.three} records, not ${batches * batch} each`);
    }
    const rate = { one: accepted.one / (ms.one / 1000), three: accepted.three / (ms.three / 1000) };
    const perMaster = await Promise.all((await cluster.masters()).map(async (m) => cluster.keysOn(m.port)));
    console.table([
      {
        benchmark: `execution ingest through the store, ${accepted.one} records, ${parallel} batches of ${batch} in flight`,
        'three shards': `${rate.three.toFixed(0)} records/s (keys per master ${perMaster.join('/')})`,
        'one shard': `${rate.one.toFixed(0)} records/s`,
        ratio: (rate.three / rate.one).toFixed(2),
        note: 'one machine: the three masters share its cores with each other and the client',
      },
    ]);
    return { ok: true };
  } finally {
    await Promise.all([closeRedis(one), closeRedis(three)]);
    await cluster.stop();
    await single.stop();
  }
}
