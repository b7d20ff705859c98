#include "resume.hpp"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/machine.hpp"
#include "bench/supervise.hpp"
#include "runtimes/core/inject.hpp"
#include "runtimes/core/worker_group.hpp"

namespace cb {
namespace {

using json = nlohmann::json;

constexpr const char* manifest_name = "manifest.json";

std::string unit_name(const std::string& family) { return "family-" + family + ".json"; }

// Throws std::runtime_error (or json's parse_error) with what went wrong.
json read_json(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw std::runtime_error(errno_name(errno ? errno : ENOENT));
    return json::parse(std::string(std::istreambuf_iterator<char>(f), {}));
}

// A dirty tree's commit does not say which edits were built: the executable
// does. Hashing it reads the binary once per run (milliseconds).
std::string executable_hash() {
    std::ifstream f(self_exe(), std::ios::binary);
    std::ostringstream h;
    h << std::hex << std::hash<std::string>{}(std::string(std::istreambuf_iterator<char>(f), {}));
    return h.str();
}

// Everything that must match for kept families and new ones to be one run's
// results. The family timeout and --quiet-wait are left out: they change
// when a family is given up or starts, not what it measures.
json identity(const options& o) {
    json id = json::object();
    for (auto& [k, v] : machine_context())
        if (k == "git_commit" || k == "git_dirty" || k == "fingerprint" || k == "kernel" || k == "cpu_model" ||
            k == "cpu_count")
            id[k] = v;
    if (id.value("git_dirty", std::string()) != "false") id["executable"] = executable_hash();
    id["profile"] = std::string(profile_name(o.prof));
    id["runtimes"] = o.runtimes;
    id["filter"] = o.filter.pattern();
    id["repetitions"] = o.repetitions;
    id["workers"] = o.workers > 0 ? static_cast<std::size_t>(o.workers) : default_workers();
    id["memory_budget"] = o.memory_budget_arg.empty() ? std::string("default") : o.memory_budget_arg;
    id["benchmark_flags"] = o.gbench_flags;
    id["injected_work"] = injected_work;
    return id;
}

// "profile: \"full\" there, \"test\" here; git_commit: ..."
std::string differences(const json& there, const json& here) {
    std::string out;
    json keys = json::object();
    for (auto& [k, v] : there.items()) keys[k] = true;
    for (auto& [k, v] : here.items()) keys[k] = true;
    for (auto& [k, unused] : keys.items()) {
        const json a = there.value(k, json()), b = here.value(k, json());
        if (a != b) out += (out.empty() ? "" : "; ") + k + ": " + a.dump() + " there, " + b.dump() + " here";
    }
    return out;
}

std::size_t count_kept(const std::string& dir) {
    std::size_t n = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.rfind("family-", 0) == 0 && name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) ++n;
    }
    return n;
}

bool is_dir(const std::string& path, bool& exists) {
    struct stat st{};
    exists = ::lstat(path.c_str(), &st) == 0;
    return exists && S_ISDIR(st.st_mode);
}

}  // namespace

std::string resume_state_path(const std::string& out) { return out + ".resume"; }

resume_state::resume_state(const options& o, output_target& target)
    : target_(target), path_(resume_state_path(target.path())) {
    bool exists = false;
    const bool dir = is_dir(path_, exists);
    if (exists && !dir)
        throw bad_input("'" + path_ + "' is in the way of the folder where a run keeps its finished families for "
                        "--resume, and it is not one: move it away");
    manifest_ = {{"cobench_resume", 1}, {"command", o.command}, {"identity", identity(o)}};
    json old;
    if (exists) {
        try {
            old = read_json(path_ + "/" + manifest_name);
        } catch (const std::exception& e) {
            // cobench renames a state folder into place with its manifest in it.
            throw bad_input("'" + path_ + "' has no readable " + manifest_name + " (" + e.what() +
                            "), so cobench did not make it: move it away" +
                            (o.resume ? ", and run without --resume" : ""));
        }
    }
    if (!o.resume) {
        if (!exists) return;
        const std::size_t n = count_kept(path_);
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
        std::fprintf(stderr, "cobench: discarded '%s': the %zu finished %s of an interrupted run (--resume would have "
                     "kept %s)\n", path_.c_str(), n, n == 1 ? "family" : "families", n == 1 ? "it" : "them");
        if (ec) std::fprintf(stderr, "cobench: note: could not remove all of '%s': %s\n", path_.c_str(), ec.message().c_str());
        return;
    }
    const std::string over = "start over without --resume (that discards the kept families)";
    if (!exists)
        throw bad_input("--resume: there is no interrupted run to continue for --out '" + target.path() + "' (no '" +
                        path_ + "', where a run keeps its finished families until its results are written); " +
                        "run without --resume");
    const std::string diff = differences(old.value("identity", json::object()), manifest_["identity"]);
    if (old.value("cobench_resume", 0) != 1 || !diff.empty())
        throw bad_input("--resume: the families kept in '" + path_ + "' were measured by another build, on another "
                        "machine or with other options, so they cannot be merged with this run's: " +
                        (diff.empty() ? std::string("a state of another cobench version") : diff) +
                        ".\n  The interrupted run was: " + old.value("command", std::string("?")) +
                        "\n  Run that with --resume, or " + over);
    for (auto& fam : o.runtimes) {
        const std::string file = path_ + "/" + unit_name(fam);
        if (::access(file.c_str(), F_OK) != 0) continue;
        try {
            json u = read_json(file);
            if (u.at("runtime") != fam || !u.at("benchmarks").is_array() || !u.at("record").is_object())
                throw std::runtime_error("not a kept family of " + fam);
            kept_[fam] = std::move(u);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "cobench: note: '%s' cannot be read (%s); %s runs again\n", file.c_str(), e.what(),
                         fam.c_str());
        }
    }
    dir_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_ < 0)
        throw bad_input("--resume: cannot open '" + path_ + "': " + errno_name(errno) + "; " + over);
}

