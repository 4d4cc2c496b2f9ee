// Private declarations shared by the kernel files (not part of the public API).
#ifndef SC_INTERNAL_H
#define SC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "sharesc_kernels.h"
#include "sc_epilogue.h"

int sc_level_internal(void);

// Where sc_conv_nhwc_pack puts weight (oc, ic, tap) of an ungrouped convolution.
size_t sc_conv_nhwc_packed_index(const sc_conv_geometry *g, int oc, int ic, int tap);

// sum_i a[i] b[i], in 16 partial sums (so that it vectorizes without reassociation).
float sc_dot(const float *a, const float *b, size_t n);

#endif
