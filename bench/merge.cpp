#include "merge.hpp"

#include <fstream>
#include <iterator>

#include "bench/output.hpp"

namespace cb {

using json = nlohmann::json;

bool name_output_error(child_result& r, const std::string& path) {
    const int err = r.exit_status - output_errno_status;
    if (r.status != "error" || err <= 0 || err >= output_errno_max) return false;
    r.message = "could not write family output '" + path + "': " + errno_name(err);
    return true;
}

std::string entry_walls_path(const std::string& family_out) { return family_out + ".walls"; }

family_part merge_family(const std::string& path, child_result& r, json& benchmarks, json& context) {
    family_part m;
    // What it wrote is cut short, or was never synced: none of it is kept.
    if (name_output_error(r, path)) return m;
    if (std::ifstream f(path); f) {
        try {
            json j = json::parse(without_non_finite(std::string(std::istreambuf_iterator<char>(f), {})));
            if (context.is_null() && j.contains("context")) context = j["context"];
            for (auto& b : j.at("benchmarks")) {
                // A statistic that does not exist (the spread of an
                // all-zero counter) is left out, not written as a number.
                for (auto it = b.begin(); it != b.end();) it = it->is_null() ? b.erase(it) : std::next(it);
                if (b.value("error_occurred", false)) {
                    ++m.errors;
                    if (m.first_error.empty())
                        m.first_error = b.value("run_name", b.value("name", std::string("?"))) + ": " +
                                        b.value("error_message", std::string());
                }
                benchmarks.push_back(b);
                ++m.benchmarks;
            }
        } catch (const std::exception& e) {
            if (r.status == "ok") r = {"error", std::string("unreadable family output: ") + e.what(), "", r.wall_s};
        }
    } else if (r.status == "ok") {
        r = {"error", "the family wrote no results", "", r.wall_s};
    }
    // A family cut short (a timeout, a crash) wrote none: its estimate then
    // comes from the family's wall time alone.
    if (std::ifstream f(entry_walls_path(path)); f) {
        try {
            if (json w = json::parse(f); w.is_object()) m.entry_walls = std::move(w);
        } catch (const std::exception&) {
        }
    }
    return m;
}

}  // namespace cb
