#include "output.hpp"

#include <fstream>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string_view>

#include <csignal>
#include <fcntl.h>
#include <re2/re2.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/machine.hpp"
#include "bench/supervise.hpp"
#include "runtimes/core/inject.hpp"

namespace cb {
namespace {

using json = nlohmann::json;

constexpr const char* allocator_policy =
    "glibc malloc; M_MMAP_THRESHOLD=32 MiB, M_TRIM_THRESHOLD=1 GiB: memory one run frees is reused by the next "
    "instead of being returned to the OS; idle_memory calls malloc_trim before its baseline";

const char* file_kind(mode_t m) {
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

std::string errno_text() { return std::strerror(errno); }

// SIGINT, SIGTERM and SIGHUP held back while the results are renamed into
// place, so that the rename happens entirely or, after a signal, not at all.
class signals_held {
public:
    signals_held() {
        sigset_t s;
        sigemptyset(&s);
        for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&s, sig);
        ::pthread_sigmask(SIG_BLOCK, &s, &old_);
    }
    ~signals_held() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    signals_held(const signals_held&) = delete;
    signals_held& operator=(const signals_held&) = delete;

private:
    sigset_t old_;
};

bool write_all(int fd, std::string_view text) {
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

// The stream's buffer: a plain write(2) per full buffer, so the errno of a
// failure is the kernel's, not whatever a library left in errno after it.
class checked_file::fd_buf : public std::streambuf {
public:
    explicit fd_buf(const std::string& path) {
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd_ < 0) err_ = errno;
        setp(buf_, buf_ + sizeof buf_);
    }
    ~fd_buf() override {
        if (fd_ >= 0) ::close(fd_);
    }
    int error() const noexcept { return err_; }
    int finish() {
        drain();
        if (fd_ >= 0) {
            // EINVAL: a file that cannot be synced (/dev/null), nothing lost.
            if (err_ == 0 && ::fsync(fd_) != 0 && errno != EINVAL) err_ = errno;
            if (::close(fd_) != 0 && err_ == 0 && errno != EINTR) err_ = errno;
            fd_ = -1;
        }
        return err_;
    }

protected:
    int_type overflow(int_type c) override {
        if (!drain()) return traits_type::eof();
        if (!traits_type::eq_int_type(c, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }
    int sync() override { return drain() ? 0 : -1; }

private:
    // Writes what is buffered; false once anything has failed (the rest is dropped).
    bool drain() {
        const std::string_view pending(pbase(), static_cast<std::size_t>(pptr() - pbase()));
        setp(buf_, buf_ + sizeof buf_);
        errno = 0;
        if (err_ == 0 && !write_all(fd_, pending)) err_ = errno ? errno : EIO;
        return err_ == 0;
    }

    int fd_ = -1, err_ = 0;
    char buf_[64 * 1024];
};

checked_file::checked_file(const std::string& path)
    : buf_(std::make_unique<fd_buf>(path)), os_(std::make_unique<std::ostream>(buf_.get())) {}

checked_file::~checked_file() = default;

std::ostream& checked_file::stream() { return *os_; }

int checked_file::error() const noexcept { return buf_->error(); }

int checked_file::close() {
    os_->flush();
    return buf_->finish();
}

int output_failed(const std::string& who, const std::string& path, int err) {
    std::fprintf(stderr, "cobench: %s: could not write family output '%s': %s\n", who.c_str(), path.c_str(),
                 errno_name(err).c_str());
    return err > 0 && err < output_errno_max ? output_errno_status + err : exit_failure;
}

output_target::output_target(std::string path) : path_(std::move(path)) {
    if (path_.empty()) throw bad_input("--out needs a file name");
    auto slash = path_.find_last_of('/');
    dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
    base_ = slash == std::string::npos ? path_ : path_.substr(slash + 1);
    if (base_.empty() || base_ == "." || base_ == "..")
        throw bad_input("--out '" + path_ + "' names a directory; give a file name, e.g. " + path_ +
                        (path_.back() == '/' ? "" : "/") + "latest.json");
    struct stat st{};
    if (::stat(dir_.c_str(), &st) != 0)
        throw bad_input("the output folder '" + dir_ + "' " +
                        (errno == ENOENT ? std::string("does not exist (create it first)") : "cannot be used: " + errno_text()));
    if (!S_ISDIR(st.st_mode)) throw bad_input("--out '" + path_ + "': '" + dir_ + "' is not a folder");
    if (::lstat(path_.c_str(), &st) == 0) {
        if (S_ISLNK(st.st_mode))
            throw bad_input("--out '" + path_ +
                            "' is a symbolic link; cobench does not write through links (one planted there could point "
                            "anywhere): give the path of the file itself");
        if (S_ISDIR(st.st_mode))
            throw bad_input("--out '" + path_ + "' is a directory; give a file name, e.g. " + path_ + "/latest.json");
        if (!S_ISREG(st.st_mode))
            throw bad_input("--out '" + path_ + "' exists and is " + file_kind(st.st_mode) +
                            "; cobench only ever replaces a regular file");
    } else if (errno != ENOENT) {
        throw bad_input("--out '" + path_ + "': " + errno_text());
    }
    std::string tmpl = dir_ + "/." + base_ + ".cobench-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw bad_input("cannot write to the output folder '" + dir_ + "': " + errno_text());
    work_ = tmpl;
}

output_target::~output_target() {
    std::error_code ec;
    std::filesystem::remove_all(work_, ec);  // removes links themselves, never what they point to
}

void output_target::commit(const std::string& text) {
    signals_held held;
    throw_if_interrupted();
    std::string tmp = dir_ + "/." + base_ + ".XXXXXX";
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) throw std::runtime_error("cannot create a temporary file in '" + dir_ + "': " + errno_text());
    const mode_t mask = ::umask(0);
    ::umask(mask);
    errno = 0;
    bool ok = ::fchmod(fd, 0666 & ~mask) == 0 && write_all(fd, text) && ::fsync(fd) == 0;
    int err = ok ? 0 : (errno ? errno : EIO);
    if (::close(fd) != 0 && err == 0 && errno != EINTR) err = errno;
    if (err != 0) {
        ::unlink(tmp.c_str());
        throw std::runtime_error("could not write the results to '" + dir_ + "': " + errno_name(err) + "; '" + path_ +
                                 "' left as it was");
    }
    // The target was checked before the run; it may have changed since.
    struct stat st{};
    if (::lstat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
        throw std::runtime_error("'" + path_ + "' became " + (S_ISLNK(st.st_mode) ? "a symbolic link" : file_kind(st.st_mode)) +
                                 " during the run; it was left alone, and the results are in '" + tmp + "'");
    if (::rename(tmp.c_str(), path_.c_str()) != 0)
        throw std::runtime_error("could not rename the results onto '" + path_ + "': " + errno_text() +
                                 "; they are in '" + tmp + "'");
    if (int d = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
        ::fsync(d);  // the rename itself survives a crash
        ::close(d);
    }
}

json context_json(const options& o, const json& base) {
    json c = base.is_object() ? base : json::object();
    c["cobench_schema"] = 2;
    c["cobench_profile"] = o.instructions ? "instructions" : std::string(profile_name(o.prof));
    for (auto& [k, v] : machine_context()) c[k] = v;
    c["injected_work"] = injected_work;
    c["allocator"] = allocator_policy;
    c["timing"] = "wall-clock of each run (manual time); state setup and verify outside the clock; one warm-up "
                  "run or more before timing, except memory probes";
    // Google Benchmark's load_avg is taken as the first family starts; this
    // is the same three numbers as the results are written, so a report can
    // tell a run that the machine's other work crowded.
    if (std::ifstream la("/proc/loadavg"); la) {
        double l1 = 0, l5 = 0, l15 = 0;
        if (la >> l1 >> l5 >> l15) c["load_avg_after"] = json::array({l1, l5, l15});
    }
    const json meta = results_metadata();
    if (meta.is_object())
        for (auto& [k, v] : meta.items()) c[k] = v;
    return c;
}

std::string without_non_finite(std::string text) {
    static const RE2 bad(R"(:\s*-?(nan|NaN|inf|Infinity)\b)");
    RE2::GlobalReplace(&text, bad, ": null");
    return text;
}

tally count_results(const json& doc) {
    tally t;
    std::map<std::string, std::pair<bool, bool>> by_name;  // succeeded, errored
    static const json none = json::array();
    auto list = [&](const char* key) -> const json& {
        auto it = doc.find(key);
        return it != doc.end() && it->is_array() ? *it : none;
    };
    for (const auto& b : list("benchmarks")) {
        if (!b.is_object()) continue;
        const std::string name = b.value("run_name", b.value("name", std::string("?")));
        auto& [ok, err] = by_name[name];
        if (b.value("error_occurred", false)) {
            err = true;
            if (t.first_error.empty()) t.first_error = name + ": " + b.value("error_message", std::string("error"));
        } else if (b.value("run_type", std::string("iteration")) == "iteration") {
            ok = true;
        }
    }
    for (auto& [name, s] : by_name) {
        if (s.second) ++t.errored;
        else if (s.first) ++t.succeeded;
    }
    for (const auto& f : list("families")) {
        if (!f.is_object() || f.value("status", std::string("ok")) == "ok") continue;
        ++t.failed_families;
        if (t.first_error.empty())
            t.first_error = f.value("runtime", std::string("?")) + ": " + f.value("status", std::string("?")) + ": " +
                            f.value("message", std::string());
    }
    return t;
}

int finish(output_target& target, const json& doc, const std::string& what) {
    const tally t = count_results(doc);
    std::string errors;
    if (t.errored > 0 || t.failed_families == 0)
        errors = std::to_string(t.errored) + " of " + std::to_string(t.errored + t.succeeded) + " benchmarks errored";
    if (t.failed_families > 0)
        errors += (errors.empty() ? "" : ", ") + std::to_string(t.failed_families) +
                  (t.failed_families == 1 ? " family" : " families") + " failed";
    if (!t.first_error.empty()) errors += " (first: " + t.first_error + ")";
    // Nothing ran because every selected pair was declared unable to run
    // (a runtime unavailable here, say): say why, not just "0 of 0".
    if (t.succeeded + t.errored == 0 && t.failed_families == 0 && doc.contains("declared") && !doc["declared"].empty()) {
        const json& d = doc["declared"][0];
        errors = "nothing ran: " + std::to_string(doc["declared"].size()) + " selected pairs are declared unable to run (first: " +
                 d.value("workload", std::string()) + "/" + d.value("runtime", std::string()) + ": " +
                 d.value("reason", std::string()) + ")";
    }
    if (t.succeeded == 0) {
        std::fprintf(stderr, "cobench: FAILED: no benchmark succeeded: %s; '%s' left as it was\n", errors.c_str(),
                     target.path().c_str());
        return exit_failure;
    }
    target.commit(doc.dump(1) + "\n");
    if (t.errored > 0 || t.failed_families > 0) {
        std::fprintf(stderr, "cobench: ERRORS: %s; wrote %s with the %zu that succeeded (%s)\n", errors.c_str(),
                     target.path().c_str(), t.succeeded, what.c_str());
        return exit_partial;
    }
    std::fprintf(stderr, "cobench: ok: all %zu benchmarks succeeded; wrote %s (%s)\n", t.succeeded,
                 target.path().c_str(), what.c_str());
    return exit_ok;
}

}  // namespace cb
