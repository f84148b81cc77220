/* Batch-to-space: the inverse of phase_split for the convolution output.
 *
 * out[n, c, y, x] = ph[(n*D + y%D)*D + x%D, c, y/D, x/D]; phase pixels beyond
 * H x W (padding of short phases) are never read. FLAG_ACCUM adds to out.
 * Global (W, H, N*C).
 */
#include "common.h"

__kernel void phase_merge(__global const float *ph, __global float *out, const int C,
                          const int H, const int W, const int D, const int Hp,
                          const int Wp, const int flags) {
    const int x = get_global_id(0);
    const int y = get_global_id(1);
    const int z = get_global_id(2);
    const int n = z / C;
    const int c = z % C;
    const int b = (n * D + y % D) * D + x % D;
    const float v = ph[(((size_t)b * C + c) * Hp + y / D) * Wp + x / D];
    const size_t o = ((size_t)z * H + y) * W + x;
    out[o] = (flags & FLAG_ACCUM) ? out[o] + v : v;
}
