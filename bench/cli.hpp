// Command line: parsing, strict validation, and the exit statuses.
//
// Everything a user can get wrong is checked here, before anything runs or
// any file is touched: unknown flags, bad numbers, unknown or repeated
// runtimes, a filter RE2 cannot compile or that matches nothing, Google
// Benchmark flags its library would reject.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "bench/families.hpp"
#include "bench/name_filter.hpp"

namespace cb {

// The binary's exit statuses (documented in --help). A run killed by signal N
// re-raises N, which shells report as 128+N.
enum exit_status : int {
    exit_ok = 0,         // every benchmark succeeded
    exit_failure = 1,    // a failure: no benchmark succeeded, results could not be written
    exit_bad_input = 2,  // unknown flag, bad value, bad --out, bad or empty filter
    exit_partial = 3,    // results written, but some benchmarks or families errored
};

// Bad input from the user: exit 2 with the message, nothing run, nothing written.
struct bad_input : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct options {
    profile prof = profile::quick;
    std::string out;
    std::vector<std::string> runtimes;  // selected, in registry order, each once
    name_filter filter;
    double family_timeout = 0;
    double quiet_wait = -1;  // --quiet-wait; -1: the profile's default
    int repetitions = 0;
    int workers = 0;  // --workers; 0: the default
    double memory_budget = 0;  // --memory-budget in bytes; 0: the default (half of MemAvailable)
    std::string memory_budget_arg;  // as given: "50%" stays the same request when MemAvailable moves
    bool instructions = false, list = false, help = false;
    bool resume = false;  // --resume (bench/resume.hpp)
    std::string command;  // the command line, shell-quoted: what to run again with --resume
    std::vector<std::string> gbench_flags;
    // Internal modes: one runtime family (--family), one callgrind run
    // (--instr-one), started by the orchestrator with its pid (--supervisor).
    std::string family, family_out, instr_one;
    pid_t supervisor = 0;

    // The runtime is selected and the filter matches the name.
    bool selected(std::string_view name, std::string_view runtime) const;
};

// Throws bad_input. --help sets `help` and stops parsing.
options parse_args(int argc, char** argv);
std::string usage_text();

// Strict numbers: decimal digits only (no sign, spaces, hex, exponent or
// fraction for integers), within [lo, hi]. Throw bad_input naming the flag.
long parse_integer(std::string_view flag, std::string_view text, long lo, long hi);
double parse_seconds(std::string_view flag, std::string_view text, double lo, double hi);
// A size in bytes: digits with an optional K/M/G/T suffix, or P% of MemAvailable.
double parse_size(std::string_view flag, std::string_view text);

// Asks the linked Google Benchmark, in a forked child, whether it accepts each
// --benchmark_* flag; rejects the flags cobench sets itself. Throws bad_input.
void check_benchmark_flags(const std::vector<std::string>& flags);

// Names a run with these options could measure (declared pairs excluded).
std::vector<std::string> runnable_names(const options& o, bool instructions);

// Throws bad_input when --filter is given and selects none of runnable_names,
// with an excerpt of the names there are and how to list them all.
void check_filter_selects(const options& o, bool instructions);

}  // namespace cb
