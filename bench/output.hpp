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
#include <memory>
#include <ostream>
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

// A file that keeps the first error met writing it: a failed write (a full
// disk: ENOSPC, a quota: EDQUOT), fsync (EIO) or close records its errno,
// and what comes after is dropped, so that the writer can name the cause
// instead of leaving an unreadable file for its reader to puzzle over. A
// family child writes its output through one (Google Benchmark's JSON
// reporter writes to stream()). The descriptor is close-on-exec; a forked
// task inherits it but leaves with _exit and never flushes it.
class checked_file {
public:
    explicit checked_file(const std::string& path);  // created or truncated; a failure is kept for close()
    ~checked_file();
    checked_file(const checked_file&) = delete;
    checked_file& operator=(const checked_file&) = delete;

    std::ostream& stream();
    // The errno of the first failure so far (opening the file included), or 0.
    int error() const noexcept;
    // Flushes, fsyncs and closes: 0, or the errno of the first failure.
    [[nodiscard]] int close();

private:
    class fd_buf;
    std::unique_ptr<fd_buf> buf_;
    std::unique_ptr<std::ostream> os_;
};

// In a child that could not write its output (--family-out): says so on
// stderr, naming the errno, and returns the exit status that tells the
// orchestrator why (bench/supervise.hpp: output_errno_status).
int output_failed(const std::string& who, const std::string& path, int err);

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
