// Beside the runtimes: the kernel's own scheduler benchmark as a reference,
// and the deterministic mode that counts instructions under callgrind.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cli.hpp"

namespace cb {

// kernel_sched_pipe/{processes,threads}/pin:same, selected through the
// runtime named second (processes or threads).
struct reference_name {
    std::string name, runtime;
    bool threads;  // perf's -T: the two tasks are threads of one process, not two processes
};
std::vector<reference_name> kernel_reference_names(profile p);

// Runs `perf bench sched pipe` for each selected reference name, appending
// entries to `benchmarks`, or to `declared` where perf is missing. Throws
// cb::interrupted if a signal arrives.
void kernel_reference(const options& o, nlohmann::json& benchmarks, nlohmann::json& declared);

// The sizes --instructions counts at: valgrind runs in seconds at these.
profile instruction_sizes(profile p);

// --instructions: one callgrind run per deterministic pair; writes o.out.
int run_instructions(const options& o);

// --instr-one (inside valgrind): runs one pair, writes its operation count.
int run_instr_one(const options& o);

}  // namespace cb
