/* Flipped, transposed weights for the input gradient of a convolution.
 *
 * wt[c,o,ky,kx] = w[o,c,K-1-ky,K-1-kx]: the input gradient is then the valid
 * convolution (conv_fw, C_IN = O) of the zero-padded output gradient.
 */
__kernel void conv_flip(__global const float *w, __global float *wt,
                        const int O, const int C, const int K) {
    const int i = get_global_id(0);
    const int kk = K * K;
    const int o = i / (C * kk);
    const int c = (i / kk) % C;
    const int ky = (i / K) % K;
    const int kx = i % K;
    wt[(((size_t)c * O + o) * K + (K - 1 - ky)) * K + (K - 1 - kx)] = w[i];
}
