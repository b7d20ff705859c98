#include "machine.hpp"

#include <array>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <boost/version.hpp>
#include <gnu/libc-version.h>
#include <oneapi/tbb/version.h>
#include <sys/utsname.h>

#ifndef COBENCH_CXX_FLAGS
#define COBENCH_CXX_FLAGS "unknown"
#endif
#ifndef COBENCH_BUILD_TYPE
#define COBENCH_BUILD_TYPE "unknown"
#endif
// The commit and dirty flag of the tree this binary was built from, written
// at every build by bench/git_commit.cmake (never read from whatever tree is
// around at run time).
#if __has_include("cobench_git.hpp")
#include "cobench_git.hpp"
#endif
#ifndef COBENCH_GIT_COMMIT
#define COBENCH_GIT_COMMIT "unknown"
#define COBENCH_GIT_DIRTY "unknown"
#endif
#ifndef COBENCH_BENCHMARK_VERSION
#define COBENCH_BENCHMARK_VERSION "unknown"
#endif
#ifndef COBENCH_URING_VERSION
#define COBENCH_URING_VERSION "not found"
#endif

namespace cb {
namespace {

std::string command_output(const std::string& cmd) {
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        std::array<char, 256> buf{};
        while (std::fgets(buf.data(), buf.size(), p)) out += buf.data();
        ::pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

std::string cpuinfo_field(const std::string& key) {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.compare(0, key.size(), key) == 0) {
            auto c = line.find(':');
            return c == std::string::npos ? "" : line.substr(c + 2);
        }
    return "";
}

// A container inside a VM is both; say both, since the VM is what makes
// system calls and page faults expensive.
std::string virtualization() {
    const bool hypervisor = cpuinfo_field("flags").find(" hypervisor") != std::string::npos;
    std::string vm = command_output("systemd-detect-virt --vm 2>/dev/null");
    std::string ct = command_output("systemd-detect-virt --container 2>/dev/null");
    if (vm.empty() || vm == "none") vm = hypervisor ? "vm (hypervisor flag)" : "";
    else vm = "vm: " + vm;
    if (ct == "none") ct.clear();
    if (!ct.empty()) ct = "container: " + ct;
    std::string out = vm + (vm.empty() || ct.empty() ? "" : "; ") + ct;
    return out.empty() ? "none detected" : out;
}

}  // namespace

kv_list machine_context() {
    utsname u{};
    ::uname(&u);
    std::ostringstream boost_v, tbb_v;
    boost_v << BOOST_VERSION / 100000 << "." << BOOST_VERSION / 100 % 1000 << "." << BOOST_VERSION % 100;
    tbb_v << TBB_VERSION_MAJOR << "." << TBB_VERSION_MINOR;
    kv_list kv{
        {"cobench_build_type", COBENCH_BUILD_TYPE},
        {"git_commit", COBENCH_GIT_COMMIT},
        {"git_dirty", COBENCH_GIT_DIRTY},
        {"compiler", std::string("g++ ") + __VERSION__},
        {"cxx_flags", COBENCH_CXX_FLAGS},
        {"kernel", std::string(u.sysname) + " " + u.release},
        {"cpu_model", cpuinfo_field("model name")},
        {"cpu_count", std::to_string(std::thread::hardware_concurrency())},
        {"virtualized", virtualization()},
        {"boost_version", boost_v.str()},
        {"tbb_version", tbb_v.str()},
        {"benchmark_version", COBENCH_BENCHMARK_VERSION},
        {"liburing_version", COBENCH_URING_VERSION},
        {"glibc_version", gnu_get_libc_version()},
    };
    // What decides instruction counts: compiler, flags, build type, libraries.
    std::string key;
    for (const char* k : {"cobench_build_type", "compiler", "cxx_flags", "boost_version", "tbb_version", "benchmark_version", "glibc_version"})
        for (auto& [name, value] : kv)
            if (name == k) key += name + "=" + value + ";";
    std::ostringstream fp;
    fp << std::hex << std::hash<std::string>{}(key);
    kv.emplace_back("fingerprint", fp.str());
    return kv;
}

}  // namespace cb
