#include "cpu_affinity.hpp"

#include <sched.h>

#include <cstring>
#include <string>

#include "fd.hpp"

namespace cb {

void pin_this_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) throw_errno("sched_setaffinity(cpu " + std::to_string(cpu) + ")");
}

static_assert(sizeof(cpu_set_t) <= 128);

cpu_mask cpu_mask::of_this_thread() {
    cpu_mask m;
    cpu_set_t set;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        std::memcpy(m.bytes_, &set, sizeof set);
        m.valid_ = true;
    }
    return m;
}

void cpu_mask::apply_to_this_thread() const {
    if (!valid_) return;
    cpu_set_t set;
    std::memcpy(&set, bytes_, sizeof set);
    ::sched_setaffinity(0, sizeof set, &set);
}

}  // namespace cb
