#include "reference_program.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

#include "bench/other_load.hpp"
#include "bench/supervise.hpp"

namespace cb {

using json = nlohmann::json;

json declared_entry(const reference_entry& e, const std::string& reason) {
    return {{"workload", e.workload}, {"runtime", e.runtime}, {"params", e.params}, {"reason", reason}};
}

void run_program_entries(const options& o, const std::vector<program_entry>& todo, const std::string& who,
                         const program_for& server, const entry_fields& fields, json& benchmarks, json& declared) {
    const auto t_all = std::chrono::steady_clock::now();
    std::size_t ok = 0, failed = 0;
    for (const auto& e : todo) {
        throw_if_interrupted();
        wl::server_program prog;
        std::string reason = server(e, prog);
        if (reason.empty()) reason = e.unsupported;
        if (!reason.empty()) {
            declared.push_back(declared_entry(e.ref, reason));
            continue;
        }
        const int reps = std::max(1, std::min(o.repetitions, e.max_repetitions));
        for (int rep = 0; rep < reps; ++rep) {
            measurement m;
            std::string error;
            const load_window load;  // the server program is our child: counted as ours
            try {
                error = e.run(prog, m).error;
            } catch (const std::exception& ex) {
                error = ex.what();
            }
            throw_if_interrupted();
            if (!error.empty()) {
                ++failed;
                benchmarks.push_back({{"name", e.ref.name}, {"run_name", e.ref.name}, {"run_type", "iteration"},
                                      {"reference", true}, {"error_occurred", true},
                                      {"error_message", who + ": " + error}});
                break;
            }
            const double wall_ms = m.seconds * 1e3;
            json b{{"name", e.ref.name}, {"run_name", e.ref.name}, {"run_type", "iteration"},
                   {"repetitions", reps}, {"repetition_index", rep}, {"iterations", 1},
                   {"real_time", wall_ms}, {"cpu_time", wall_ms}, {"time_unit", "ms"},
                   {"reference", true}, {"ops", e.ops}};
            const json extra = fields(e);  // named: items() of a temporary would dangle in the loop
            for (auto& [k, v] : extra.items()) b[k] = v;
            for (auto& [k, v] : e.report(m)) b[k] = v;
            put_load(b, load.read());
            benchmarks.push_back(b);
            ++ok;
        }
    }
    if (!todo.empty())
        std::fprintf(stderr, "cobench: %s: %zu runs ok, %zu failed, in %.1f s\n", who.c_str(), ok, failed,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count());
}

}  // namespace cb
