// The orchestrator: every selected runtime family in a child process of
// its own (this binary with --family), the references beside them, merged
// into one results file written atomically; and the --family mode that runs
// in that child.
#pragma once

#include "bench/cli.hpp"

namespace cb {

// The default mode: every selected family in a child process, merged with
// the references (bench/reference.hpp) into o.out. Returns the exit status.
int run_benchmarks(const options& o);

// --family: registers one runtime's benchmarks and runs them (in the child).
int run_family(const options& o);

}  // namespace cb
