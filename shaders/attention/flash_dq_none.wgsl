// dq_part() of the two-pass backward's dK/dV pass (flash_bwd_kv_blocked.wgsl): nothing, dQ has its
// own pass (flash_bwd_q_blocked.wgsl).
fn dq_part(ds: ptr<function, array<vec4<f32>, 8>>, k0: u32, ib: u32, base: u32, tid: u32, lid: vec3<u32>) {}
