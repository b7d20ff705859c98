// Other load: how much of the machine the rest of it used while an entry ran,
// so the report can tell a number measured on a quiet machine from one
// measured beside other work (plots/cobench_results leaves the latter out of
// every verdict).
//
// One window a measured run: load_window starts at construction and read()
// gives, since then,
//   other_load_frac  CPU time the rest of the machine used (every CPU's busy
//                    time from /proc/stat: user, nice, system; not idle,
//                    iowait or steal, and not irq or softirq: the kernel
//                    charges a run's own loopback traffic there rather than
//                    to its processes, so an echo run would read its own
//                    network work as other load) less this process tree's,
//                    over wall time x CPUs;
//   steal_frac       steal time of every CPU over wall time x CPUs (the same
//                    counter the echo workloads report over their open-loop
//                    phase; an entry that already has it keeps its own).
// This process tree: this process (every thread), its reaped descendants
// (getrusage SELF and CHILDREN), its live descendants (/proc/PID/stat, with
// what they reaped), and the supervising orchestrator's own CPU where a
// family child names it. A load generator or server the run starts is ours.
//
// Every runner that appends entries calls it the same way:
//     const load_window w;            // just before the measured run
//     ... run ...
//     put_load(entry_json, w.read()); // or st.counters via put_load(counters&)
//
// /proc/stat counts in USER_HZ ticks (10 ms) and each field is rounded down
// when read, so a window's busy time is uncertain by about a tick a field.
// The two fields that move under load (user, system) are taken off as a
// margin: a short entry on a quiet machine reads 0, never a false mark, and
// an entry is under-read by at most 20 ms of other CPU (0.05 of a 0.2 s
// window on 2 CPUs).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <sys/types.h>

namespace cb {

// A fraction of the machine above which an entry counts as measured beside
// other work (the report's threshold, plots/cobench_results/other_load.py,
// says the same): a tenth of the machine is a fifth of a CPU on 2 CPUs,
// more than the scheduler noise of an idle VM and enough to move a timing
// that shares a core by several percent.
inline constexpr double other_load_threshold = 0.10;

struct load_reading {
    bool ok = false;  // /proc/stat could be read at both ends
    double other_load_frac = 0, steal_frac = 0, wall_s = 0;
};

class load_window {
public:
    // also: a process whose own CPU (not its children's) counts as ours,
    // e.g. the orchestrator that supervises this family; 0 for none.
    explicit load_window(pid_t also = 0);
    [[nodiscard]] load_reading read() const;

private:
    struct sample {
        bool ok = false;
        std::uint64_t busy_ticks = 0, steal_ticks = 0;
        double own_s = 0;
        int cpus = 0;
        std::chrono::steady_clock::time_point t;
    };
    [[nodiscard]] static sample take(pid_t also);
    pid_t also_;
    sample start_;
};

// The counters' names and metadata (results/README.md), for the results'
// context.counters.
inline constexpr const char* other_load_counter = "other_load_frac";
inline constexpr const char* steal_counter = "steal_frac";

// Writes other_load_frac, and steal_frac unless the entry has it already,
// into a results entry or a Google Benchmark counter map; nothing when the
// reading failed.
void put_load(nlohmann::json& entry, const load_reading& r);
template <class CounterMap>
void put_load_counters(CounterMap& counters, const load_reading& r) {
    if (!r.ok) return;
    counters[other_load_counter] = r.other_load_frac;
    if (counters.find(steal_counter) == counters.end()) counters[steal_counter] = r.steal_frac;
}

// Before a family or reference group: samples the machine's other load in
// short windows until it is below other_load_threshold or bound_s has passed,
// saying on stderr what it waited for (nothing when the machine is quiet at
// once, or bound_s is 0). Returns the seconds waited: one 0.25 s window a
// family and reference group on a quiet machine.
double wait_until_quiet(double bound_s, const std::string& before_what);

}  // namespace cb
