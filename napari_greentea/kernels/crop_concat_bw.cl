/* Gradient of crop_concat for one input: its channel slice of the output
 * gradient, zero outside the crop. Global (Ws, Hs, N*Cs).
 */
#include "common.h"

__kernel void crop_concat_bw(__global const float *gout, __global float *gsrc,
                             const int Cs, const int Hs, const int Ws,
                             const int Ct, const int H, const int W,
                             const int c_off, const int off, const int flags) {
    const int x = get_global_id(0);
    const int y = get_global_id(1);
    const int z = get_global_id(2);
    const int n = z / Cs;
    const int c = z % Cs;
    const int ty = y - off;
    const int tx = x - off;
    float v = 0.0f;
    if (ty >= 0 && ty < H && tx >= 0 && tx < W)
        v = gout[(((size_t)n * Ct + c_off + c) * H + ty) * W + tx];
    const size_t i = ((size_t)z * Hs + y) * Ws + x;
    gsrc[i] = (flags & FLAG_ACCUM) ? gsrc[i] + v : v;
}
