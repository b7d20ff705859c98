#include "instructions.hpp"

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

#include "bench/families.hpp"
#include "bench/merge.hpp"
#include "bench/output.hpp"
#include "bench/supervise.hpp"

namespace cb {

using json = nlohmann::json;

profile instruction_sizes(profile p) { return p == profile::full ? profile::quick : profile::test; }

namespace {

// Parses "summary: N" / "totals: N" from a callgrind output file.
double callgrind_total(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    double total = -1;
    while (std::getline(f, line)) {
        if (line.rfind("summary:", 0) == 0 || line.rfind("totals:", 0) == 0) {
            try {
                total = std::stod(line.substr(line.find(':') + 1));
            } catch (const std::exception&) {
                total = -1;
            }
        }
    }
    return total;
}

}  // namespace

int run_instructions(const options& o) {
    output_target target(o.out);  // refused here, before anything runs
    child_options probe_opts;
    probe_opts.search_path = true;
    probe_opts.capture = true;
    probe_opts.timeout_s = 60;
    if (run_child({"valgrind", "--version"}, probe_opts).status != "ok")
        throw std::runtime_error("--instructions needs valgrind (apt-get install valgrind)");
    const std::string exe = self_exe();
    const profile prof = instruction_sizes(o.prof);
    json benchmarks = json::array(), families = json::array();
    bool all_ok = true;
    std::vector<planned_pair> todo;
    for (auto& p : planned_pairs(prof))
        if (p.deterministic && o.selected(p.name, p.runtime)) todo.push_back(p);
    std::size_t k = 0;
    for (auto& p : todo) {
        ++k;
        const std::string out = target.scratch("callgrind." + std::to_string(k));
        const std::string ops_file = target.scratch("ops." + std::to_string(k));
        std::vector<std::string> args{"valgrind", "-q", "--tool=callgrind", "--instr-atstart=no",
                                      "--callgrind-out-file=" + out, exe, "--instr-one", p.name,
                                      "--profile", std::string(profile_name(prof)), "--family-out", ops_file,
                                      "--supervisor", std::to_string(::getpid())};
        std::fprintf(stderr, "cobench: [%zu/%zu] %s under callgrind...\n", k, todo.size(), p.name.c_str());
        child_options co;
        co.search_path = true;
        co.quiet_stdout = true;
        co.timeout_s = o.family_timeout;
        child_result r = run_child(args, co);
        double ir = callgrind_total(out), ops = -1;
        if (std::ifstream f(ops_file); f) f >> ops;
        ::unlink(out.c_str());
        ::unlink(ops_file.c_str());
        name_output_error(r, ops_file);
        if (r.status == "ok" && (ir <= 0 || ops <= 0)) r = {"error", "no instruction count came back", "", r.wall_s};
        if (r.status != "ok") {
            all_ok = false;
            std::fprintf(stderr, "cobench: [%zu/%zu] %s: %s: %s\n", k, todo.size(), p.name.c_str(), r.status.c_str(),
                         r.message.c_str());
            benchmarks.push_back({{"name", p.name}, {"run_name", p.name}, {"run_type", "iteration"}, {"error_occurred", true},
                                  {"error_message", r.status + ": " + r.message}});
            continue;
        }
        benchmarks.push_back({{"name", p.name}, {"run_name", p.name}, {"run_type", "iteration"}, {"repetitions", 1},
                              {"repetition_index", 0}, {"iterations", 1}, {"real_time", r.wall_s * 1e3},
                              {"cpu_time", r.wall_s * 1e3}, {"time_unit", "ms"}, {"instructions", ir},
                              {"instructions_per_op", ir / ops}});
    }
    families.push_back({{"runtime", "callgrind"}, {"status", all_ok ? "ok" : "error"}, {"message", ""}, {"wall_s", 0}});
    json doc{{"context", context_json(o, json::object())}, {"benchmarks", benchmarks}, {"families", families},
             {"declared", json::array()}};
    doc["context"]["cobench_sizes"] = std::string(profile_name(prof));
    return finish(target, doc, "instruction counts");
}

int run_instr_one(const options& o) {
    become_supervised_child(o.supervisor);
    double ops = run_instrumented(o.instr_one, o.prof);
    checked_file f(o.family_out);
    f.stream() << ops << "\n";
    if (const int err = f.close(); err != 0) return output_failed(o.instr_one, o.family_out, err);
    return 0;
}

}  // namespace cb
