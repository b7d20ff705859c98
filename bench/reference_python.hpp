// The CPython yardsticks: the claims this suite judges were first made about
// Python's asyncio, threads and processes, so the same workloads, written as
// a Python user writes them, run beside the C++ runtimes under Debian's
// python3 (bench/programs/cpython/cobench_py.py; plain stdlib, gevent and
// uvloop, no C extension of ours). Six names, py_multiprocessing,
// py_threading, py_threadpool, py_gevent, py_asyncio, py_uvloop ("python" in
// --runtimes for all six), each a yardstick: shown beside the runtimes,
// never ranked among them.
//
// Where everything comes from:
//   entries    `cobench_py.py list --profile P` (one JSON object: the
//              interpreter, the runtimes with their traits and whether
//              their module is there, the entries, the pairs it declares,
//              its counters' units), read once per process and only when a
//              py_* runtime is selected; plus echo/py_*/conns:C, which this
//              file adds: the echo workload's own params at the conns below
//   workloads  `cobench_py.py run --profile P --runtimes ... --filter
//              EXACT --repetitions N`: JSON lines on stdout, one per
//              repetition, shaped as Google Benchmark's; its progress on
//              stderr goes to ours
//   echo       `cobench_py.py serve RUNTIME REQUEST_BYTES UPSTREAM_US`, an
//              echo server speaking server_program.hpp's protocol, driven
//              by the suite's own generator through program_run.hpp: the
//              same requests, offered open-loop rate, checks and counters
//              (server CPU per request included) as the C++ rows
//
// The interpreter is $COBENCH_PYTHON, else /usr/bin/python3 (Debian's, which
// sees python3-gevent and python3-uvloop); the program $COBENCH_PY_PROGRAM,
// else bench/programs/cpython/cobench_py.py in the source tree above this
// executable's folder, else in the tree it was built from. Either missing,
// or a listing that fails, declares every py_* entry with the reason (the
// workloads then as WORKLOAD "*", params "*": their names are unknown); a
// runtime whose module is missing has its entries declared with the
// program's reason.
//
// Results: every entry carries "reference": true and "interpreter"
// ("CPython 3.11.2"); context.references.<py_*> is
//   {"kind": "yardstick", "label", "runtime_label", "interpreter",
//    "interpreter_version", "interpreter_build", "interpreter_executable",
//    "interpreter_lock", "model_kind" (the runtime's traits.kind), every
//    other trait as the program gives it (multi_core, stack, shared_memory,
//    yardstick...), "available", "reason" (when not), "module_version",
//    "program"}
// so the report groups them by traits with no per-runtime code.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cli.hpp"
#include "bench/reference.hpp"

namespace cb {

inline constexpr const char* python_group = "python";

std::vector<reference_runtime> python_runtimes();
// Whether `runtimes` names a py_* one: only then is the program asked.
bool python_asked(const std::vector<std::string>& runtimes);
std::vector<reference_entry> python_entries(profile p);
void run_python(const options& o, const std::vector<reference_entry>& selected, nlohmann::json& benchmarks,
                nlohmann::json& declared, nlohmann::json& references, nlohmann::json& counters);

}  // namespace cb
