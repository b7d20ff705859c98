// Deliberate extra work, for proving that the regression gate catches a known
// slowdown (bench/compare tests). COBENCH_INJECT_WORK=N adds N iterations of a
// small loop to the coroutine loop's post() (every switch) and N extra mixing
// steps to every unit of the cpu_bound kernel (a unit is 256 steps). 0, the
// default, costs one predictable branch.
#pragma once

namespace cb {

extern int injected_work;

// Reads COBENCH_INJECT_WORK once; called by the benchmark binary at start.
void read_injected_work_from_env();

inline void burn_injected_work() noexcept {
    for (int k = 0; k < injected_work; ++k) asm volatile("" ::: "memory");
}

}  // namespace cb
