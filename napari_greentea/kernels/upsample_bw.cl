/* Gradient of nearest 2x upsampling: each input sums its 2x2 block. */
#include "common.h"

__kernel void upsample_bw(__global const float *gout, __global float *gin,
                          const int H, const int W, const int flags) {
    const int x = get_global_id(0);
    const int y = get_global_id(1);
    const int nc = get_global_id(2);
    __global const float *g = gout + ((size_t)nc * 2 * H + 2 * y) * 2 * W + 2 * x;
    const float s = (g[0] + g[1]) + (g[2 * W] + g[2 * W + 1]);
    const size_t i = ((size_t)nc * H + y) * W + x;
    gin[i] = (flags & FLAG_ACCUM) ? gin[i] + s : s;
}
