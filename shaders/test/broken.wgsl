// DELIBERATELY BROKEN test fixture for test/gpu/kernel.test.ts: line 5 uses an undeclared name,
// so compiling it must raise KernelCompileError naming kernel 'broken_fixture' and body line 5.
@compute @workgroup_size(1)
fn main() {
  out[0] = this_name_is_not_declared * 2.0;
}
