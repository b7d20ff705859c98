#include "task_limits.hpp"

#include <fstream>

#include <sys/resource.h>

namespace cb {

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

}  // namespace cb
