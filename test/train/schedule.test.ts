/**
 * Learning-rate schedules by HF lr_scheduler_type name: `constant` is get_constant_schedule (no
 * warmup), `constant_with_warmup` warms up then stays, linear/cosine as get_*_schedule_with_warmup;
 * any other name is refused (it used to fall back to linear). Warmup length as get_warmup_steps.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OpArgumentError } from '../../src/errors.js';
import { SCHEDULE_KINDS, lrFactor, warmupStepsFor, type ScheduleKind } from '../../src/train/schedule.js';

const at = (kind: ScheduleKind, steps: number[], warmupSteps = 2, totalSteps = 10) => steps.map((s) => lrFactor(s, { kind, warmupSteps, totalSteps }));

describe('lrFactor', () => {
  it('HF names', () => {
    assert.deepEqual([...SCHEDULE_KINDS], ['linear', 'cosine', 'constant', 'constant_with_warmup']);
    assert.deepEqual(at('constant', [0, 1, 2, 9]), [1, 1, 1, 1], 'constant ignores warmup (get_constant_schedule)');
    assert.deepEqual(at('constant_with_warmup', [0, 1, 2, 5, 9, 10]), [0, 0.5, 1, 1, 1, 1]);
    assert.deepEqual(at('linear', [0, 1, 2, 6, 10]), [0, 0.5, 1, 0.5, 0]);
    const cos = at('cosine', [0, 1, 2, 6, 10]);
    assert.deepEqual(cos.slice(0, 3), [0, 0.5, 1]);
    assert.ok(Math.abs(cos[3]! - 0.5) < 1e-12 && Math.abs(cos[4]!) < 1e-12);
  });
  it('refuses other names instead of training with linear decay', () => {
    for (const k of ['constant_with_restarts', 'cosine_with_restarts', 'polynomial', 'Linear']) {
      assert.throws(() => lrFactor(5, { kind: k as ScheduleKind, totalSteps: 10 }), (e: unknown) => e instanceof OpArgumentError && /one of linear, cosine, constant, constant_with_warmup/.test(e.message) && e.message.includes(JSON.stringify(k)));
    }
  });
  it('warmup steps as HF get_warmup_steps', () => {
    assert.equal(warmupStepsFor(100, 0, 0.1), 10);
    assert.equal(warmupStepsFor(7, 0, 0.1), 1, 'ceil');
    assert.equal(warmupStepsFor(100, 5, 0.5), 5, 'warmupSteps > 0 wins');
    assert.equal(warmupStepsFor(100, 0, 0), 0);
  });
});
