// The Boost.Asio yardstick (issue #13 item 7): an external echo server,
// cobench_asio_echo (bench/programs/asio_echo/: one thread, C++20 coroutines, the
// way Asio's own examples write it), measured beside the runtimes in echo and
// in the slow I/O grid by the same generator (cobench_echo_client) with the
// same sizes, phases and counters:
//   echo/asio/conns:C[/rate:R]            as workloads/echo.hpp for a light
//                                         runtime: a closed phase, then the
//                                         open phase at the profile's rate
//                                         (sweep points: the open phase alone)
//   slow_io/asio/upstream:L/conns:N       as workloads/slow_io.hpp (closed loop)
// Every entry has "reference": true; the results' context gets
// references.asio = {label, kind: "yardstick", version}. Asio is not a
// runtime: it appears in these two workloads only.
//
// Selection: "asio" is a name --runtimes accepts besides the runtimes; without
// --runtimes it is included, with a list only when the list names it.
// --filter applies to its names as to any. Where cobench_asio_echo or the
// echo client is missing, the entries are declared (reason given), not run.
//
// Server CPU: echo's, per phase, measured by the generator from the server
// process's CPU clock (as for the runtimes: --server-pid); slow_io's from the
// server's own CLOCK_PROCESS_CPUTIME_ID, read through its control pipe once
// every connection is accepted and again after the last reply.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cli.hpp"

namespace cb {

inline constexpr const char* yardstick_runtime = "asio";

struct yardstick_name {
    std::string name, workload, params;
};
std::vector<yardstick_name> yardstick_names(profile p);

// Runs every selected yardstick entry, appending to `benchmarks` (or to
// `declared` when it cannot run here) and, if any was selected, setting
// references["asio"]. Throws cb::interrupted if a signal arrives.
void asio_yardstick(const options& o, nlohmann::json& benchmarks, nlohmann::json& declared, nlohmann::json& references);

}  // namespace cb
