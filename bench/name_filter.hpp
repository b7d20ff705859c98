// Benchmark-name filters: RE2 patterns, matched anywhere in the name (like
// std::regex_search), in time linear in the name. std::regex backtracks, so a
// pattern such as '(.|.)*zzz' could hang a run; RE2 cannot.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace cb {

class name_filter {
public:
    // The empty pattern matches every name. Throws std::invalid_argument with
    // RE2's own message for a pattern it cannot compile.
    explicit name_filter(std::string pattern = {});

    bool matches(std::string_view name) const;
    const std::string& pattern() const { return pattern_; }
    bool empty() const { return pattern_.empty(); }

private:
    std::string pattern_;
    std::shared_ptr<const re2::RE2> re_;  // null when empty; shared: copies are cheap
};

// A pattern that matches exactly these names and no other: anchored
// literal alternatives, read the same by RE2 and by Python's re (a child
// program given the names a run selected).
std::string exact_names_pattern(const std::vector<std::string>& names);

}  // namespace cb
