/**
 * Dawn stability stress test (not a unit test): N processes × M steps of mixed dispatches,
 * pipeline creations, readbacks and forced GC; every process must exit 0 with no signal.
 *   npm run stress                      # 20 processes × 500 steps
 *   npm run stress -- --procs 3 --steps 100
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};

async function child(steps: number, seed: number): Promise<void> {
  const { initWebGpuBackend } = await import('../src/backend/webgpu/index.js');
  const { shutdownGpu, gpu } = await import('../src/gpu/device.js');
  const ops = await import('../src/ops/index.js');
  const { tidy } = await import('../src/tensor/scope.js');
  await initWebGpuBackend();
  const gc = (globalThis as { gc?: () => void }).gc;
  let rng = seed >>> 0;
  const rand = () => ((rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let s = 0; s < steps; s++) {
    const n = 1 + Math.floor(rand() * 300);
    const m = 1 + Math.floor(rand() * 40);
    const out = tidy(() => {
      const a = ops.randUniform([n, m], s * 7 + seed, -1, 1);
      const b = ops.randUniform([m, 1 + (s % 13)], s * 11 + seed, -1, 1);
      const c = ops.gelu(ops.matmul(a, b));
      const d = ops.softmax(ops.add(c, 1));
      return ops.sum(ops.mul(d, ops.transpose(ops.transpose(d))), [0]);
    });
    if (s % 5 === 0) {
      // A fresh override value forces a new pipeline creation.
      const t = ops.randUniform([n], s, 0, 1);
      const e = ops.affine(t, 1 + (s % 17), 0);
      await e.data();
      t.dispose();
      e.dispose();
    }
    if (s % 3 === 0) await out.data();
    out.dispose();
    if (gc && s % 10 === 0) gc();
  }
  const stats = gpu().pool.getStats();
  await shutdownGpu();
  gc?.();
  process.stdout.write(JSON.stringify({ ok: true, steps, bytesInUse: stats.bytesInUse }) + '\n');
}

async function parent(): Promise<void> {
  const procs = opt('procs', 20);
  const steps = opt('steps', 500);
  const parallel = opt('parallel', 2);
  const self = fileURLToPath(import.meta.url);
  let failures = 0;
  let next = 0;
  const t0 = Date.now();
  const runOne = (i: number) =>
    new Promise<void>((resolve) => {
      const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', self, '--child', '--steps', String(steps), '--seed', String(i + 1)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => p.kill('SIGKILL'), 600_000);
      p.on('exit', (code, signal) => {
        clearTimeout(timer);
        const ok = code === 0 && !signal && out.includes('"ok":true');
        if (!ok) {
          failures++;
          const tail = err.split('\n').filter((l) => !/artificially reduced/.test(l)).slice(-8).join('\n');
          console.log(`process ${i}: FAILED code=${code} signal=${signal}\n${tail}`);
        } else console.log(`process ${i}: ok ${out.trim()}`);
        resolve();
      });
    });
  const workers = Array.from({ length: Math.min(parallel, procs) }, async () => {
    while (next < procs) await runOne(next++);
  });
  await Promise.all(workers);
  console.log(`${procs} processes × ${steps} steps: ${procs - failures} passed, ${failures} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exitCode = failures ? 1 : 0;
}

if (args.includes('--child')) await child(opt('steps', 500), opt('seed', 1));
else await parent();
