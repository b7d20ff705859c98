// Keeping finished runtime families on disk as a run goes, and --resume.
//
// A full-profile run takes about an hour; one that dies near its end would
// otherwise keep nothing. Each family that finishes "ok" is kept in a state
// folder beside the results file, <out>.resume/ (same folder, so the same
// filesystem), which holds
//
//   manifest.json        {"cobench_resume": 1, "command": the command line,
//                         "identity": what must match for a resume: the
//                         build (git commit, dirty flag, build fingerprint,
//                         and the executable's hash for a dirty tree), the
//                         machine (kernel, CPU model and count), the profile
//                         and every option that changes what is measured}
//   family-NAME.json     {"runtime", "record": its families[] entry,
//                         "context": its Google Benchmark context,
//                         "benchmarks": its entries as merged}
//
// each written whole (write, fsync, rename, fsync of the folder), so a kill
// at any moment leaves the old file or the new one. The folder itself is
// made complete (manifest and first family) in the run's work folder and
// renamed into place: a state folder always has its manifest.
//
// Without --resume an existing state for the target is discarded as the run
// starts (stderr says so). With --resume it must exist and match the run's
// identity, else bad_input. The references are not kept: they run again on
// a resume. The state is removed as the run ends with no failed family and
// its results written (or none succeeded: a resume would change nothing);
// otherwise (a signal, a failed family, a results file that could not be
// written) it stays, and say_how_to_resume() prints the command.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/cli.hpp"
#include "bench/output.hpp"

namespace cb {

// <out>.resume
std::string resume_state_path(const std::string& out);

class resume_state {
public:
    // Throws bad_input: --resume without a state, or with one of another
    // run; a path in the way of the state folder that cobench did not make.
    resume_state(const options& o, output_target& target);
    ~resume_state();
    resume_state(const resume_state&) = delete;
    resume_state& operator=(const resume_state&) = delete;

    // A family kept by the interrupted run: appends its entries and its
    // families[] record, takes its context if `context` has none yet, and
    // says so on stderr ("[k/n] NAME: kept from the interrupted run").
    // False if it was not kept (it runs).
    bool restore(const std::string& family, std::size_t k, std::size_t n, nlohmann::json& benchmarks,
                 nlohmann::json& context, nlohmann::json& families);

    // A family that just ran: `record` is its families[] entry, its entries
    // are benchmarks[first...], `own_context` the context it wrote. Kept if
    // its status is "ok"; a failure to keep it is said and the run goes on.
    void keep(const nlohmann::json& record, const nlohmann::json& benchmarks, std::size_t first,
              const nlohmann::json& own_context);

    // After finish() returned (the results written, or none succeeded: a
    // resume would change neither): removes the state unless a family
    // failed. Not called when the results could not be written.
    void done();
    // Whether a family was kept by the interrupted run (and will not run).
    bool holds(const std::string& family) const { return kept_.contains(family); }

private:
    bool write(const std::string& name, const nlohmann::json& j);

    output_target& target_;
    std::string path_;
    nlohmann::json manifest_, kept_;  // kept_: family name -> its unit
    int dir_ = -1;                    // the state folder, once there is one of this run
    bool disabled_ = false, failed_family_ = false;
};

// With a state on disk for o.out: "cobench: N families are kept in 'DIR';
// to continue: COMMAND --resume" on stderr, as a run's last line.
void say_how_to_resume(const options& o);

}  // namespace cb
