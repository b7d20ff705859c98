// The load generator's report: what cobench_echo_client (bench/programs/
// generator/) writes to its report pipe and the server side
// (workloads/io/echo_client.hpp) reads. Both sides go through the one field
// list below, for_each_field(), and the one pair phase_line() /
// parse_report(), so the two cannot drift apart:
//   - a member added to echo_phase but not to the list fails to compile (the
//     static_assert on the member count);
//   - a line from a generator built from another list is rejected (every
//     field is named on the line and checked, in order), not read into the
//     wrong fields.
//
// The report: one line a phase, in the order the phases ran (the closed
// phase first when there are two), each `name=value` for every field of
// for_each_field() in its order, separated by single spaces and ended by
// '\n'. Values are unsigned decimal integers, booleans 0 or 1: the exact
// numbers the generator measured, nothing rounded on the way.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cb::wl {

// One phase of a cobench_echo_client run (one line of its report).
struct echo_phase {
    std::uint64_t requests = 0, mismatches = 0, errors = 0, p50_ns = 0, p99_ns = 0;
    // go (or the phase's start) to last reply; the client's own CPU time (the
    // closed loop: the whole process from the go byte on; the open loop: the
    // generating thread over the phase, the hiccup probe not in it)
    std::uint64_t elapsed_ns = 0, cpu_ns = 0;
    std::uint64_t max_ns = 0;   // the slowest round trip (the open loop: from the intended send time)
    std::uint64_t conns = 0;    // connections made (more than asked with echo_client_options::reconnect)
    std::uint64_t stuck = 0;    // connections with a slow reply, counted once per mark (echo_client_options::slow_ms)
    std::uint64_t marks = 0;    // requests sent with the stall mark (echo_client_options::mark_every_ms)
    std::uint64_t p90_ns = 0, p999_ns = 0;  // both loops; percentiles are within 0.8% (histogram.hpp)
    // The server's CPU over the phase, read by the client from the server
    // process's and its live descendants' CPU clocks; only the open loop and
    // the closed phase of closed_first measure it (server_cpu_ok).
    std::uint64_t server_cpu_ns = 0;
    bool server_cpu_ok = false;
    // The open loop (the closed loop: sent = requests, the rest 0, gen_valid).
    std::uint64_t sent = 0;           // requests sent
    std::uint64_t late = 0;           // sent more than one interval (max(conns/rate, 1 ms)) after their intended time
    bool gen_valid = true;            // at most 1% late, every send made, every reply back intact
    std::uint64_t hiccup_max_ns = 0, hiccup_p999_ns = 0;  // the probe's wake-up lateness (0: --no-hiccups)
    std::uint64_t steal_ns = 0;       // steal time over the phase, all CPUs (/proc/stat)
    std::uint64_t schedule_ns = 0;    // the scheduled duration
    // The generator's threads (--threads): each owns a slice of the
    // connections and of the schedule; the phase is their sum (histograms
    // merged exactly), valid only if each thread's share was valid too.
    std::uint64_t thread_count = 1;
    std::uint64_t threads_invalid = 0;  // threads whose own share was not valid (then gen_valid is 0)
    // Where it ran (--pin): the lowest and highest CPU pinned to and how
    // many (cpus_pinned 0: not pinned, the other two then 0). Thread i runs
    // on the i-th listed CPU (modulo their count).
    std::uint64_t cpu_first = 0, cpu_last = 0, cpus_pinned = 0;

    bool operator==(const echo_phase&) const = default;
};

// The wire's field list: f(name, member) for every member of echo_phase, in
// the order of the line. The names are the members' own.
template <class Phase, class F>
    requires std::is_same_v<std::remove_const_t<Phase>, echo_phase>
