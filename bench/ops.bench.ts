/**
 * Core-op throughput, radgrad side by side with TensorFlow.js (its WebGPU backend on the same Dawn
 * adapter) and jax-js (its Wasm CPU backend: jax-js has no WebGPU in Node) in the same process.
 * Elementwise ops and reductions in GB/s (bytes read + written once), matmul and the MLP step in
 * GFLOP/s. Each sample runs the op and waits for the device: radgrad `backend.sync()`, tfjs a queue
 * submit + onSubmittedWorkDone (readback when its internals are not reachable), jax-js
 * `blockUntilReady`. Best tinybench sample over 2 alternating rounds per op (the libraries take turns,
 * so load from other processes affects all of them alike). Run: npm run bench -- ops
 * (BENCH_TIME_MS: time budget per measurement, default 1000; BENCH_ROUNDS: rounds, default 2;
 * BENCH_OPS: comma-separated op keys to run, e.g. add,layernorm; default all)
 */
import { Bench } from 'tinybench';
import { create, globals } from 'webgpu';
import { getBackend } from '../src/backend/registry.js';
import { backward, zeroGrad } from '../src/autograd/tape.js';
import { tidy } from '../src/tensor/scope.js';
import type { Tensor } from '../src/tensor/tensor.js';
import * as rg from '../src/ops/index.js';

type Row = Record<string, string | number>;

/** One measured op: `work` is bytes moved (GB/s) or flops (GFLOP/s) per call. */
interface OpSpec {
  key: string;
  op: string;
  size: string;
  unit: 'GB/s' | 'GFLOP/s';
  work: number;
}

/** Per library: a prepared runner per op key (inputs made once), or why the op is missing. */
type Runner = () => Promise<void>;
interface Lib {
  name: string;
  setup(spec: OpSpec): Promise<Runner | string>;
  teardown(): Promise<void>;
}

const EW = [1024, 1024] as const; // 1M elements for elementwise ops, reductions, softmax, layer norm
const N_EW = EW[0] * EW[1];
const MLP = { batch: 256, din: 512, hidden: 1024 };
const MLP_FLOPS = 3 * 2 * MLP.batch * (MLP.din * MLP.hidden * 2); // forward 2 matmuls, backward ≈ 2× forward

const SPECS: OpSpec[] = [
  { key: 'add', op: 'add', size: '1024×1024', unit: 'GB/s', work: 3 * 4 * N_EW },
  { key: 'gelu', op: 'gelu (erf)', size: '1024×1024', unit: 'GB/s', work: 2 * 4 * N_EW },
  { key: 'sum', op: 'sum (last axis)', size: '1024×1024', unit: 'GB/s', work: 4 * N_EW },
  { key: 'mean0', op: 'mean (axis 0)', size: '1024×1024', unit: 'GB/s', work: 4 * N_EW },
  ...[256, 512, 1024].map((n) => ({ key: `matmul${n}`, op: 'matmul', size: `${n}³`, unit: 'GFLOP/s' as const, work: 2 * n ** 3 })),
  { key: 'softmax', op: 'softmax (last axis)', size: '1024×1024', unit: 'GB/s', work: 2 * 4 * N_EW },
  { key: 'layernorm', op: 'layer norm (+w, b)', size: '1024×1024', unit: 'GB/s', work: 2 * 4 * N_EW },
  // Forward + backward with a given upstream gradient dy: bytes of x, y, dy and dx once each.
  { key: 'softmax_fb', op: 'softmax fwd+bwd', size: '1024×1024', unit: 'GB/s', work: 4 * 4 * N_EW },
  { key: 'layernorm_fb', op: 'layer norm fwd+bwd', size: '1024×1024', unit: 'GB/s', work: 4 * 4 * N_EW },
  { key: 'mlp', op: 'MLP fwd+bwd', size: `${MLP.batch}×${MLP.din}→${MLP.hidden}→${MLP.din}`, unit: 'GFLOP/s', work: MLP_FLOPS },
];

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);

/** Best latency (ms) of fn over tinybench samples (at least 3 after one warm-up call). */
async function bestMs(name: string, fn: Runner): Promise<number> {
  const b = new Bench({ time: TIME_MS, iterations: 3, warmup: true, warmupIterations: 1, throws: true });
  b.add(name, fn);
  await b.run();
  const r = b.tasks[0]!.result as { state: string; latency?: { min: number }; error?: Error };
  if (r.state !== 'completed' || !r.latency) throw r.error ?? new Error(`${name}: ${r.state}`);
  return r.latency.min;
}

