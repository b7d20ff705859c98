// The deterministic mode: instructions of the single-threaded benchmarks
// counted under valgrind's callgrind, one child a benchmark (--instructions),
// for the regression gate (bench/gate.sh).
#pragma once

#include "bench/cli.hpp"

namespace cb {

// The sizes --instructions counts at: valgrind runs in seconds at these.
profile instruction_sizes(profile p);

// --instructions: one callgrind run per deterministic pair; writes o.out.
int run_instructions(const options& o);

// --instr-one (inside valgrind): runs one pair, writes its operation count.
int run_instr_one(const options& o);

}  // namespace cb
