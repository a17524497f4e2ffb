/**
 * The compiled program the process benchmarks run, `node dist/main.js`, as the image runs it (no
 * TypeScript loader in the process). `buildDist()` runs `npm run build`'s compiler
 * (`tsc -p tsconfig.build.json`) once per bench run, so the figures are of the working tree, and
 * compiles the idle baseline (bench/bare-fleet.ts) beside it to dist/bench/bare-fleet.js.
 *
 * BENCH_SKIP_BUILD=1 skips the compiler for quick trials: dist/main.js must then exist, and is
 * used as it is (whatever it was built from).
 */
import { execFile } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { root } from './processes.js';

const run = promisify(execFile);

/** Node arguments of the compiled program and of the idle baseline. */
export interface Dist {
  main: string;
  bareFleet: string;
}

let built: Promise<Dist> | undefined;

async function build(): Promise<Dist> {
  const main = join(root, 'dist', 'main.js');
  if (process.env.BENCH_SKIP_BUILD === '1') {
    await access(main).catch(() => {
      throw new Error(`BENCH_SKIP_BUILD=1 but ${main} does not exist: run npm run build first`);
    });
    process.stderr.write(`bench: BENCH_SKIP_BUILD=1: using ${main} as it is\n`);
  } else {
    const started = performance.now();
    process.stderr.write('bench: compiling the service (tsc -p tsconfig.build.json) to dist/\n');
    await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root });
    process.stderr.write(`bench: compiled in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  }
  const source = await readFile(join(root, 'bench', 'bare-fleet.ts'), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 }, fileName: 'bare-fleet.ts' });
  const bareFleet = join(root, 'dist', 'bench', 'bare-fleet.js');
  await mkdir(join(root, 'dist', 'bench'), { recursive: true });
  await writeFile(bareFleet, outputText);
  return { main, bareFleet };
}

/** Compiles once per process; later calls get the same result. */
export function buildDist(): Promise<Dist> {
  built ??= build();
  return built;
}
