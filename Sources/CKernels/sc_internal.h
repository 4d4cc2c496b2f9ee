// Private declarations shared by the kernel files (not part of the public API).
#ifndef SC_INTERNAL_H
#define SC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "sharesc_kernels.h"

int sc_level_internal(void);

#endif
