/* state: placeholder until the module lands. */
#include <config.h>

#include "state.h"
