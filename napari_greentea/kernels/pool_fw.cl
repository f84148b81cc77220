/* Max pooling with window PK, stride PS, dilation PD (compile-time).
 *
 * Ties go to the first maximum in row-major window order. With store_arg the
 * flat input index (y * Wi + x) of each maximum is kept for pool_bw.
 * Global (Wo, Ho, N*C).
 */
__kernel void pool_fw(__global const float *in, __global float *out,
                      __global int *arg, const int Hi, const int Wi, const int Ho,
                      const int Wo, const int store_arg) {
    const int x = get_global_id(0);
    const int y = get_global_id(1);
    const int nc = get_global_id(2);
    __global const float *ip = in + (size_t)nc * Hi * Wi;
    const int y0 = y * PS;
    const int x0 = x * PS;
    float best = ip[y0 * Wi + x0];
    int besti = y0 * Wi + x0;
#pragma unroll
    for (int ky = 0; ky < PK; ++ky) {
#pragma unroll
        for (int kx = 0; kx < PK; ++kx) {
            const int idx = (y0 + ky * PD) * Wi + x0 + kx * PD;
            const float v = ip[idx];
            if (v > best) {
                best = v;
                besti = idx;
            }
        }
    }
    const size_t o = ((size_t)nc * Ho + y) * Wo + x;
    out[o] = best;
    if (store_arg) arg[o] = besti;
}
