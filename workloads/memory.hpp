// Memory as the kernel accounts it: RSS and PSS from /proc/PID/smaps_rollup,
// kernel memory (kernel stacks, page tables) from /proc/meminfo. Readers of
// /proc only; nothing here allocates on the measured path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace cb {

struct mem_sample {
    double rss = 0, pss = 0, kernel = 0;  // bytes
    mem_sample operator-(const mem_sample& o) const { return {rss - o.rss, pss - o.pss, kernel - o.kernel}; }
};

// "Key:   123 kB" lines of a /proc file, in bytes; nullopt if absent.
std::optional<double> proc_kb_field(const std::string& path, const std::string& key);

// RSS and PSS of one process (0: this one), from smaps_rollup.
std::optional<mem_sample> process_memory(pid_t pid = 0);

// Kernel stacks + page tables, system-wide (meminfo). A delta of this over a
// run on an otherwise quiet machine is the kernel memory the run's tasks hold.
double kernel_memory();

// This process now: rss/pss from smaps_rollup, kernel from meminfo.
mem_sample sample_self();

// Several processes: rss and pss summed over them (PSS sums to the memory
// they really use together; RSS double-counts what they share); kernel from
// meminfo as for sample_self.
mem_sample sample_processes(const std::vector<pid_t>& pids);

// Gives freed heap memory back to the OS (malloc_trim), so that an RSS delta
// over a run measures what the run holds, not what an earlier run left free.
void release_free_memory();

double mem_available();  // bytes, from meminfo

}  // namespace cb
