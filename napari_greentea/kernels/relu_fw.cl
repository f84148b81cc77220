/* ReLU, elementwise; in and out may be the same buffer. */
__kernel void relu_fw(__global const float *in, __global float *out) {
    const size_t i = get_global_id(0);
    out[i] = fmax(in[i], 0.0f);
}
