/** ModuleList: children named '0', '1', ... (HF paths such as "layers.3.fc1.weight"). */
import { ModuleError, Module } from './module.js';

export class ModuleList<M extends Module = Module> extends Module {
  #items: M[] = [];

  constructor(items: Iterable<M> = []) {
    super();
    for (const m of items) this.push(m);
  }

  push(m: M): void {
    this.addModule(String(this.#items.length), m);
    this.#items.push(m);
  }

  get length(): number {
    return this.#items.length;
  }

  /** The i-th module, read from the registry so setSubmodule('layers.3', ...) is honoured. */
  at(i: number): M {
    if (!Number.isInteger(i) || i < 0 || i >= this.#items.length) throw new ModuleError(`ModuleList index ${i} out of range [0, ${this.#items.length})`);
    return this.child<M>(String(i));
  }

  *[Symbol.iterator](): Iterator<M> {
    for (let i = 0; i < this.#items.length; i++) yield this.at(i);
  }
}
