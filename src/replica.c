/* replica: placeholder until the module lands. */
#include <config.h>

#include "replica.h"