// ---- radgrad ---------------------------------------------------------------------------------
function radgradLib(): Lib {
  const owned: Tensor[] = [];
  const t = (shape: readonly number[], seed: number, requiresGrad = false) => {
    const x = rg.tensor(rand(shape.reduce((a, b) => a * b, 1), seed), shape, { requiresGrad });
    owned.push(x);
    return x;
  };
  const be = () => getBackend();
  const run = (f: () => Tensor): Runner => async () => {
    const y = f();
    await be().sync();
    y.dispose();
  };
  return {
    name: 'radgrad',
    async setup(spec) {
      const x = t(EW, 1);
      if (spec.key === 'add') {
        const y = t(EW, 2);
        return run(() => rg.add(x, y));
      }
      if (spec.key === 'gelu') return run(() => rg.gelu(x));
      if (spec.key === 'sum') return run(() => rg.sum(x, -1));
      if (spec.key === 'mean0') return run(() => rg.mean(x, 0));
      if (spec.key.startsWith('matmul')) {
        const n = Number(spec.key.slice(6));
        const a = t([n, n], 3);
        const b = t([n, n], 4);
        return run(() => rg.matmul(a, b));
      }
      if (spec.key === 'softmax') return run(() => rg.softmax(x));
      if (spec.key === 'layernorm') {
        const w = t([EW[1]], 5);
        const b = t([EW[1]], 6);
        return run(() => rg.layerNorm(x, w, b, 1e-5));
      }
      if (spec.key === 'softmax_fb' || spec.key === 'layernorm_fb') {
        const xg = t(EW, 1, true);
        const dy = t(EW, 12);
        const params = spec.key === 'layernorm_fb' ? [t([EW[1]], 5, true), t([EW[1]], 6, true)] : [];
        const f = () => (params.length ? rg.layerNorm(xg, params[0]!, params[1]!, 1e-5) : rg.softmax(xg));
        return async () => {
          const y = tidy(() => {
            const out = f();
            backward(out, dy);
            return out;
          });
          await be().sync();
          y.dispose();
          zeroGrad([xg, ...params]);
        };
      }
      if (spec.key === 'mlp') {
        const xin = t([MLP.batch, MLP.din], 7);
        const w1 = t([MLP.din, MLP.hidden], 8, true);
        const b1 = t([MLP.hidden], 9, true);
        const w2 = t([MLP.hidden, MLP.din], 10, true);
        const b2 = t([MLP.din], 11, true);
        return async () => {
          const loss = tidy(() => {
            const h = rg.gelu(rg.add(rg.matmul(xin, w1), b1));
            const y = rg.add(rg.matmul(h, w2), b2);
            const l = rg.mean(rg.mul(y, y));
            backward(l);
            return l;
          });
          await be().sync();
          loss.dispose();
          zeroGrad([w1, b1, w2, b2]);
        };
      }
      return 'not measured';
    },
    async teardown() {
      for (const x of owned.splice(0)) x.dispose();
      await getBackend().sync();
    },
  };
}

// ---- TensorFlow.js (WebGPU backend on the same Dawn adapter) ---------------------------------
type Tf = typeof import('@tensorflow/tfjs');

