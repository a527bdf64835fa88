// out[r] = first index of the maximum of row r (i32); one workgroup per row.
var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let base = row * params.len;
  var bv = -3.4028234663852886e38;
  var bi = 0xffffffffu;
  for (var j = lid.x; j < params.len; j += WG) {
    let v = f32(x[base + j]);
    if (v > bv || bi == 0xffffffffu) { bv = v; bi = j; }
  }
  best_v[lid.x] = bv;
  best_i[lid.x] = bi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid.x < s) {
      let ov = best_v[lid.x + s];
      let oi = best_i[lid.x + s];
      let mine = best_i[lid.x];
      if (oi != 0xffffffffu && (mine == 0xffffffffu || ov > best_v[lid.x] || (ov == best_v[lid.x] && oi < mine))) {
        best_v[lid.x] = ov;
        best_i[lid.x] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) { out[row] = i32(best_i[0]); }
}
