#include "context.hpp"

#include <sched.h>
#include <unistd.h>

#include <cstring>

#include "fd.hpp"
#include "inject.hpp"

#include <cstdlib>
#include <fstream>

#include <sys/resource.h>

namespace cb {

int injected_work = 0;

void read_injected_work_from_env() {
    if (const char* v = std::getenv("COBENCH_INJECT_WORK")) injected_work = std::atoi(v);
}

std::string task_limits() {
    auto sysctl = [](const char* path) {
        std::ifstream f(path);
        std::string v;
        return f >> v ? v : std::string("?");
    };
    rlimit rl{};
    ::getrlimit(RLIMIT_NPROC, &rl);
    std::string out = std::string("kernel.pid_max ") + sysctl("/proc/sys/kernel/pid_max") + ", kernel.threads-max " +
                      sysctl("/proc/sys/kernel/threads-max") + ", RLIMIT_NPROC " +
                      (rl.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(rl.rlim_cur)) +
                      // Every thread stack, oneTBB stack and guarded fiber stack is a mapping or two.
                      ", vm.max_map_count " + sysctl("/proc/sys/vm/max_map_count");
    // A thread's stack or a child's memory can fail to map under an
    // address-space limit, which the kernel also reports as EAGAIN/ENOMEM.
    if (::getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        out += ", RLIMIT_AS " + std::to_string(static_cast<unsigned long long>(rl.rlim_cur) >> 20) + " MiB (ulimit -v)";
    return out;
}

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