async function tfjsLib(): Promise<Lib | string> {
  let tf: Tf;
  try {
    Object.assign(globalThis, globals);
    const g = globalThis as { navigator?: { gpu?: unknown } };
    // tfjs looks for navigator.gpu; a separate Dawn instance (Node 20 has no global navigator).
    if (!g.navigator?.gpu) Object.defineProperty(globalThis, 'navigator', { value: { gpu: create([]) }, configurable: true, writable: true });
    tf = await import('@tensorflow/tfjs');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return 'tf.setBackend("webgpu") returned false';
    await tf.ready();
  } catch (e) {
    return `failed to load: ${(e as Error).message.split('\n')[0]}`;
  }
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  const backend = tf.backend() as unknown as {
    ensureCommandEncoderReady?: () => void; endComputePassEncoder?: () => void; submitQueue?: () => void;
    device?: GPUDevice;
  };
  const canSubmit = !!(backend.ensureCommandEncoderReady && backend.endComputePassEncoder && backend.submitQueue && backend.device);
  /** Waits for the GPU without reading results back when tfjs' internals allow it. */
  const sync = async (y: import('@tensorflow/tfjs').Tensor) => {
    if (canSubmit) {
      backend.ensureCommandEncoderReady!();
      backend.endComputePassEncoder!();
      backend.submitQueue!();
      await backend.device!.queue.onSubmittedWorkDone();
    } else await y.data();
  };
  const owned: Array<{ dispose(): void }> = [];
  const t = (shape: number[], seed: number) => {
    const x = tf.tensor(rand(shape.reduce((a, b) => a * b, 1), seed), shape);
    owned.push(x);
    return x;
  };
  const run = (f: () => import('@tensorflow/tfjs').Tensor): Runner => async () => {
    const y = f();
    await sync(y);
    y.dispose();
  };
  return {
    name: 'tfjs',
    async setup(spec) {
      const x = t([...EW], 1);
      if (spec.key === 'add') {
        const y = t([...EW], 2);
        return run(() => tf.add(x, y));
      }
      // tfjs has no gelu op: the exact form from its erf (five kernels).
      if (spec.key === 'gelu') return run(() => tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1))));
      if (spec.key === 'sum') return run(() => tf.sum(x, -1));
      if (spec.key === 'mean0') return run(() => tf.mean(x, 0));
      if (spec.key.startsWith('matmul')) {
        const n = Number(spec.key.slice(6));
        const a = t([n, n], 3);
        const b = t([n, n], 4);
        return run(() => tf.matMul(a, b));
      }
      if (spec.key === 'softmax') return run(() => tf.softmax(x));
      const layerNorm = (v: import('@tensorflow/tfjs').Tensor, w: import('@tensorflow/tfjs').Tensor, b: import('@tensorflow/tfjs').Tensor) => {
        const { mean, variance } = tf.moments(v, -1, true);
        return tf.add(tf.mul(tf.mul(tf.sub(v, mean), tf.rsqrt(tf.add(variance, 1e-5))), w), b);
      };
      if (spec.key === 'layernorm') {
        const w = t([EW[1]], 5);
        const b = t([EW[1]], 6);
        return run(() => tf.tidy(() => layerNorm(x, w, b)));
      }
      if (spec.key === 'softmax_fb' || spec.key === 'layernorm_fb') {
        const dy = t([...EW], 12);
        const ln = spec.key === 'layernorm_fb';
        const inputs = ln ? [x, t([EW[1]], 5), t([EW[1]], 6)] : [x];
        // tf.grads: the gradients of every input for the upstream gradient dy (forward included).
        const g = ln ? tf.grads((v, w, b) => layerNorm(v, w!, b!)) : tf.grads((v) => tf.softmax(v));
        return async () => {
          const gs = g(inputs, dy);
          await sync(gs[0]!);
          tf.dispose(gs);
        };
      }
      if (spec.key === 'mlp') {
        const xin = t([MLP.batch, MLP.din], 7);
        const vars = [t([MLP.din, MLP.hidden], 8), t([MLP.hidden], 9), t([MLP.hidden, MLP.din], 10), t([MLP.din], 11)].map((v) => tf.variable(v));
        owned.push(...vars);
        const [w1, b1, w2, b2] = vars as [import('@tensorflow/tfjs').Variable, import('@tensorflow/tfjs').Variable, import('@tensorflow/tfjs').Variable, import('@tensorflow/tfjs').Variable];
        const gelu = (h: import('@tensorflow/tfjs').Tensor) => tf.mul(tf.mul(h, 0.5), tf.add(tf.erf(tf.mul(h, Math.SQRT1_2)), 1));
        return async () => {
          const { value, grads } = tf.variableGrads(() => {
            const h = gelu(tf.add(tf.matMul(xin, w1), b1));
            const y = tf.add(tf.matMul(h, w2), b2);
            return tf.mean(tf.mul(y, y)) as import('@tensorflow/tfjs').Scalar;
          });
          await sync(value);
          value.dispose();
          tf.dispose(grads);
        };
      }
      return 'not measured';
    },
    async teardown() {
      for (const x of owned.splice(0)) x.dispose();
    },
  };
}

