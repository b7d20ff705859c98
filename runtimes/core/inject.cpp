#include "inject.hpp"

#include <cstdlib>

namespace cb {

int injected_work = 0;

void read_injected_work_from_env() {
    if (const char* v = std::getenv("COBENCH_INJECT_WORK")) injected_work = std::atoi(v);
}

}  // namespace cb
