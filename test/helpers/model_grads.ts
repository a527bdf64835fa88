/**
 * After a backward through a model: each trainable parameter's gradient as f32 values (disposed
 * and cleared on the parameter), asserting every trainable one has a gradient and, when
 * `frozenNone`, that no frozen one got a gradient buffer; and the dropout layers' call counters.
 */
import assert from 'node:assert/strict';
import type { Module } from '../../src/nn/module.js';
import { Dropout } from '../../src/nn/dropout.js';

export async function takeGrads(model: Module, frozenNone = false): Promise<Map<string, Float32Array>> {
  const grads = new Map<string, Float32Array>();
  for (const [n, p] of model.namedParameters()) {
    if (!p.requiresGrad) {
      if (frozenNone) assert.equal(p.grad, null, `${n}: frozen, yet has a gradient`);
      continue;
    }
    assert.ok(p.grad, `${n}: no gradient`);
    grads.set(n, Float32Array.from(await p.grad.dataRaw()));
    p.grad.dispose();
    p.grad = null;
  }
  return grads;
}

export function dropoutCalls(model: Module): number[] {
  return model.namedModules().filter(([, m]) => m instanceof Dropout).map(([, m]) => (m as Dropout).calls);
}
