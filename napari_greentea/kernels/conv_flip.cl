/* Flipped, transposed weights for the input gradient of a convolution.
 *
 * wt[c,o,ky,kx] = w[o,c,K-1-ky,K-1-kx]: the input gradient is then the valid
 * convolution (conv_fw, C_IN = O) of the zero-padded output gradient.
 * Global (C, O): a work-item copies one K x K block, reversed, so a 10x10
 * layer of 1024 x 192 channels takes 2e5 work-items instead of 2e7.
 */
__kernel void conv_flip(__global const float *w, __global float *wt,
                        const int O, const int C, const int K) {
    const int c = get_global_id(0);
    const int o = get_global_id(1);
    const int kk = K * K;
    __global const float *src = w + ((size_t)o * C + c) * kk;
    __global float *dst = wt + ((size_t)c * O + o) * kk;
    for (int i = 0; i < kk; ++i) dst[kk - 1 - i] = src[i];
}
