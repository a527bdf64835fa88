/**
 * BioGPT as transformers' BioGptModel / BioGptForCausalLM, parameter paths included
 * ("biogpt.layers.0.self_attn.q_proj.weight"), so checkpoints and PEFT adapters map 1:1.
 *
 *   h = embed_tokens(ids) * √C (scale_embedding) + embed_positions(cumsum(mask)·mask - 1 + 2)
 *   h = dropout(h); h = layer_i(h) for each layer; h = layer_norm(h)
 *   logits = h @ Eᵀ (tied to embed_tokens) or output_projection(h)
 *
 * Inside noGrad() each layer runs in its own tidy() so inference keeps one layer's temporaries;
 * with gradients on, intermediates must live until backward(), so wrap a training step in tidy().
 */
import { RadgradError, ShapeError } from '../../errors.js';
import { withBackend } from '../../backend/registry.js';
import type { Backend } from '../../backend/types.js';
import { Tensor } from '../../tensor/tensor.js';
import { tidy } from '../../tensor/scope.js';
import { isGradEnabled, release } from '../../autograd/tape.js';
import { checkpoint } from '../../autograd/checkpoint.js';
import { add, mul } from '../../ops/elementwise.js';
import { full, tensor } from '../../ops/creation.js';
import { concat, reshape, slice } from '../../ops/shape.js';
import { crossEntropy } from '../../ops/nn/cross_entropy.js';
import { addLayerNorm } from '../../ops/nn/layer_norm.js';
import { Module, deferParameterInit } from '../../nn/module.js';
import { Embedding } from '../../nn/embedding.js';
import { LayerNorm } from '../../nn/layer_norm.js';
import { Dropout } from '../../nn/dropout.js';
import { ModuleList } from '../../nn/module_list.js';
import { Linear, linear, type LinearModule } from '../../nn/linear.js';
import { BIOGPT_LAYER_NORM_EPS, BIOGPT_POSITION_OFFSET, type BioGptConfig } from '../../io/biogpt_config.js';
import { BioGptDecoderLayer } from './decoder_layer.js';
import { keyPaddingMask, usesKeyMask } from './attention.js';
import { loadPretrainedWeights, openPretrained, type FromPretrainedOptions, type LoadReport } from './pretrained.js';
import { cacheLength, type KvCache } from './kv_cache.js';
import {
  attentionBiasHost, idTensor, isIdMatrixInput, onesMask, positionIds, shiftLabels, toIdMatrix,
  type IdMatrix, type IdMatrixInput,
} from './inputs.js';

export interface BioGptForwardInput {
  /** Token ids [B, T]: host matrix, or an i32 tensor (then the mask must be host data or absent). */
  inputIds: IdMatrixInput | Tensor;
  /** 1 = token, 0 = padding, [B, past + T] (default all ones). Host data: positions need its cumsum. */
  attentionMask?: IdMatrixInput;
  /** Keys/values of earlier positions (from a previous call's presentKeyValues). */
  pastKeyValues?: KvCache | null;
  /** Return presentKeyValues (default: true when pastKeyValues is given). */
  useCache?: boolean;
  /** Return hiddenStates (as transformers' output_hidden_states). */
  outputHiddenStates?: boolean;
}

export interface BioGptModelOutput {
  /** After the final layer_norm, [B, T, C]. */
  lastHiddenState: Tensor;
  /**
   * As transformers 5 returns them: the embedding output (input of layer 0), the output of every
   * layer but the last, then the final normalised state (numHiddenLayers + 1 tensors, [B, T, C]).
   */
  hiddenStates?: Tensor[];
  /** Keys/values of all past + T positions, one entry per layer. */
  presentKeyValues?: KvCache;
}

export interface CausalLMInput extends BioGptForwardInput {
  /** Targets [B, T] (host or i32 tensor); -100 = ignored. Shifted inside, as transformers. */
  labels?: IdMatrixInput | Tensor;
  /** Compute logits for the last position only ([B, 1, V]; generation). Not with labels. */
  lastPositionOnly?: boolean;
}

