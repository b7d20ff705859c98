#include "context.hpp"

#include <sched.h>

#include <cstring>

#include "fd.hpp"
#include "inject.hpp"

#include <cstdlib>

namespace cb {

int injected_work = 0;

void read_injected_work_from_env() {
    if (const char* v = std::getenv("COBENCH_INJECT_WORK")) injected_work = std::atoi(v);
}

void pin_this_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) throw_errno("sched_setaffinity(cpu " + std::to_string(cpu) + ")");
}

static_assert(sizeof(cpu_set_t) <= 128);

affinity_guard::affinity_guard() {
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        std::memcpy(mask_, &set, sizeof set);
        saved_ = true;
    }
}

affinity_guard::~affinity_guard() {
    if (!saved_) return;
    cpu_set_t set;
    std::memcpy(&set, mask_, sizeof set);
    ::sched_setaffinity(0, sizeof set, &set);
}

}  // namespace cb
