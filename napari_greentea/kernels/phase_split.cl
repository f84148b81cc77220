/* Space-to-batch for a convolution with dilation D.
 *
 * A valid convolution with dilation D reads, for an output pixel (y, x), only
 * input pixels congruent to (y, x) modulo D. Splitting the input into its D*D
 * phases in[n, c, py::D, px::D] turns it into D*D undilated convolutions
 * whose input rows are contiguous, so the dilated taps stop striding over the
 * row and the working set of a work-item shrinks D-fold per axis.
 * out is (N*D*D, C, Hp, Wp) with batch index (n*D + py)*D + px; phases shorter
 * than Hp x Wp (H or W not a multiple of D) are zero-padded, and the extra
 * outputs they produce are dropped by phase_merge.
 * Global (Wp, Hp, N*D*D*C).
 */
__kernel void phase_split(__global const float *in, __global float *out, const int C,
                          const int H, const int W, const int D, const int Hp,
                          const int Wp) {
    const int j = get_global_id(0);
    const int i = get_global_id(1);
    const int z = get_global_id(2);
    const int c = z % C;
    const int b = z / C;
    const int px = b % D;
    const int py = (b / D) % D;
    const int n = b / (D * D);
    const int y = py + i * D;
    const int x = px + j * D;
    float v = 0.0f;
    if (y < H && x < W) v = in[(((size_t)n * C + c) * H + y) * W + x];
    out[((size_t)z * Hp + i) * Wp + j] = v;
}
