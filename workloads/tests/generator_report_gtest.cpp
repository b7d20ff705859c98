// The generator's report format (workloads/io/generator_report.hpp): every
// field of echo_phase survives the trip through its line exactly, the
// phases keep their order, and a line that is not exactly this build's
// format is rejected rather than read into the wrong fields. That the real
// generator writes what the server side reads is proven end to end by the
// echo tests (open_loop_gtest, io_workload_tests), which run it.
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "workloads/io/generator_report.hpp"

namespace {

namespace wl = cb::wl;

// Every field a value of its own (the bools alternate), the first the
// largest a field can hold.
wl::echo_phase distinct(std::uint64_t seed) {
    wl::echo_phase p;
    std::uint64_t next = seed;
    bool flag = seed % 2 == 0;
    for_each_field(p, [&](const char*, auto& v) {
        if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, bool>) {
            v = flag;
            flag = !flag;
        } else {
            v = next == seed ? std::numeric_limits<std::uint64_t>::max() : next;
            next = next * 1000003 + 7;
        }
    });
    return p;
}

TEST(GeneratorReport, EveryFieldRoundTripsExactly) {
    for (std::uint64_t seed : {1u, 2u, 12345u}) {
        const wl::echo_phase p = distinct(seed);
        const auto back = wl::parse_report(wl::phase_line(p));
        ASSERT_TRUE(back) << wl::phase_line(p);
        ASSERT_EQ(back->size(), 1u);
        EXPECT_EQ(back->front(), p) << wl::phase_line(p);
    }
    const auto zero = wl::parse_report(wl::phase_line(wl::echo_phase{}));
    ASSERT_TRUE(zero);
    EXPECT_EQ(zero->front(), wl::echo_phase{});
}

TEST(GeneratorReport, EachFieldIsCarriedByItsOwnName) {
    // One field away from its default comes back as exactly that: no two
    // fields share a place on the line.
    std::set<std::string> names;
    std::size_t i = 0;
    wl::echo_phase probe;
    for_each_field(probe, [&](const char* name, auto&) {
        EXPECT_TRUE(names.insert(name).second) << name << " is on the line twice";
        wl::echo_phase p;
        std::size_t j = 0;
        for_each_field(p, [&](const char*, auto& v) {
            if (j++ != i) return;
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, bool>)
                v = !v;
            else
                v = v + 1;  // away from any default (thread_count's is 1)
        });
        const auto back = wl::parse_report(wl::phase_line(p));
        ASSERT_TRUE(back) << name;
        EXPECT_EQ(back->front(), p) << name;
        EXPECT_NE(back->front(), wl::echo_phase{}) << name;
        ++i;
    });
    EXPECT_EQ(names.size(), wl::echo_phase_field_count);
}

TEST(GeneratorReport, PhasesKeepTheirOrder) {
    const std::vector<wl::echo_phase> phases{distinct(3), distinct(4)};
    const auto back = wl::parse_report(wl::report_text(phases));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, phases);
}

TEST(GeneratorReport, RejectsAnythingButThisFormat) {
    const std::string good = wl::phase_line(distinct(5));
    ASSERT_TRUE(wl::parse_report(good));
    const std::string body = good.substr(0, good.size() - 1);
    const auto replace = [&](const std::string& from, const std::string& to) {
        std::string s = good;
        const std::size_t at = s.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        return s.replace(at, from.size(), to);
    };
    const std::vector<std::string> bad{
        "",                                              // no phase at all
        body,                                            // no '\n' at the end
        good + body,                                     // a second line cut short
        good + "\n",                                     // an empty line
        body + " extra=1\n",                             // a field this build does not know
        replace(" cpus_pinned=", "\n"),                  // the last field missing (and a line break instead)
        replace("requests=", "request="),                // a misspelt name
        replace("mismatches=", "errors="),               // a name out of its place
        replace("gen_valid=1", "gen_valid=2"),           // a boolean neither 0 nor 1
        replace("gen_valid=1", "gen_valid=-1"),          // a sign
        replace("errors=", "errors=x"),                  // not a number
        replace("requests=18446744073709551615", "requests=18446744073709551616"),  // over 64 bits
        replace(" mismatches=", "  mismatches="),        // two spaces
        replace("requests=18446744073709551615", "requests="),  // no value
        "1 2 3 4 5 6 7 8 9 10 11\n",                     // the old positional line
    };
    for (const std::string& s : bad) EXPECT_FALSE(wl::parse_report(s)) << "accepted: '" << s << "'";
}

}  // namespace
