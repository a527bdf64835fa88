/**
 * Dynamic loss scaling as torch.cuda.amp.GradScaler: the loss is multiplied by `scale` before
 * backward so small float16 gradients do not flush to zero; an overflow (non-finite gradient norm)
 * halves the scale and skips the optimizer step; `growthInterval` good steps in a row double it.
 * Disabled, the scale is 1 and every step is taken. Under autocast('f16') the gradients of f16
 * activations really can overflow (they are f16); a non-finite norm of the f32 master gradients is
 * how the overflow shows, and the skipped step leaves the weights and optimizer state untouched.
 */
export interface LossScalerOptions {
  enabled?: boolean;
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
}

export interface LossScalerState {
  scale: number;
  goodSteps: number;
  skipped: number;
}

export class LossScaler {
  readonly enabled: boolean;
  scale: number;
  /** Consecutive finite steps since the last change of scale. */
  goodSteps = 0;
  /** Steps skipped for overflow so far. */
  skipped = 0;
  private readonly growth: number;
  private readonly backoff: number;
  private readonly interval: number;

  constructor(o: LossScalerOptions = {}) {
    this.enabled = o.enabled ?? true;
    this.scale = this.enabled ? (o.initScale ?? 65536) : 1;
    this.growth = o.growthFactor ?? 2;
    this.backoff = o.backoffFactor ?? 0.5;
    this.interval = o.growthInterval ?? 2000;
  }

  /**
   * Called once per optimizer step with the norm of the scaled gradients. Returns whether the step
   * should be taken (false on overflow) and updates the scale for the next step.
   */
  update(scaledGradNorm: number): boolean {
    const finite = Number.isFinite(scaledGradNorm);
    if (!this.enabled) return finite;
    if (!finite) {
      this.scale *= this.backoff;
      this.goodSteps = 0;
      this.skipped++;
      return false;
    }
    if (++this.goodSteps >= this.interval) {
      this.scale *= this.growth;
      this.goodSteps = 0;
    }
    return true;
  }

  state(): LossScalerState {
    return { scale: this.scale, goodSteps: this.goodSteps, skipped: this.skipped };
  }

  loadState(s: LossScalerState): void {
    this.scale = s.scale;
    this.goodSteps = s.goodSteps;
    this.skipped = s.skipped;
  }
}
