// --report-out (report_json.hpp).
#include "report_json.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cb::gen {
namespace {

std::string quoted(const std::string& s) {
    std::string q = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') q += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;  // a host name has none
        q += c;
    }
    return q + '"';
}

std::string fields_json(const wl::echo_phase& p) {
    std::string s = "{";
    wl::for_each_field(p, [&s](const char* name, const auto& v) {
        if (s.size() > 1) s += ", ";
        s += '"';
        s += name;
        s += "\": ";
        s += std::to_string(static_cast<std::uint64_t>(v));
    });
    return s + '}';
}

std::string histogram_json(const wl::log_histogram& h) {
    std::string s = "{\"sub_bits\": " + std::to_string(wl::log_histogram::sub_bits) +
                    ", \"count\": " + std::to_string(h.count()) + ", \"min\": " + std::to_string(h.min()) +
                    ", \"max\": " + std::to_string(h.max()) + ", \"buckets\": [";
    bool first = true;
    for (std::size_t i = 0; i < wl::log_histogram::bucket_count; ++i)
        if (const std::uint64_t c = h.bucket(i)) {
            if (!first) s += ", ";
            first = false;
            s += '[' + std::to_string(i) + ", " + std::to_string(c) + ']';
        }
    return s + "]}";
}

}  // namespace

bool write_report_json(const std::string& path, const report_origin& from, const std::vector<phase_result>& phases) {
    std::string s = "{\"format\": \"cobench-generator-report\", \"version\": 1, \"host\": " + quoted(from.host) +
                    ", \"port\": " + std::to_string(from.port) + ", \"thread_count\": " +
                    std::to_string(phases.empty() ? 1 : phases.front().parts.size()) + ", \"phases\": [";
    for (std::size_t i = 0; i < phases.size(); ++i) {
        const phase_result& p = phases[i];
        s += i ? ",\n  " : "\n  ";
        s += "{\"fields\": " + fields_json(p.merged) + ", \"histogram\": " + histogram_json(p.hist) + ", \"per_thread\": [";
        for (std::size_t t = 0; t < p.parts.size(); ++t) {
            if (t) s += ", ";
            s += "{\"fields\": " + fields_json(p.parts[t]) + ", \"histogram\": " + histogram_json(p.part_hists[t]) + '}';
        }
        s += "]}";
    }
    s += "]}\n";
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) {
        std::fprintf(stderr, "cobench_echo_client: --report-out %s: %s\n", path.c_str(), std::strerror(errno));
        return false;
    }
    const bool ok = std::fwrite(s.data(), 1, s.size(), f) == s.size();
    const bool closed = std::fclose(f) == 0;
    if (!ok || !closed) std::fprintf(stderr, "cobench_echo_client: --report-out %s: write failed\n", path.c_str());
    return ok && closed;
}

}  // namespace cb::gen
