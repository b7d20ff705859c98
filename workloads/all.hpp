// The workloads the suite runs. Adding one: a header in workloads/, one entry
// here; the workload tests then run it under every runtime at test sizes.
#pragma once

#include <tuple>

#include "cpu_bound.hpp"
#include "idle_memory.hpp"
#include "ping_pong.hpp"
#include "skynet.hpp"
#include "spawn.hpp"
#include "yield_ring.hpp"

namespace cb::wl {

using all_workloads = std::tuple<ping_pong, yield_ring, spawn, skynet, cpu_bound, idle_memory>;

}  // namespace cb::wl
