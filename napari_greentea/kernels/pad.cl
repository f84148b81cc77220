/* Zero padding by `pad` on every side: out is (NC, H+2p, W+2p). */
__kernel void pad(__global const float *in, __global float *out,
                  const int H, const int W, const int p) {
    const int x = get_global_id(0);
    const int y = get_global_id(1);
    const int nc = get_global_id(2);
    const int Wp = W + 2 * p;
    const int Hp = H + 2 * p;
    const int sy = y - p;
    const int sx = x - p;
    float v = 0.0f;
    if (sy >= 0 && sy < H && sx >= 0 && sx < W) v = in[((size_t)nc * H + sy) * W + sx];
    out[((size_t)nc * Hp + y) * Wp + x] = v;
}
