/* Copy a centre crop of src (Cs, Hs, Ws) into channels [c_off, c_off + Cs)
 * of dst (Ct, H, W); called once per input of the concatenation.
 * Global (W, H, N*Cs); off is the crop offset (Hs - H) / 2.
 */
__kernel void crop_concat_fw(__global const float *src, __global float *dst,
                             const int Cs, const int Hs, const int Ws,
                             const int Ct, const int H, const int W,
                             const int c_off, const int off) {
    const int x = get_global_id(0);
    const int y = get_global_id(1);
    const int z = get_global_id(2);
    const int n = z / Cs;
    const int c = z % Cs;
    dst[(((size_t)n * Ct + c_off + c) * H + y) * W + x] =
        src[((size_t)z * Hs + y + off) * Ws + x + off];
}
