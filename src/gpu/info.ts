/** What `radgrad info` prints: adapter, backend, driver, features, limits, WGSL language features. */
import type { GpuContext } from './device.js';

export interface AdapterReport {
  adapter: { vendor: string; architecture: string; device: string; description: string; backend: string; type: string; isCpu: boolean };
  features: string[];
  wgslLanguageFeatures: string[];
  capabilities: Record<string, boolean | number>;
  limits: Record<string, number>;
  subgroupMatrixConfigs: unknown[];
}

export function adapterReport(ctx: GpuContext): AdapterReport {
  const info = ctx.adapter.info as unknown as { subgroupMatrixConfigs?: unknown[] };
  return {
    adapter: { ...ctx.adapterInfo },
    features: [...ctx.adapter.features].map(String).sort(),
    wgslLanguageFeatures: [...ctx.wgslFeatures].sort(),
    capabilities: { ...ctx.caps },
    limits: { ...ctx.limits },
    subgroupMatrixConfigs: [...(info.subgroupMatrixConfigs ?? [])].map((c) => ({ ...(c as object) })),
  };
}
