#include "orchestrate.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <unistd.h>

#include "bench/estimate.hpp"
#include "bench/families.hpp"
#include "bench/merge.hpp"
#include "bench/other_load.hpp"
#include "bench/output.hpp"
#include "bench/reference.hpp"
#include "bench/resume.hpp"
#include "bench/supervise.hpp"

namespace cb {
namespace {

using json = nlohmann::json;

// Google Benchmark's JSON, written to a checked_file instead of the stream
// Google Benchmark opens for --benchmark_out (an ofstream whose write errors
// nobody sees: a full disk would leave a truncated file and a child that
// exits 0). Google Benchmark only calls a file reporter when --benchmark_out
// names a file, so it names /dev/null, and this reporter points itself at
// its own stream as the run starts.
//
// It also times each benchmark as a whole: Google Benchmark reports a
// benchmark once all its repetitions have run (its runs, then its
// aggregates), so the time from one report to the next is that benchmark's
// wall time, set-up, warm-up and every repetition included. These times are
// what a profile's estimate is made of (bench/estimate.hpp).
class family_json_reporter : public benchmark::JSONReporter {
public:
    explicit family_json_reporter(std::ostream& out) : out_(out) {}
    bool ReportContext(const Context& c) override {
        SetOutputStream(&out_);
        SetErrorStream(&out_);
        last_ = std::chrono::steady_clock::now();
        return JSONReporter::ReportContext(c);
    }
    void ReportRuns(const std::vector<Run>& runs) override {
        const auto now = std::chrono::steady_clock::now();
        if (!runs.empty() && runs.front().run_type == Run::RT_Iteration)
            walls_[runs.front().run_name.function_name] = {
                {"wall_s", std::chrono::duration<double>(now - last_).count()},
                {"repetitions", runs.size()}};
        JSONReporter::ReportRuns(runs);
        last_ = std::chrono::steady_clock::now();
    }
    const json& walls() const { return walls_; }

private:
    std::ostream& out_;
    std::chrono::steady_clock::time_point last_{};
    json walls_ = json::object();
};

// Before anything runs: how long the selected entries will take, from the
// timings a whole earlier run measured (bench/estimate.hpp).
// Families kept from an interrupted run (--resume) do not run again.
void say_estimate(const options& o, const std::vector<planned_pair>& planned, const resume_state& kept) {
    std::vector<planned_pair> chosen;
    for (const planned_pair& p : planned)
        if (o.selected(p.name, p.runtime) && !kept.holds(p.runtime)) chosen.push_back(p);
    for (const reference_entry& r : reference_entries(o.prof, o.runtimes))
        if (r.reason.empty() && o.selected(r.name, r.runtime)) chosen.push_back({r.name, r.runtime, false, 0});
    const run_estimate e = estimate_run(o, chosen, default_timings_path());
    std::fprintf(stderr, "cobench: profile %s, %zu entries, %d repetitions each (fewer where a workload caps them): %s\n",
                 std::string(profile_name(o.prof)).c_str(), chosen.size(), o.repetitions, describe(e).c_str());
}

}  // namespace

int run_family(const options& o) {
    become_supervised_child(o.supervisor);
    if (register_family(o.family, o.prof, o.filter.pattern(), o.repetitions, o.quiet_wait) == 0) return 0;
    std::vector<std::string> args{"cobench", "--benchmark_out=/dev/null", "--benchmark_out_format=json",
                                  "--benchmark_repetitions=" + std::to_string(o.repetitions)};
    for (auto& f : o.gbench_flags) args.push_back(f);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    int argc = static_cast<int>(argv.size());
    benchmark::Initialize(&argc, argv.data());
    if (benchmark::ReportUnrecognizedArguments(argc, argv.data())) return 1;
    checked_file out(o.family_out);  // a file that cannot even be created fails before anything runs
    if (const int err = out.error(); err != 0) return output_failed(o.family, o.family_out, err);
    family_json_reporter json_out(out.stream());
    benchmark::RunSpecifiedBenchmarks(nullptr, &json_out);
    benchmark::Shutdown();
    if (const int err = out.close(); err != 0) return output_failed(o.family, o.family_out, err);
    // Beside the results: {name: {wall_s, repetitions}} (entry_walls_path).
    checked_file walls(entry_walls_path(o.family_out));
    walls.stream() << json_out.walls().dump() << '\n';
    if (const int err = walls.close(); err != 0) return output_failed(o.family, entry_walls_path(o.family_out), err);
    return 0;
}

int run_benchmarks(const options& o) {
    output_target target(o.out);  // refused here, before anything runs
    json families = json::array(), benchmarks = json::array(), context;
    const std::string exe = self_exe();
    const auto planned = planned_pairs(o.prof);
    resume_state kept(o, target);  // finished families on disk, for --resume (bench/resume.hpp)
    say_estimate(o, planned, kept);
    std::size_t k = 0;
    for (auto& fam : o.runtimes) {
        ++k;
        std::vector<std::string> names;
        for (auto& p : planned)
            if (p.runtime == fam && o.selected(p.name, p.runtime) &&
                std::find(names.begin(), names.end(), p.name) == names.end())
                names.push_back(p.name);
        if (names.empty()) continue;
        if (kept.restore(fam, k, o.runtimes.size(), benchmarks, context, families)) continue;
        // Before the family's line: a reader (or a test) that sees it finds the family starting.
        (void)wait_until_quiet(o.quiet_wait, fam);
        std::fprintf(stderr, "cobench: [%zu/%zu] %s: %zu benchmarks, profile %s...\n", k, o.runtimes.size(), fam.c_str(),
                     names.size(), std::string(profile_name(o.prof)).c_str());
        const std::string part = target.scratch(fam + ".json");
        std::vector<std::string> args{exe, "--family", fam, "--family-out", part, "--profile",
                                      std::string(profile_name(o.prof)), "--repetitions", std::to_string(o.repetitions),
                                      "--quiet-wait", std::to_string(o.quiet_wait),
                                      "--supervisor", std::to_string(::getpid())};
        if (!o.filter.empty()) args.insert(args.end(), {"--filter", exact_names_pattern(names)});
        for (auto& f : o.gbench_flags) args.push_back(f);
        child_options co;
        co.timeout_s = o.family_timeout;
        child_result r = run_child(args, co);
        const std::size_t first = benchmarks.size();
        json own_context;  // this family's, kept with it; the run's is the first family's
        const family_part m = merge_family(part, r, benchmarks, own_context);
        if (context.is_null()) context = own_context;
        const std::size_t got = m.benchmarks, errors = m.errors;
        const std::string& first_error = m.first_error;
        families.push_back({{"runtime", fam}, {"status", r.status}, {"message", r.message}, {"wall_s", r.wall_s},
                            {"benchmarks", got}, {"errors", errors}, {"entry_walls", m.entry_walls}});
        kept.keep(families.back(), benchmarks, first, own_context);
        if (r.status != "ok")
            std::fprintf(stderr, "cobench: [%zu/%zu] %s: %s in %.1f s: %s (%zu entries kept, %zu errored)\n", k,
                         o.runtimes.size(), fam.c_str(), r.status.c_str(), r.wall_s, r.message.c_str(), got, errors);
        else if (errors > 0)
            std::fprintf(stderr, "cobench: [%zu/%zu] %s: %zu of %zu entries errored in %.1f s (first: %s)\n", k,
                         o.runtimes.size(), fam.c_str(), errors, got, r.wall_s, first_error.c_str());
        else
            std::fprintf(stderr, "cobench: [%zu/%zu] %s: ok, %zu entries in %.1f s\n", k, o.runtimes.size(), fam.c_str(),
                         got, r.wall_s);
    }
    json declared = json::array();
    for (auto& d : declared_pairs(o.prof))
        if (o.selected(d.workload + "/" + d.runtime + "/" + d.params, d.runtime))
            declared.push_back({{"workload", d.workload}, {"runtime", d.runtime}, {"params", d.params}, {"reason", d.reason}});
    json references = json::object(), reference_counters = json::object();
    run_references(o, benchmarks, declared, references, reference_counters);
    json doc{{"context", context_json(o, context)}, {"benchmarks", benchmarks}, {"families", families}, {"declared", declared}};
    if (!references.empty()) doc["context"]["references"] = references;
    for (auto& [k, v] : reference_counters.items()) doc["context"]["counters"].emplace(k, v);  // the workloads' own win
    const int status = finish(target, doc, std::to_string(declared.size()) + " declared pairs");
    kept.done();
    return status;
}

}  // namespace cb
