// Loaded into every test process (scripts/run-tests.mjs): fast-check properties run from a fixed
// seed so a CI run is reproducible; FC_SEED=<n> (or FC_SEED=random) explores other inputs.
import fc from 'fast-check';

const env = process.env.FC_SEED;
const seed = env === 'random' ? Date.now() ^ (Math.random() * 2 ** 31) : Number(env ?? 20261127);
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
