// CPU pinning, for run_options::cpus: each runtime pins its tasks, workers or
// only thread with these, and puts the caller's mask back after a run.
#pragma once

namespace cb {

// Pins the calling thread to one CPU; throws (errno) if the kernel refuses.
void pin_this_thread(int cpu);

// A thread's CPU mask, saved to be put back later.
class cpu_mask {
public:
    static cpu_mask of_this_thread();
    void apply_to_this_thread() const;

private:
    alignas(8) unsigned char bytes_[128] = {};
    bool valid_ = false;
};

// Restores the calling thread's CPU mask when it leaves scope.
class affinity_guard {
public:
    affinity_guard() : saved_(cpu_mask::of_this_thread()) {}
    ~affinity_guard() { saved_.apply_to_this_thread(); }
    affinity_guard(const affinity_guard&) = delete;
    affinity_guard& operator=(const affinity_guard&) = delete;

private:
    cpu_mask saved_;
};

}  // namespace cb
