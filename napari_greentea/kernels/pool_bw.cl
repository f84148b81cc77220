/* Max-pool backward as a gather (overlapping windows need no atomics).
 *
 * Every input pixel sums the output gradients whose argmax is itself.
 * Global (Wi, Hi, N*C). Compile-time PK, PS, PD as in pool_fw.
 */
#include "common.h"

__kernel void pool_bw(__global const float *gout, __global const int *arg,
                      __global float *gin, const int Hi, const int Wi, const int Ho,
                      const int Wo, const int flags) {
    const int x = get_global_id(0);
    const int y = get_global_id(1);
    const int nc = get_global_id(2);
    const int idx = y * Wi + x;
    const size_t base = (size_t)nc * Ho * Wo;
    float s = 0.0f;
    for (int ky = 0; ky < PK; ++ky) {
        const int ty = y - ky * PD;
        if (ty < 0 || ty % PS) continue;
        const int oy = ty / PS;
        if (oy >= Ho) continue;
        for (int kx = 0; kx < PK; ++kx) {
            const int tx = x - kx * PD;
            if (tx < 0 || tx % PS) continue;
            const int ox = tx / PS;
            if (ox >= Wo) continue;
            const size_t o = base + oy * Wo + ox;
            if (arg[o] == idx) s += gout[o];
        }
    }
    const size_t i = (size_t)nc * Hi * Wi + idx;
    gin[i] = (flags & FLAG_ACCUM) ? gin[i] + s : s;
}
