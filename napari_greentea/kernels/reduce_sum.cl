/* out[i] = sum_p partial[p * M + i]: finishes the partitioned reductions. */
__kernel void reduce_sum(__global const float *partial, __global float *out,
                         const int P, const int M) {
    const int i = get_global_id(0);
    float s = 0.0f;
    for (int p = 0; p < P; ++p) s += partial[(size_t)p * M + i];
    out[i] = s;
}
