/* Nearest-neighbour 2x upsampling. Global (2W, 2H, N*C). */
__kernel void upsample_fw(__global const float *in, __global float *out,
                          const int H, const int W) {
    const int x = get_global_id(0);
    const int y = get_global_id(1);
    const int nc = get_global_id(2);
    out[((size_t)nc * 2 * H + y) * 2 * W + x] = in[((size_t)nc * H + y / 2) * W + x / 2];
}