export interface CausalLMOutput {
  /** [B, T, V] (or [B, 1, V] with lastPositionOnly). */
  logits: Tensor;
  /** Mean cross-entropy over non-ignored shifted labels, [] (0 when every label is ignored). */
  loss?: Tensor;
  hiddenStates?: Tensor[];
  presentKeyValues?: KvCache;
}

/** Runs fn in its own tidy() when no graph is recorded (frees temporaries early), plainly otherwise. */
function scoped<T>(fn: () => T): T {
  return isGradEnabled() ? fn() : tidy(fn);
}

export class BioGptModel extends Module {
  readonly config: BioGptConfig;
  readonly embedScale: number;
  readonly embed_tokens: Embedding;
  readonly embed_positions: Embedding;
  readonly layers: ModuleList<BioGptDecoderLayer>;
  readonly layer_norm: LayerNorm;
  readonly dropout: Dropout;
  /** LayerDrop draws (training with config.layerdrop > 0): seed and call counter, as Dropout's. */
  layerdropSeed = 0x1a7e4d;
  /** Recompute each decoder layer in backward instead of keeping its activations (training only). */
  gradientCheckpointing = false;
  #layerdropCalls = 0;

  constructor(cfg: BioGptConfig) {
    super();
    this.config = cfg;
    const C = cfg.hiddenSize;
    this.embedScale = cfg.scaleEmbedding ? Math.sqrt(C) : 1;
    const initStd = cfg.initializerRange;
    this.embed_tokens = this.addModule('embed_tokens', new Embedding(cfg.vocabSize, C, { paddingIdx: cfg.padTokenId, initStd }));
    // transformers' learned positions: no padding row, two extra rows for the fairseq offset.
    this.embed_positions = this.addModule('embed_positions', new Embedding(cfg.maxPositionEmbeddings + BIOGPT_POSITION_OFFSET, C, { initStd }));
    this.layers = this.addModule('layers', new ModuleList<BioGptDecoderLayer>());
    for (let i = 0; i < cfg.numHiddenLayers; i++) this.layers.push(new BioGptDecoderLayer(cfg));
    this.layer_norm = this.addModule('layer_norm', new LayerNorm(C, { eps: BIOGPT_LAYER_NORM_EPS }));
    this.dropout = this.addModule('dropout', new Dropout(cfg.hiddenDropoutProb));
  }

