#include "memory.hpp"

#include <fstream>
#include <sstream>

#include <malloc.h>

namespace cb {

std::optional<double> proc_kb_field(const std::string& path, const std::string& key) {
    std::ifstream f(path);
    if (!f) return std::nullopt;
    std::string line;
    while (std::getline(f, line)) {
        if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
            std::istringstream is(line.substr(key.size() + 1));
            double kb = 0;
            if (is >> kb) return kb * 1024.0;
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::optional<mem_sample> process_memory(pid_t pid) {
    const std::string path = pid == 0 ? "/proc/self/smaps_rollup" : "/proc/" + std::to_string(pid) + "/smaps_rollup";
    auto rss = proc_kb_field(path, "Rss");
    auto pss = proc_kb_field(path, "Pss");
    if (!rss || !pss) return std::nullopt;
    return mem_sample{*rss, *pss, 0};
}

double kernel_memory() {
    return proc_kb_field("/proc/meminfo", "KernelStack").value_or(0) + proc_kb_field("/proc/meminfo", "PageTables").value_or(0);
}

double mem_available() { return proc_kb_field("/proc/meminfo", "MemAvailable").value_or(0); }

mem_sample sample_self() {
    mem_sample s = process_memory(0).value_or(mem_sample{});
    s.kernel = kernel_memory();
    return s;
}

mem_sample sample_processes(const std::vector<pid_t>& pids) {
    mem_sample s;
    for (pid_t p : pids) {
        if (auto m = process_memory(p)) {
            s.rss += m->rss;
            s.pss += m->pss;
        }
    }
    s.kernel = kernel_memory();
    return s;
}

void release_free_memory() { ::malloc_trim(0); }

}  // namespace cb
