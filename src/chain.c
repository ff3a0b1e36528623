/* chain: placeholder until the module lands. */
#include <config.h>

#include "chain.h"
