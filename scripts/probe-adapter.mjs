// Exits 0 and prints the adapter when Dawn finds a usable WebGPU adapter, 1 otherwise.
import { create } from 'webgpu';

const gpu = create([]);
try {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('requestAdapter returned null');
  const device = await adapter.requestDevice();
  const i = adapter.info;
  console.log(`adapter: ${i.vendor} ${i.device} (${i.description})`);
  device.destroy();
  process.exitCode = 0;
} catch (e) {
  console.log(`no usable WebGPU adapter: ${e.message}`);
  process.exitCode = 1;
}
