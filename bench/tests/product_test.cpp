// Adding a runtime is one folder plus one registry line: the test-only inline
// runtime (runtimes/tests/inline_runtime/), registered only in the test
// registry, shows up in the product the harness plans from, with its traits,
// its benchmarks and the pairs it declares unable to run, without any edit
// to bench/ or workloads/.
#include <gtest/gtest.h>

#include <algorithm>

#include "bench/product.hpp"
#include "runtimes/tests/test_registry.hpp"
#include "workloads/all.hpp"

namespace {

using test_product = cb::product<cb::testing::test_runtimes, cb::wl::all_workloads>;

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

TEST(Product, ATestRuntimeIsPlannedLikeTheRest) {
    EXPECT_TRUE(has(test_product::runtime_names(), "inline"));
    std::vector<std::string> names;
    for (auto& p : test_product::planned(cb::profile::test)) names.push_back(p.name);
    EXPECT_TRUE(has(names, "spawn/inline/tasks:16"));
    EXPECT_TRUE(has(names, "cpu_bound/inline/tasks:2"));
    EXPECT_TRUE(has(names, "max_tasks/inline"));
    // Its traits travel with it (they go into the results JSON).
    auto traits = test_product::traits();
    auto it = std::find_if(traits.begin(), traits.end(), [](auto& t) { return t.name == "inline"; });
    ASSERT_NE(it, traits.end());
    EXPECT_FALSE(it->concurrent);
    EXPECT_EQ(cb::to_string(it->kind), "inline");
}

TEST(Product, PairsATestRuntimeCannotRunAreDeclaredWithAReason) {
    std::size_t declared = 0;
    for (auto& d : test_product::declared(cb::profile::test)) {
        if (d.runtime != "inline") continue;
        ++declared;
        EXPECT_NE(d.reason.find("one after another"), std::string::npos) << d.workload << ": " << d.reason;
    }
    // ping_pong (2 sizes), pipe_pong (2), idle_memory, producer_consumer (2), bounded_fanout (2), echo (2:
    // conns:2 and its rate point), echo_accept (once: a runtime that is no hybrid declares it for all sizes),
    // pipeline (via:channel), slow_io (2 cells), blocking_pitfall (4 variants), idle_conns.
    EXPECT_EQ(declared, 20u);
    for (auto& p : test_product::planned(cb::profile::test))
        EXPECT_FALSE(p.name.starts_with("ping_pong/inline/")) << p.name << " is planned but cannot run";
}

// Every runtime has max_tasks measured (planned) or declared with a reason,
// in every profile: the I/O backend variants and an unavailable runtime
// included.
TEST(Product, EveryRuntimeHasMaxTasksMeasuredOrDeclared) {
    for (cb::profile prof : {cb::profile::test, cb::profile::quick, cb::profile::full, cb::profile::limits}) {
        std::vector<std::string> covered;
        for (auto& p : test_product::planned(prof))
            if (p.name.starts_with("max_tasks/")) covered.push_back(p.runtime);
        for (auto& d : test_product::declared(prof)) {
            if (d.workload != "max_tasks") continue;
            EXPECT_FALSE(d.reason.empty()) << d.name();
            EXPECT_EQ(d.name().rfind("max_tasks/" + d.runtime, 0), 0u) << d.name();
            covered.push_back(d.runtime);
        }
        for (const std::string& rt : test_product::runtime_names())
            EXPECT_TRUE(has(covered, rt)) << "max_tasks/" << rt << " is neither measured nor declared in profile "
                                          << cb::profile_name(prof);
    }
}

// A loop over a backend other than the base is a variant (derived from
// traits.io_backend): the base loop is registered beside it, and the variant
// still runs what waits in the reactor.
TEST(Product, BackendVariantsHaveTheirBaseAndRunTheirIo) {
    const auto traits = test_product::traits();
    std::size_t variants = 0;
    for (const cb::runtime_traits& t : traits) {
        if (!cb::io_backend_variant(t)) continue;
        ++variants;
        EXPECT_TRUE(t.counts_syscalls) << t.name << ": a backend comparison reads syscalls_per_op";
        EXPECT_TRUE(std::any_of(traits.begin(), traits.end(), [&](const cb::runtime_traits& u) {
            return u.io_backend == cb::base_io_backend && u.kind == t.kind && u.stack == t.stack;
        })) << t.name << " has no base loop registered";
        for (auto& d : test_product::declared(cb::profile::quick))
            EXPECT_FALSE(d.runtime == t.name && d.reason.starts_with("another I/O backend") && d.workload == "echo")
                << d.name() << ": echo waits in the reactor";
    }
    EXPECT_GE(variants, 1u);
}

TEST(Product, InstructionCountsOnlyWhereOneThreadRunsEverything) {
    for (auto& p : test_product::planned(cb::profile::test)) {
        if (!p.deterministic) continue;
        auto traits = test_product::traits();
        auto it = std::find_if(traits.begin(), traits.end(), [&](auto& t) { return t.name == p.runtime; });
        ASSERT_NE(it, traits.end());
        EXPECT_FALSE(it->multi_core) << p.name;
    }
}

}  // namespace
