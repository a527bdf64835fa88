// out[r] = first index of the maximum (ARGMIN: minimum) of row r (i32); one workgroup per row.
// A NaN beats every number and the first NaN wins, as torch's argmax/argmin.
var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

const NONE = 0xffffffffu;

// v strictly better than the best so far b (a NaN b is never beaten).
fn beats(v: f32, b: f32) -> bool {
  if (is_nan_f32(b)) { return false; }
  if (is_nan_f32(v)) { return true; }
  return select(v > b, v < b, ARGMIN);
}

fn ties(v: f32, b: f32) -> bool {
  return v == b || (is_nan_f32(v) && is_nan_f32(b));
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let base = row * params.len;
  var bv = 0.0;
  var bi = NONE;
  // Each thread walks increasing j, so its first best is kept on ties.
  for (var j = lid.x; j < params.len; j += WG) {
    let v = f32(x[base + j]);
    if (bi == NONE || beats(v, bv)) { bv = v; bi = j; }
  }
  best_v[lid.x] = bv;
  best_i[lid.x] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid.x < s) {
      let ov = best_v[lid.x + s];
      let oi = best_i[lid.x + s];
      let mine = best_i[lid.x];
      let mv = best_v[lid.x];
      if (oi != NONE && (mine == NONE || beats(ov, mv) || (ties(ov, mv) && oi < mine))) {
        best_v[lid.x] = ov;
        best_i[lid.x] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) { out[row] = i32(best_i[0]); }
}
