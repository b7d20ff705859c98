// The kernel's limits on how many tasks (processes, threads, mappings) can
// exist, named in the message of a failed spawn so that the reader knows
// which wall was hit.
#pragma once

#include <string>

namespace cb {

// "kernel.pid_max 32768, kernel.threads-max 192730, RLIMIT_NPROC 96365,
// vm.max_map_count 65530" (and RLIMIT_AS where one is set).
std::string task_limits();

}  // namespace cb
