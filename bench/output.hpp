// The results file: where it may go, how it is written, what it contains.
//
// An output_target is made before anything runs. It refuses a path that
// exists and is not a regular file (a directory, device, FIFO, socket, or a
// symbolic link: cobench never writes through one), and a folder that is
// missing or cannot be written. It owns a private work folder (mkdtemp, next
// to the target) for the families' partial outputs, removed on destruction.
// commit() writes the document through mkstemp in the target's folder and
// renames it over the target, with SIGINT/SIGTERM/SIGHUP held back for the
// moment of the rename: a signal that came before leaves the previous file
// byte for byte as it was.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/cli.hpp"

namespace cb {

class output_target {
public:
    explicit output_target(std::string path);  // throws bad_input
    ~output_target();
    output_target(const output_target&) = delete;
    output_target& operator=(const output_target&) = delete;

    const std::string& path() const { return path_; }
    // A path inside the private work folder, unique to this run.
    std::string scratch(const std::string& name) const { return work_ + "/" + name; }
    // Writes `text` and renames it over the target. Throws std::runtime_error
    // (the target untouched), or cb::interrupted if a signal came first.
    void commit(const std::string& text);

private:
    std::string path_, dir_, base_, work_;
};

// The results' context: Google Benchmark's own (from a family), the machine,
// cb::results_metadata() ("runtimes", "counters"), cobench_schema 2.
nlohmann::json context_json(const options& o, const nlohmann::json& base);

// Google Benchmark prints non-finite statistics (the coefficient of variation
// of an all-zero counter) as nan or inf, which is not JSON; they become null.
std::string without_non_finite(std::string text);

// Counted over distinct benchmark names (repetitions and aggregates folded).
struct tally {
    std::size_t succeeded = 0, errored = 0, failed_families = 0;
    std::string first_error;  // "name: message" or "family: status: message"
};
tally count_results(const nlohmann::json& doc);

// Decides and reports the outcome: with no successful benchmark the target is
// left untouched (exit 1); otherwise the document is committed, and the exit
// status is 3 if anything errored, else 0. One summary line on stderr.
int finish(output_target& target, const nlohmann::json& doc, const std::string& what);

}  // namespace cb