resume_state::~resume_state() {
    if (dir_ >= 0) ::close(dir_);
}

bool resume_state::restore(const std::string& family, std::size_t k, std::size_t n, json& benchmarks, json& context,
                           json& families) {
    auto it = kept_.find(family);
    if (it == kept_.end()) return false;
    const json& u = *it;
    for (auto& b : u["benchmarks"]) benchmarks.push_back(b);
    if (context.is_null() && u.contains("context") && !u["context"].is_null()) context = u["context"];
    families.push_back(u["record"]);
    std::fprintf(stderr, "cobench: [%zu/%zu] %s: kept from the interrupted run, %zu entries (%s)\n", k, n,
                 family.c_str(), u["benchmarks"].size(), path_.c_str());
    return true;
}

bool resume_state::write(const std::string& name, const json& j) {
    // checked_file opens by path: the folder's descriptor names it, so a
    // folder renamed or replaced meanwhile (by another run with the same
    // --out) is never written through its old name.
    const std::string part = name + ".part";
    checked_file f("/proc/self/fd/" + std::to_string(dir_) + "/" + part);
    f.stream() << j.dump() << '\n';
    int err = f.close();
    if (err == 0 && ::renameat(dir_, part.c_str(), dir_, name.c_str()) != 0) err = errno;
    if (err == 0 && ::fsync(dir_) != 0) err = errno;  // the rename itself survives a crash
    if (err == 0) return true;
    ::unlinkat(dir_, part.c_str(), 0);
    errno = err;
    return false;
}

void resume_state::keep(const json& record, const json& benchmarks, std::size_t first, const json& own_context) {
    if (record.value("status", std::string()) != "ok") {
        failed_family_ = true;  // not kept: a resume runs it again
        return;
    }
    if (disabled_) return;
    const std::string fam = record.value("runtime", std::string());
    json entries = json::array();
    for (std::size_t i = first; i < benchmarks.size(); ++i) entries.push_back(benchmarks[i]);
    const json unit{{"runtime", fam}, {"record", record}, {"context", own_context}, {"benchmarks", entries}};
    const auto say = [&](const std::string& where, int err) {
        std::fprintf(stderr, "cobench: note: could not keep %s in '%s' for --resume: %s; the run goes on\n",
                     fam.c_str(), where.c_str(), errno_name(err).c_str());
    };
    if (dir_ >= 0) {
        if (!write(unit_name(fam), unit)) say(path_, errno);
        return;
    }
    // The first family: the folder is made whole in the run's work folder
    // (same filesystem), then renamed into place.
    const std::string made = target_.scratch("resume");
    int err = 0;
    if (::mkdir(made.c_str(), 0777) != 0) err = errno;
    if (err == 0 && (dir_ = ::open(made.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) err = errno;
    if (err == 0 && (!write(manifest_name, manifest_) || !write(unit_name(fam), unit))) err = errno;
    if (err == 0 && ::rename(made.c_str(), path_.c_str()) != 0) err = errno;
    if (err == 0) {
        const auto slash = path_.find_last_of('/');
        const std::string parent = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
        if (int d = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
            ::fsync(d);
            ::close(d);
        }
        return;
    }
    if (err == EEXIST || err == ENOTEMPTY)
        std::fprintf(stderr, "cobench: note: another run with the same --out keeps its finished families in '%s'; "
                     "this run keeps none for --resume\n", path_.c_str());
    else
        say(made, err);
    disabled_ = true;
    if (dir_ >= 0) ::close(dir_);
    dir_ = -1;
}

void resume_state::done() {
    if (dir_ < 0 || failed_family_) return;
    // Only the folder this run made or continued: another run with the same
    // --out may have replaced it since.
    struct stat mine{}, there{};
    if (::fstat(dir_, &mine) == 0 && ::lstat(path_.c_str(), &there) == 0 && mine.st_dev == there.st_dev &&
        mine.st_ino == there.st_ino) {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
}

void say_how_to_resume(const options& o) {
    const std::string path = resume_state_path(o.out);
    bool exists = false;
    if (o.instructions || !is_dir(path, exists) || ::access((path + "/" + manifest_name).c_str(), F_OK) != 0) return;
    const std::size_t n = count_kept(path);
    std::fprintf(stderr, "cobench: %zu finished %s kept in '%s'; to continue this run: %s%s\n", n,
                 n == 1 ? "family is" : "families are", path.c_str(), o.command.c_str(), o.resume ? "" : " --resume");
}

}  // namespace cb
