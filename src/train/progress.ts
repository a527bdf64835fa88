/**
 * Console progress: a one-line bar redrawn in place on a TTY (step/total, loss, lr, tokens/s, ETA),
 * plain log lines otherwise (CI logs, pipes), and nothing at all when silent.
 */
export interface ProgressFields {
  loss?: number;
  lr?: number;
  tokensPerSec?: number;
  evalLoss?: number;
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export interface ProgressOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force TTY / plain mode (default: stream.isTTY). */
  tty?: boolean;
  silent?: boolean;
  /** Plain mode: print every n-th step (default 1). */
  every?: number;
}

export class Progress {
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  private readonly tty: boolean;
  private readonly silent: boolean;
  private readonly every: number;
  private readonly t0 = Date.now();
  private startStep = -1;
  private drawn = false;

  constructor(
    readonly total: number,
    o: ProgressOptions = {},
  ) {
    this.stream = o.stream ?? process.stderr;
    this.tty = o.tty ?? !!this.stream.isTTY;
    this.silent = o.silent ?? false;
    this.every = Math.max(1, o.every ?? 1);
  }

  /** `step` optimizer steps are done (of total). */
  update(step: number, f: ProgressFields): void {
    if (this.silent) return;
    if (this.startStep < 0) this.startStep = step - 1;
    const elapsed = (Date.now() - this.t0) / 1000;
    const rate = (step - this.startStep) / Math.max(elapsed, 1e-9);
    const eta = (this.total - step) / rate;
    const parts = [
      `step ${step}/${this.total}`,
      f.loss !== undefined ? `loss ${f.loss.toFixed(4)}` : '',
      f.evalLoss !== undefined ? `eval ${f.evalLoss.toFixed(4)}` : '',
      f.lr !== undefined ? `lr ${f.lr.toExponential(2)}` : '',
      f.tokensPerSec !== undefined ? `${Math.round(f.tokensPerSec)} tok/s` : '',
      `ETA ${formatDuration(eta)}`,
    ].filter(Boolean);
    if (this.tty) {
      const width = 24;
      const done = Math.round((width * step) / Math.max(1, this.total));
      const bar = `[${'#'.repeat(done)}${'.'.repeat(width - done)}]`;
      const line = `${bar} ${parts.join('  ')}`;
      const cols = this.stream.columns ?? 120;
      this.stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length))}\x1b[K`);
      this.drawn = true;
    } else if (step % this.every === 0 || step === this.total) {
      this.stream.write(parts.join('  ') + '\n');
    }
  }

  /** A message on its own line (keeps the bar intact on a TTY). */
  log(line: string): void {
    if (this.silent) return;
    if (this.tty && this.drawn) this.stream.write('\r\x1b[K');
    this.stream.write(line + '\n');
    this.drawn = false;
  }

  finish(): void {
    if (!this.silent && this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