  /** Uniform [0, 1) for LayerDrop from (layerdropSeed, call counter): reproducible, like Dropout's masks. */
  #layerdropDraw(): number {
    let h = (this.layerdropSeed ^ Math.imul(++this.#layerdropCalls, 0x9e3779b1)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
  }

  /** The backend holding the parameters; inputs are uploaded there, whatever backend is current. */
  get backend(): Backend {
    return this.embed_tokens.weight.backend;
  }

  forward(input: BioGptForwardInput): BioGptModelOutput {
    return withBackend(this.backend, () => this.forwardImpl(input));
  }

  private forwardImpl(input: BioGptForwardInput): BioGptModelOutput {
    const cfg = this.config;
    const past = input.pastKeyValues ?? null;
    const P = cacheLength(past);
    if (past && past.length !== cfg.numHiddenLayers) throw new ShapeError('BioGptModel', 'pastKeyValues', `${cfg.numHiddenLayers} layers`, `${past.length}`);
    const useCache = input.useCache ?? past !== null;

    let ids: IdMatrix | null = null;
    let B: number;
    let T: number;
    if (input.inputIds instanceof Tensor) {
      if (input.inputIds.rank !== 2 || input.inputIds.dtype !== 'i32') throw new ShapeError('BioGptModel', 'inputIds', 'an i32 tensor [B, T]', `${input.inputIds.dtype} [${input.inputIds.shape}]`);
      [B, T] = input.inputIds.shape as [number, number];
    } else {
      ids = toIdMatrix(input.inputIds, 'inputIds');
      B = ids.batch;
      T = ids.length;
      for (let i = 0; i < ids.data.length; i++) {
        const v = ids.data[i]!;
        if (v < 0 || v >= cfg.vocabSize) throw new ShapeError('BioGptModel', 'inputIds', `ids in [0, ${cfg.vocabSize})`, `${v} at [${Math.floor(i / T)}, ${i % T}]`);
      }
    }
    if (T < 1) throw new ShapeError('BioGptModel', 'inputIds', 'at least one token', `[${B}, ${T}]`);
    if (past && past[0]!.key.shape[0] !== B) throw new ShapeError('BioGptModel', 'pastKeyValues', `batch ${B}`, `batch ${past[0]!.key.shape[0]}`);
    if (input.attentionMask !== undefined && !isIdMatrixInput(input.attentionMask)) {
      throw new RadgradError('BioGptModel: attentionMask must be host data ([B, S] arrays or {data, shape})', { hint: 'position ids are a cumulative sum of the mask, computed on the host' });
    }
    const mask = input.attentionMask !== undefined ? toIdMatrix(input.attentionMask, 'attentionMask') : onesMask(B, P + T);
    if (mask.batch !== B || mask.length !== P + T) {
      throw new ShapeError('BioGptModel', 'attentionMask', `shape [${B}, ${P + T}] (past ${P} + new ${T})`, `[${mask.batch}, ${mask.length}]`);
    }

    const pos = positionIds(mask, P, BIOGPT_POSITION_OFFSET, this.embed_positions.numEmbeddings);
    const biasData = attentionBiasHost(mask, P);

    const embed = () => {
      const idT = ids ? idTensor(ids) : (input.inputIds as Tensor);
      const posT = idTensor(pos);
      let tok = this.embed_tokens.forward(idT); // [B, T, C]
      if (this.embedScale !== 1) tok = mul(tok, this.embedScale);
      return this.dropout.forward(add(tok, this.embed_positions.forward(posT))); // [B, T, C]
    };
    // Frozen embeddings (LoRA) record no graph here either: their temporaries can go at once.
    const embedGraph = isGradEnabled() && (this.embed_tokens.weight.requiresGrad || this.embed_positions.weight.requiresGrad);
    let h = embedGraph ? embed() : tidy(embed);
    const bias = biasData ? tensor(biasData, [B, 1, T, P + T]) : null; // [B, 1, T, S]

    const hidden: Tensor[] = [];
    const present: KvCache = [];
    const want = !!input.outputHiddenStates;
    const free = !isGradEnabled(); // no graph: a tensor nobody returns can go now
    const L = this.layers.length;
    // Inference hands each layer's output on unsummed (h + res), so the residual add runs inside
    // the next layer norm (forwardResidual); hidden states, LayerDrop and checkpointing need the sum.
    const fuse = free && !want && !(this.training && cfg.layerdrop > 0);
    let res: Tensor | null = null;
    // The fused attention's key padding mask, derived from the bias once instead of in every layer
    // (no graph only: it goes with the bias below).
    let keyMask: Tensor | null = null;
    if (free && bias && [...this.layers].some((l) => usesKeyMask(l.self_attn.attnImplementation, T, !!past))) keyMask = tidy(() => keyPaddingMask(bias));
    for (let i = 0; i < L; i++) {
      if (fuse) {
        const x = h;
        const xr: Tensor | null = res;
        const r = scoped((): ReturnType<BioGptDecoderLayer['forwardResidual']> => this.layers.at(i).forwardResidual(x, xr, bias, past ? past[i]! : null, keyMask));
        x.dispose();
        xr?.dispose();
        h = r.hidden;
        res = r.residual;
        if (useCache) present.push(r.present);
        else {
          r.present.key.dispose();
          r.present.value.dispose();
        }
        continue;
      }
      if (want) hidden.push(h);
      // LayerDrop as transformers: in training, skip the whole layer with probability layerdrop
      // (not while building a cache: every layer must contribute its keys and values).
      if (this.training && cfg.layerdrop > 0 && !useCache && this.#layerdropDraw() < cfg.layerdrop) continue;
      const layer = this.layers.at(i);
      const x = h;
      if (this.gradientCheckpointing && this.training && isGradEnabled() && !useCache) {
        // Keep only the layer's input; backward recomputes the layer with the same dropout masks.
        const rng = layer.namedModules().map(([, m]) => m).filter((m): m is Dropout => m instanceof Dropout);
        h = checkpoint((y) => {
          const o = layer.forward(y, bias, null);
          release(o.present.key, o.present.value);
          return o.hidden;
        }, [x], { params: layer.parameters(), rng });
        if (!want) release(x);
        continue;
      }
      const r = scoped(() => layer.forward(x, bias, past ? past[i]! : null, keyMask));
      if (free && !want) x.dispose();
      // With a graph: the layer input stays only until its layer norm's backward has run.
      if (!free && !want) release(x);
      h = r.hidden;
      if (useCache) present.push(r.present);
      else if (free) {
        r.present.key.dispose();
        r.present.value.dispose();
      } else release(r.present.key, r.present.value);
    }
    const pre = h;
    if (res) {
      const ln = this.layer_norm;
      const o = addLayerNorm(pre, res, ln.weight, ln.bias, ln.eps);
      res.dispose();
      o.sum.dispose();
      h = o.y;
    } else h = this.layer_norm.forward(pre); // [B, T, C]
    // (With LayerDrop skipping the last layer, pre may be a tensor listed in hidden; keep it then.)
    // The last layer's raw output is not reported (transformers 5 reports the normalised state instead).
    if (free && L > 0 && !hidden.includes(pre)) pre.dispose();
    if (!free && L > 0 && !hidden.includes(pre)) release(pre);
    if (free) {
      bias?.dispose();
      keyMask?.dispose();
    }
    if (want) hidden.push(h);
    const out: BioGptModelOutput = { lastHiddenState: h };
    if (input.outputHiddenStates) out.hiddenStates = hidden;
    if (useCache) out.presentKeyValues = present;
    return out;
  }
}

export class BioGptForCausalLM extends Module {
  readonly config: BioGptConfig;
  readonly biogpt: BioGptModel;
  /** Only when tie_word_embeddings is false; otherwise the head is embed_tokens.weight. */
  output_projection: LinearModule | null = null;

  constructor(cfg: BioGptConfig) {
    super();
    this.config = cfg;
    this.biogpt = this.addModule('biogpt', new BioGptModel(cfg));
    if (!cfg.tieWordEmbeddings) {
      this.output_projection = this.addModule('output_projection', new Linear(cfg.hiddenSize, cfg.vocabSize, { bias: false, init: { std: cfg.initializerRange } }));
    }
  }

  /** What fromPretrained() read (file, unexpected keys, sizes); undefined for a fresh model. */
  loadReport?: LoadReport;

  /**
   * Loads a Hugging Face BioGptForCausalLM directory (config.json + model.safetensors or
   * pytorch_model.bin) onto the current backend, tensor by tensor. Shape/name mismatches throw
   * before anything is allocated, naming the tensor. Returned in eval mode unless opts.train.
   */
  static fromPretrained(dir: string, opts: FromPretrainedOptions = {}): BioGptForCausalLM {
    const { config, reader, report } = openPretrained(dir, opts);
    try {
      const model = deferParameterInit(() => new BioGptForCausalLM(config));
      try {
        model.loadReport = loadPretrainedWeights(model, reader, report, opts);
      } catch (e) {
        model.dispose();
        throw e;
      }
      if (opts.trainable === false) model.freeze();
      return model.train(opts.train ?? false);
    } finally {
      reader.close();
    }
  }

  /** As transformers' gradient_checkpointing_enable() / _disable(): see BioGptModel.gradientCheckpointing. */
  gradientCheckpointingEnable(on = true): this {
    this.biogpt.gradientCheckpointing = on;
    return this;
  }

  /**
   * BioGptAttention.recomputeScores for every layer (on by default): off keeps each layer's
   * [B, H, T, S] probabilities from forward to backward instead of recomputing them there (more
   * memory, two fewer batched products per layer and step). Same results either way.
   */
  attentionRecomputeEnable(on = true): this {
    for (const l of this.biogpt.layers) l.self_attn.recomputeScores = on;
    return this;
  }

  get tied(): boolean {
    return this.output_projection === null;
  }

  /** h [..., C] → logits [..., V]; the tied head is a transB matmul against the embedding table. */
  lmHead(h: Tensor): Tensor {
    return this.output_projection ? this.output_projection.forward(h) : linear(h, this.biogpt.embed_tokens.weight);
  }

  forward(input: CausalLMInput): CausalLMOutput {
    return withBackend(this.biogpt.backend, () => this.forwardImpl(input, false));
  }

  /**
   * forward(input).loss alone (labels required; the same value). The logits never leave the model,
   * so they go as soon as possible: at once without a graph, and with one the loss's backward writes
   * their gradient over them instead of into a second [B·T, V] tensor (the trainer's peak).
   */
  forwardLoss(input: CausalLMInput): Tensor {
    if (input.labels === undefined) throw new RadgradError('BioGptForCausalLM.forwardLoss: labels are required');
    return withBackend(this.biogpt.backend, () => this.forwardImpl(input, true).loss!);
  }

  private forwardImpl(input: CausalLMInput, lossOnly: boolean): CausalLMOutput {
    if (input.lastPositionOnly && input.labels !== undefined) throw new RadgradError('BioGptForCausalLM: lastPositionOnly cannot be combined with labels');
    const base = this.biogpt.forward(input);
    const full = base.lastHiddenState; // [B, T, C]
    const [B, T, C] = full.shape as [number, number, number];
    const h = input.lastPositionOnly && T > 1 ? slice(full, [0, T - 1, 0], [B, 1, C]) : full; // [B, T or 1, C]
    const logits = this.lmHead(h); // [B, T or 1, V]
    const returned = new Set(base.hiddenStates ?? []);
    if (!isGradEnabled()) {
      for (const t of new Set([full, h])) if (!returned.has(t)) t.dispose();
    } else release(...[...new Set([full, h])].filter((t) => !returned.has(t)));
    const out: CausalLMOutput = { logits };
    if (base.hiddenStates) out.hiddenStates = base.hiddenStates;
    if (base.presentKeyValues) out.presentKeyValues = base.presentKeyValues;
    if (input.labels !== undefined) out.loss = this.lossImpl(logits, input.labels, lossOnly);
    if (lossOnly) {
      if (isGradEnabled()) release(logits);
      else logits.dispose();
    }
    return out;
  }

  /** Mean causal-LM cross-entropy of logits [B, T, V] against labels [B, T] shifted by one (-100 ignored). */
  loss(logits: Tensor, labels: IdMatrixInput | Tensor): Tensor {
    return withBackend(logits.backend, () => this.lossImpl(logits, labels, false));
  }

  /** overwrite: the logits are the model's own (forwardLoss): their storage may take their gradient. */
  private lossImpl(logits: Tensor, labels: IdMatrixInput | Tensor, overwrite: boolean): Tensor {
    const [B, T, V] = logits.shape as [number, number, number];
    let targets: Tensor;
    if (labels instanceof Tensor) {
      if (labels.shape.join() !== [B, T].join()) throw new ShapeError('BioGptForCausalLM', 'labels', `shape [${B}, ${T}]`, `[${labels.shape}]`);
      targets = shiftLabelsTensor(labels);
    } else {
      const lab = toIdMatrix(labels, 'labels');
      if (lab.batch !== B || lab.length !== T) throw new ShapeError('BioGptForCausalLM', 'labels', `shape [${B}, ${T}]`, `[${lab.batch}, ${lab.length}]`);
      targets = idTensor(shiftLabels(lab));
    }
    // [B*T, V] against [B*T]: the last position of each row has target -100 (nothing to predict).
    // Mean over non-ignored targets; an all-ignored batch gives 0 (transformers gives NaN).
    const flatLogits = reshape(logits, [B * T, V]);
    const flatTargets = reshape(targets, [B * T]);
    const loss = crossEntropy(flatLogits, flatTargets, { ignoreIndex: -100, overwriteLogits: overwrite });
    // Without a graph nothing needs the targets any more (backward would). With one, the flat view
    // goes after the loss's backward (the logits' own owner decides about the rest of the storage).
    if (!isGradEnabled()) for (const t of [flatLogits, flatTargets, targets]) t.dispose();
    else release(flatLogits);
    return loss;
  }
}

/** labels [B, T] i32 on the device → [B, T] with labels[:, 1:] then -100. */
function shiftLabelsTensor(labels: Tensor): Tensor {
  const [B, T] = labels.shape as [number, number];
  const pad = full([B, 1], -100, { dtype: 'i32' });
  if (T === 1) return pad;
  return concat([slice(labels, [0, 1], [B, T - 1]), pad], 1);
}