// ---- jax-js (Wasm CPU backend in Node) -------------------------------------------------------
async function jaxLib(): Promise<Lib | string> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let jax: any;
  try {
    jax = await import('@jax-js/jax');
    const devices: string[] = await jax.init('wasm');
    if (!devices.includes('wasm')) return `no wasm device (have ${devices.join(', ')})`;
    jax.defaultDevice('wasm');
  } catch (e) {
    return `failed to load: ${(e as Error).message.split('\n')[0]}`;
  }
  const np = jax.numpy;
  const owned: Array<{ dispose(): void }> = [];
  const t = (shape: number[], seed: number) => {
    const x = np.array(rand(shape.reduce((a, b) => a * b, 1), seed)).reshape(shape);
    owned.push(x);
    return x;
  };
  // jax-js arrays are reference counted and every op consumes its arguments: pass `.ref`.
  const run = (f: () => { dispose(): void }): Runner => async () => {
    const y = await jax.blockUntilReady(f());
    y.dispose();
  };
  return {
    name: 'jax-js',
    async setup(spec) {
      const x = t([...EW], 1);
      if (spec.key === 'add') {
        const y = t([...EW], 2);
        return run(() => np.add(x.ref, y.ref));
      }
      if (spec.key === 'gelu') return run(() => jax.nn.gelu(x.ref, { approximate: false }));
      if (spec.key === 'sum') return run(() => np.sum(x.ref, -1));
      if (spec.key === 'mean0') return run(() => np.mean(x.ref, 0));
      if (spec.key.startsWith('matmul')) {
        const n = Number(spec.key.slice(6));
        const a = t([n, n], 3);
        const b = t([n, n], 4);
        return run(() => np.matmul(a.ref, b.ref));
      }
      if (spec.key === 'softmax') return run(() => jax.nn.softmax(x.ref, -1));
      if (spec.key === 'layernorm') {
        const w = t([EW[1]], 5);
        const b = t([EW[1]], 6);
        return run(() => np.add(np.multiply(jax.nn.standardize(x.ref, -1, { epsilon: 1e-5 }), w.ref), b.ref));
      }
      if (spec.key === 'softmax_fb' || spec.key === 'layernorm_fb') return 'not measured';
      if (spec.key === 'mlp') {
        const xin = t([MLP.batch, MLP.din], 7);
        const p = { w1: t([MLP.din, MLP.hidden], 8), b1: t([MLP.hidden], 9), w2: t([MLP.hidden, MLP.din], 10), b2: t([MLP.din], 11) };
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const loss = (q: any) => {
          const h = jax.nn.gelu(np.add(np.matmul(xin.ref, q.w1), q.b1), { approximate: false });
          const y = np.add(np.matmul(h, q.w2), q.b2);
          return np.mean(np.multiply(y.ref, y));
        };
        const g = jax.grad(loss);
        return async () => {
          const grads = g({ w1: p.w1.ref, b1: p.b1.ref, w2: p.w2.ref, b2: p.b2.ref });
          await jax.blockUntilReady(grads);
          for (const v of Object.values(grads) as Array<{ dispose(): void }>) v.dispose();
        };
      }
      return 'not measured';
    },
    async teardown() {
      for (const x of owned.splice(0)) x.dispose();
    },
  };
}

const fmtRatio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? Number((a / b).toPrecision(3)) : '-');

/** Rounds per op: the libraries take turns, so that load from other processes hits all alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

/** Op keys to run (BENCH_OPS), all when unset. */
const ONLY = process.env.BENCH_OPS ? new Set(process.env.BENCH_OPS.split(',').map((k) => k.trim())) : undefined;

export async function bench(): Promise<Row[]> {
  const specs = ONLY ? SPECS.filter((s) => ONLY.has(s.key)) : SPECS;
  if (!specs.length) throw new Error(`BENCH_OPS=${process.env.BENCH_OPS} matches no op (have: ${SPECS.map((s) => s.key).join(', ')})`);
  const libs: Array<Lib | string> = [radgradLib(), await tfjsLib(), await jaxLib()];
  const names = ['radgrad', 'tfjs', 'jax-js'];
  const results = new Map<string, Map<string, number | string>>(names.map((n) => [n, new Map()]));
  for (const s of specs) {
    for (let round = 0; round < ROUNDS; round++) {
      for (let li = 0; li < libs.length; li++) {
        const lib = libs[li]!;
        const res = results.get(names[li]!)!;
        if (typeof lib === 'string') {
          res.set(s.key, lib);
          continue;
        }
        if (typeof res.get(s.key) === 'string') continue;
        try {
          const runner = await lib.setup(s);
          if (typeof runner === 'string') res.set(s.key, runner);
          else {
            const gbs = s.work / ((await bestMs(`${lib.name} ${s.key}`, runner)) / 1000) / 1e9;
            res.set(s.key, Math.max(gbs, (res.get(s.key) as number | undefined) ?? 0));
          }
        } catch (e) {
          res.set(s.key, `error: ${(e as Error).message.split('\n')[0]!.slice(0, 80)}`);
        } finally {
          await lib.teardown();
        }
      }
    }
  }
  return specs.map((s) => {
    const v = (n: string) => results.get(n)!.get(s.key);
    const num = (n: string) => (typeof v(n) === 'number' ? (v(n) as number) : undefined);
    const r = num('radgrad');
    return {
      op: s.op, size: s.size, unit: s.unit,
      radgrad: v('radgrad') ?? '-', tfjs: v('tfjs') ?? '-', 'jax-js': v('jax-js') ?? '-',
      radgrad_speedup_vs_tfjs: fmtRatio(r, num('tfjs')), 'radgrad_speedup_vs_jax-js': fmtRatio(r, num('jax-js')),
    };
  });
}
