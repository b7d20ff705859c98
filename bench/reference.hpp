// References: programs that are not runtimes, measured beside them. One kind
// of catalogue entry, which --list, the orchestrator and the results use:
//
//   kernel_sched_pipe/{processes,threads}/pin:same
//       the kernel's own scheduler benchmark (perf bench sched pipe), two
//       tasks bouncing a byte as pipe_pong's do; selected through the
//       runtime whose tasks are exactly that (processes, threads);
//   echo/asio/..., slow_io/asio/...
//       the Boost.Asio echo server (cobench_asio_echo: one thread, C++20
//       coroutines, the way Asio's own examples write it), served through
//       the echo rig exactly as a runtime's tasks are, with the workloads'
//       own sizes, state, verify and counters (workloads/io/program_run.hpp);
//       selected by a name of its own, "asio", which --runtimes takes
//       besides the runtimes (without --runtimes it is in). Its entries
//       carry "reference": true, and the results' context.references.asio
//       says what it is.
//   WORKLOAD/py_*/..., echo/py_*/conns:C
//       the CPython yardsticks (reference_python.hpp): the workloads as a
//       Python user writes them, run by bench/programs/cpython/cobench_py.py
//       under Debian's python3, and its echo servers through the same rig;
//       six names (py_asyncio...; "python" for all six), each with its own
//       context.references entry.
//
// A reference that cannot run here (perf, the server or the interpreter
// missing) is declared, with the reason, not run.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cli.hpp"

namespace cb {

struct reference_entry {
    std::string name;                       // workload/runtime/params
    std::string workload, runtime, params;  // runtime: the name --runtimes selects it by
    std::string what;                       // for --list: "[reference: WHAT]"
    std::string reason{};                   // known before running that it cannot run here: declared, why
};

// Every reference entry of a profile that the runtimes may select, in
// catalogue order. A reference whose catalogue costs a child process to read
// (the CPython one) is asked only when `runtimes` names one of its own.
std::vector<reference_entry> reference_entries(profile p, const std::vector<std::string>& runtimes);

// The names --runtimes takes besides the registered runtimes, with what each
// is ("asio": "the Boost.Asio yardstick"); each is in unless a list leaves it out.
struct reference_runtime {
    std::string name, what;
};
std::vector<reference_runtime> reference_runtimes();
// The reference runtimes a group name stands for in --runtimes ("python":
// every py_* one); empty for any other name.
std::vector<std::string> reference_group(const std::string& name);

// Runs every selected reference entry, appending to `benchmarks` (or to
// `declared` where it cannot run here) and, for a reference program that
// ran, saying what it is in `references` (the results' context.references)
// and the units and directions of counters of its own in `counters` (for
// context.counters). Throws cb::interrupted if a signal arrives.
void run_references(const options& o, nlohmann::json& benchmarks, nlohmann::json& declared,
                    nlohmann::json& references, nlohmann::json& counters);

}  // namespace cb
