// One AdamW step in place, in the order of torch.optim.AdamW (_single_tensor_adam with decoupled
// weight decay):
//   p *= 1 - lr*wd;  m = lerp(m, g, 1-b1);  v = b2*v + (1-b2)*g²;
//   p -= (lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
// with g = grad * grad_scale. Step-dependent scalars (decay, step_size, bc2_sqrt) are computed on
// the host in float64, as Python does, and arrive here rounded to f32.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let g = f32(grad[i]) * params.grad_scale;
  let p = f32(param[i]) * params.decay;
  // torch's lerp_(g, w) = m + w * (g - m) for w < 0.5.
  let m = m_buf[i] + params.one_minus_beta1 * (g - m_buf[i]);
  let v = v_buf[i] * params.beta2 + params.one_minus_beta2 * g * g;
  m_buf[i] = m;
  v_buf[i] = v;
  let denom = sqrt(v) / params.bc2_sqrt + params.eps;
  param[i] = P(p - params.step_size * (m / denom));
}
