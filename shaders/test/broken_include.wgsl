// DELIBERATELY BROKEN include fixture for test/gpu/kernel.test.ts: line 4 uses an undeclared
// name, so a kernel that includes this snippet must fail with KernelCompileError naming this file
// and its line 4, not the body file or the line in the concatenated source.
fn broken_helper() -> f32 { return also_not_declared * 2.0; }
