#include "mix.hpp"

namespace cb::kernels {
int injected_work = 0;
}
