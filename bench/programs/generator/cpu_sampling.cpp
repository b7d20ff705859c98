// CPU readings for the generator's report (cpu_sampling.hpp).
#include "cpu_sampling.hpp"

#include <fstream>
#include <string>
#include <vector>

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

namespace cb::gen {
namespace {

std::uint64_t ns_of(const timeval& t) {
    return (static_cast<std::uint64_t>(t.tv_sec) * 1000000ull + static_cast<std::uint64_t>(t.tv_usec)) * 1000ull;
}

}  // namespace

std::uint64_t cpu_ns(int who) {
    rusage ru{};
    ::getrusage(who, &ru);
    return ns_of(ru.ru_utime) + ns_of(ru.ru_stime);
}

bool steal_ns(std::uint64_t& out) {
    std::ifstream f("/proc/stat");
    std::string label;
    unsigned long long v[8] = {};
    if (!(f >> label) || label != "cpu") return false;
    for (auto& x : v)
        if (!(f >> x)) return false;
    const long hz = ::sysconf(_SC_CLK_TCK);
    if (hz <= 0) return false;
    out = v[7] * (1000000000ull / static_cast<unsigned long long>(hz));
    return true;
}

bool tree_cpu_ns(pid_t root, pid_t skip, std::uint64_t& out) {
    out = 0;
    std::vector<pid_t> todo{root};
    bool first = true;
    while (!todo.empty()) {
        const pid_t p = todo.back();
        todo.pop_back();
        clockid_t cid;
        timespec ts{};
        if (::clock_getcpuclockid(p, &cid) != 0 || ::clock_gettime(cid, &ts) != 0) {
            if (first) return false;
            continue;
        }
        first = false;
        out += static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
        const std::string task_dir = "/proc/" + std::to_string(p) + "/task";
        DIR* d = ::opendir(task_dir.c_str());
        if (!d) continue;
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::ifstream f(task_dir + "/" + e->d_name + "/children");
            for (long child; f >> child;)
                if (static_cast<pid_t>(child) != skip) todo.push_back(static_cast<pid_t>(child));
        }
        ::closedir(d);
    }
    return true;
}

void server_clock::start() { ok = pid > 0 && tree_cpu_ns(pid, ::getpid(), t0); }  // pid 0: no server to read

void server_clock::stop(wl::echo_phase& r) const {
    std::uint64_t t1 = 0;
    if (ok && tree_cpu_ns(pid, ::getpid(), t1) && t1 >= t0) {
        r.server_cpu_ns = t1 - t0;
        r.server_cpu_ok = true;
    }
}

}  // namespace cb::gen