constexpr void for_each_field(Phase& p, F&& f) {
    f("requests", p.requests);
    f("mismatches", p.mismatches);
    f("errors", p.errors);
    f("p50_ns", p.p50_ns);
    f("p99_ns", p.p99_ns);
    f("elapsed_ns", p.elapsed_ns);
    f("cpu_ns", p.cpu_ns);
    f("max_ns", p.max_ns);
    f("conns", p.conns);
    f("stuck", p.stuck);
    f("marks", p.marks);
    f("p90_ns", p.p90_ns);
    f("p999_ns", p.p999_ns);
    f("server_cpu_ns", p.server_cpu_ns);
    f("server_cpu_ok", p.server_cpu_ok);
    f("sent", p.sent);
    f("late", p.late);
    f("gen_valid", p.gen_valid);
    f("hiccup_max_ns", p.hiccup_max_ns);
    f("hiccup_p999_ns", p.hiccup_p999_ns);
    f("steal_ns", p.steal_ns);
    f("schedule_ns", p.schedule_ns);
    f("thread_count", p.thread_count);
    f("threads_invalid", p.threads_invalid);
    f("cpu_first", p.cpu_first);
    f("cpu_last", p.cpu_last);
    f("cpus_pinned", p.cpus_pinned);
}

namespace detail {
// Converts to anything: T{any_value{} x N} compiles for N up to T's member count.
struct any_value {
    template <class T>
    constexpr operator T() const noexcept { return T{}; }
};
template <class T, class... A>
constexpr std::size_t member_count() {
    if constexpr (requires { T{A{}..., any_value{}}; })
        return member_count<T, A..., any_value>();
    else
        return sizeof...(A);
}
}  // namespace detail

inline constexpr std::size_t echo_phase_field_count = [] {
    std::size_t n = 0;
    echo_phase p;
    for_each_field(p, [&n](const char*, auto&) { ++n; });
    return n;
}();
static_assert(std::is_aggregate_v<echo_phase> && detail::member_count<echo_phase>() == echo_phase_field_count,
              "every member of echo_phase must be on the wire: add it to for_each_field()");

// One phase as its report line, '\n' included.
[[nodiscard]] inline std::string phase_line(const echo_phase& p) {
    std::string s;
    for_each_field(p, [&s](const char* name, const auto& v) {
        if (!s.empty()) s += ' ';
        s += name;
        s += '=';
        s += std::to_string(static_cast<std::uint64_t>(v));
    });
    s += '\n';
    return s;
}

// One report line (without its '\n') back into a phase; nullopt unless it
// names every field in order, each with a whole unsigned number (a boolean
// 0 or 1), and nothing else.
[[nodiscard]] inline std::optional<echo_phase> parse_phase_line(std::string_view line) {
    echo_phase p;
    bool ok = true;
    bool first = true;
    for_each_field(p, [&](const char* name, auto& v) {
        if (!ok) return;
        if (!first && !(ok = !line.empty() && line.front() == ' ')) return;
        if (!first) line.remove_prefix(1);
        first = false;
        const std::string_view key = name;
        if (!(ok = line.starts_with(key) && line.size() > key.size() && line[key.size()] == '=')) return;
        line.remove_prefix(key.size() + 1);
        std::uint64_t x = 0;
        const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), x);
        if (!(ok = ec == std::errc{} && end != line.data())) return;
        line.remove_prefix(static_cast<std::size_t>(end - line.data()));
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, bool>) {
            if (!(ok = x <= 1)) return;
            v = x == 1;
        } else {
            v = x;
        }
    });
    if (!ok || !line.empty()) return std::nullopt;
    return p;
}

// A whole report: the phases, one line each, in order.
[[nodiscard]] inline std::string report_text(const std::vector<echo_phase>& phases) {
    std::string s;
    for (const echo_phase& p : phases) s += phase_line(p);
    return s;
}

// A whole report back into its phases; nullopt if any line is malformed or
// not ended by '\n', or there is no line at all.
[[nodiscard]] inline std::optional<std::vector<echo_phase>> parse_report(std::string_view text) {
    std::vector<echo_phase> phases;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        if (nl == std::string_view::npos) return std::nullopt;
        std::optional<echo_phase> p = parse_phase_line(text.substr(0, nl));
        if (!p) return std::nullopt;
        phases.push_back(*p);
        text.remove_prefix(nl + 1);
    }
    if (phases.empty()) return std::nullopt;
    return phases;
}

}  // namespace cb::wl
